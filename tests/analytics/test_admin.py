import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from analytics.models import DailyMetrics, RfmRun, RfmScore
from analytics.reports import reports_refresh
from analytics.rfm import rfm_nightly
from analytics.selectors import local_today
from members.models import Channel
from tests.factories import CardTypeFactory, CouponFactory, CouponTemplateFactory, MemberFactory, OrderFactory
from tests.helpers import page_text

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/analytics/dailymetrics/"


@pytest.fixture
def data():
    from django.utils import timezone

    members = [MemberFactory() for _ in range(4)]
    for i, m in enumerate(members):
        for k in range(i + 1):
            OrderFactory(member=m, at=timezone.now() - timedelta(days=3 + 7 * k), cash_fen=16_500 * (i + 1))
    CouponFactory(template=CouponTemplateFactory(total_stock=5), member=members[0])
    today = local_today()
    reports_refresh(start=today - timedelta(days=120), end=today)
    rfm_nightly()
    return members


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_the_dashboard_shows_the_period_against_the_previous_one_with_yuan_amounts(admin_client, data):
    response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    # The chart library is served from our static files, never from another host (a CSRF token may
    # well contain "cdn", so look at what is loaded, not at the text).
    assert "analytics/chart.umd.min.js" in html and not re.search(r'(src|href)="(https?:)?//', html)
    compare = {row["key"]: row for row in response.context["compare"]}
    assert compare["sales_fen"]["now"] == "¥4,950.00"  # 1×165 + 2×330 + 3×495 + 4×660 yuan
    assert compare["purchases"]["now"] == "10" and compare["purchases"]["before"] == "0"
    assert response.context["chart_json"]["days"][-1] == local_today().isoformat()


def test_the_dashboard_filters_by_date_range_and_refuses_a_reversed_one(admin_client, data):
    today = local_today()
    response = admin_client.get(DASHBOARD, {"start": today - timedelta(days=5), "end": today})
    compare = {row["key"]: row for row in response.context["compare"]}
    assert compare["purchases"]["now"] == "4" and len(response.context["chart_json"]["days"]) == 6
    reversed_range = admin_client.get(DASHBOARD, {"start": today, "end": today - timedelta(days=5)})
    assert reversed_range.status_code == 200 and reversed_range.context["form"].errors


def test_the_dashboard_reads_only_the_report_tables(admin_client, data, django_assert_max_num_queries):
    with django_assert_max_num_queries(30):
        admin_client.get(DASHBOARD)


@pytest.mark.parametrize(
    "report", ["daily", "monthly", "attribution", "coupons", "uplift", "liabilities", "rfm"]
)
def test_every_report_exports_as_csv(admin_client, data, report):
    today = local_today()
    response = admin_client.get(
        DASHBOARD, {"start": today - timedelta(days=30), "end": today, "export": report}
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = read_csv(response)
    assert rows[0] and len(rows) >= 2


def test_the_daily_csv_has_the_same_figures_as_the_table(admin_client, data):
    today = local_today()
    rows = read_csv(
        admin_client.get(DASHBOARD, {"start": today - timedelta(days=30), "end": today, "export": "daily"})
    )
    total = sum(Decimal(r[rows[0].index("净实付（元）")]) for r in rows[1:])
    assert total * 100 == sum(
        DailyMetrics.objects.filter(day__gte=today - timedelta(days=30)).values_list("sales_fen", flat=True)
    )


def test_an_operator_starts_an_rfm_run_and_follows_its_progress(
    admin_client, data, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/analytics/rfmrun/start/")
    run = RfmRun.objects.order_by("-id").first()
    assert response.status_code == 302 and response.url.endswith(f"/{run.pk}/change/")
    progress = admin_client.get(f"/admin/analytics/rfmrun/{run.pk}/progress.json").json()
    assert progress == {
        "status": "done",
        "status_display": "已完成",  # what the page shows while it polls, never the code
        "steps_done": 2,
        "steps_total": 2,
        "members_scored": 4,
    }
    page = admin_client.get(response.url)
    assert page.status_code == 200
    assert "分位切点" in page.content.decode() and "monetary_fen" not in page.content.decode()  # not JSON


def test_the_refresh_button_recomputes_the_range(admin_client, data):
    today = local_today()
    DailyMetrics.objects.filter(day=today - timedelta(days=3)).update(sales_fen=1)
    response = admin_client.post(
        "/admin/analytics/dailymetrics/refresh/", {"start": today - timedelta(days=7), "end": today}
    )
    assert response.status_code == 302
    assert DailyMetrics.objects.get(day=today - timedelta(days=3)).sales_fen == 16_500 * (1 + 2 + 3 + 4)


def test_the_member_portrait_shows_rfm_purchases_and_is_linked_from_the_overview(admin_client, data):
    member = data[3]
    response = admin_client.get(f"/admin/analytics/dailymetrics/portrait/{member.pk}/")
    assert response.status_code == 200
    assert response.context["score"] == RfmScore.objects.get(member=member)
    assert len(response.context["purchases"]) == 4 and response.context["purchases"][0]["paid"] == "¥660.00"
    overview = admin_client.get(f"/admin/members/member/{member.pk}/overview/")
    assert f"/admin/analytics/dailymetrics/portrait/{member.pk}/" in overview.content.decode()
    assert admin_client.get("/admin/analytics/dailymetrics/portrait/999999/").status_code == 404


def test_staff_without_the_permissions_see_nothing_and_start_nothing(client, django_user_model, data):
    user = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(user)
    runs = RfmRun.objects.count()
    assert client.get(DASHBOARD).status_code == 403
    assert client.post("/admin/analytics/rfmrun/start/").status_code == 403
    assert client.get(f"/admin/analytics/dailymetrics/portrait/{data[0].pk}/").status_code == 403
    assert client.post("/admin/analytics/segment/preview/", {"rules": "{}"}).status_code == 403
    assert RfmRun.objects.count() == runs


def test_the_dashboard_of_an_empty_shop_renders(admin_client):
    response = admin_client.get(DASHBOARD, {"start": date(2026, 1, 1), "end": date(2026, 1, 31)})
    assert response.status_code == 200 and response.context["monthly"] == []


def test_the_attribution_reads_channels_by_their_names(admin_client, data):
    Channel.objects.create(code="mini_program", name="小程序自然流量", kind=Channel.Kind.ORGANIC)
    today = local_today()

    text = page_text(admin_client.get(DASHBOARD))
    rows = read_csv(
        admin_client.get(
            DASHBOARD, {"start": today - timedelta(days=30), "end": today, "export": "attribution"}
        )
    )

    assert "小程序自然流量" in text and "mini_program" not in text
    assert rows[0] == ["类型", "渠道", "渠道代码", "数量"]
    assert ["注册渠道", "小程序自然流量", "mini_program", "4"] in rows


def test_card_claims_name_staff_by_their_number_on_the_dashboard_and_in_the_csv(
    admin_client, admin_user, data
):
    from membership.cards import card_grant
    from membership.models import MembershipCard

    card = card_grant(
        member_id=data[0].pk, card_type_id=CardTypeFactory().pk, actor_id=admin_user.pk, reason="t"
    )
    MembershipCard.objects.filter(pk=card.pk).update(staff="s001")
    today = local_today()
    reports_refresh(start=today, end=today)

    text = page_text(admin_client.get(DASHBOARD))
    rows = read_csv(
        admin_client.get(
            DASHBOARD, {"start": today - timedelta(days=30), "end": today, "export": "attribution"}
        )
    )

    assert "员工编号 s001" in text and "员工: s001" not in text
    assert ["领卡员工", "员工编号 s001", "s001", "1"] in rows
    assert ["领卡渠道", "未标注渠道", "", "1"] in rows  # a claim by no channel reads as the dashboard says it


# --- i21 deliverable 7: analytics you can trust --------------------------------------------------


def test_the_date_inputs_carry_iso_values_the_browser_accepts(admin_client, data):
    html = admin_client.get(DASHBOARD, {"start": "2026-09-07", "end": "2026-09-30"}).content.decode()
    assert re.search(r'<input type="date" name="start" value="2026-09-07"', html)
    assert re.search(r'<input type="date" name="end" value="2026-09-30"', html)
    assert "2026/09/07" not in html
    liability = admin_client.get("/admin/stored_value/storedvalueaccount/liability/").content.decode()
    today = local_today().isoformat()
    assert re.search(rf'<input type="date" name="end" value="{today}"', liability)


@pytest.mark.parametrize(
    "period", ["today", "last_7_days", "last_30_days", "last_90_days", "this_month", "last_month"]
)
def test_a_preset_link_shows_its_range_in_the_merchants_time_zone(admin_client, data, period):
    from analytics.periods import preset_range

    start, end = preset_range(period, today=local_today())
    response = admin_client.get(DASHBOARD, {"period": period})
    assert (response.context["start"], response.context["end"]) == (start, end)
    assert [p["key"] for p in response.context["presets"] if p["active"]] == [period]
    html = response.content.decode()
    assert f'href="?period={period}"' in html and f'value="{start.isoformat()}"' in html


def test_a_chosen_range_is_custom_and_the_presets_read_in_chinese(admin_client, data):
    today = local_today()
    response = admin_client.get(
        DASHBOARD, {"start": today - timedelta(days=40), "end": today - timedelta(days=2)}
    )
    assert response.context["custom_active"] and not any(p["active"] for p in response.context["presets"])
    text = page_text(response)
    for label in ("今天", "近7天", "近30天", "近90天", "本月", "上月", "自定义"):
        assert label in text


def test_the_dashboard_opens_on_its_default_preset_the_last_90_days(admin_client, data):
    response = admin_client.get(DASHBOARD)
    assert [p["key"] for p in response.context["presets"] if p["active"]] == ["last_90_days"]
    assert not response.context["custom_active"]


def test_csv_files_have_chinese_names_headers_and_links(admin_client, data):
    from urllib.parse import quote

    today = local_today()
    start = today - timedelta(days=30)
    response = admin_client.get(DASHBOARD, {"start": start, "end": today, "export": "daily"})
    disposition = response["Content-Disposition"]
    assert f"filename*=UTF-8''{quote(f'每日数据_{start}_{today}.csv')}" in disposition
    assert 'filename="' in disposition  # an ASCII fallback for old clients
    header = read_csv(response)[0]
    assert header[:4] == ["日期", "消费笔数", "购买人数", "净实付（元）"] and all(header)
    assert not any(re.fullmatch(r"[a-z_]+", h) for h in header)
    text = page_text(admin_client.get(DASHBOARD))
    assert "每日数据" in text and "渠道归因" in text and "daily · monthly" not in text


@pytest.mark.parametrize(
    "report", ["daily", "monthly", "attribution", "coupons", "uplift", "liabilities", "rfm"]
)
def test_every_csv_column_has_a_chinese_header(admin_client, data, report):
    today = local_today()
    rows = read_csv(
        admin_client.get(DASHBOARD, {"start": today - timedelta(days=30), "end": today, "export": report})
    )
    assert all(rows[0]) and not any(re.fullmatch(r"[a-z_0-9]+", h) for h in rows[0])
    assert all(len(r) == len(rows[0]) for r in rows)


def test_every_dashboard_table_column_has_a_header(admin_client, data):
    html = admin_client.get(DASHBOARD).content.decode()
    assert "<th></th>" not in html
    for table in re.findall(r"<table.*?</table>", html, re.S):
        assert "<thead>" in table, table[:200]
        heads = re.findall(r"<th[^>]*>(.*?)</th>", table.split("</thead>")[0], re.S)
        first_row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", table, re.S)
        if first_row and "colspan" not in first_row.group(1):
            assert len(re.findall(r"<td", first_row.group(1))) == len(heads)
        assert all(h.strip() for h in heads)


def test_large_numbers_have_separators_and_money_a_yuan_sign(admin_client, data):
    today = local_today()
    DailyMetrics.objects.filter(day=today - timedelta(days=3)).update(
        purchases=12_345, points_earned=1_234_567
    )
    response = admin_client.get(DASHBOARD)
    compare = {r["key"]: r for r in response.context["compare"]}
    assert compare["purchases"]["now"] == "12,351"  # 12,345 and the 6 other purchases
    assert compare["points_earned"]["now"].count(",") == 2 and compare["sales_fen"]["now"].startswith("¥")
    assert "12,351" in page_text(response)


def test_a_missing_figure_says_why_and_never_reads_dash_percent(admin_client, data):
    html = admin_client.get(DASHBOARD).content.decode()
    assert "—%" not in html and ">—<" not in html
    # The previous period had nothing: the change says so, in the cell and in its tooltip.
    assert 'title="上期为 0，无法计算变化"' in html
    empty = admin_client.get(DASHBOARD, {"start": date(2026, 1, 1), "end": date(2026, 1, 31)})
    text = page_text(empty)
    assert "本期无数据" in text and "—" not in text.replace("2026-01-01 – 2026-01-31", "")


def test_the_overview_and_the_portrait_count_the_same_purchases(admin_client):
    from django.utils import timezone

    member = MemberFactory()
    at = timezone.now() - timedelta(days=2)
    OrderFactory(member=member, at=at, cash_fen=10_000)  # completed: counts, ¥100
    OrderFactory(member=member, at=at, cash_fen=8_000, stored_value_fen=2_000, refunded_fen=3_000)  # ¥70
    OrderFactory(member=member, at=at, cash_fen=5_000, refunded_fen=5_000)  # refunded in full: not a purchase
    OrderFactory(member=member, at=at, cash_fen=9_000, status="cancelled")  # never completed
    OrderFactory(
        member=member, at=at, cash_fen=1_500, goods_fen=500, shipping_fen=1_000, shipping_cash_fen=1_000
    )  # the shipping paid counts too

    portrait = admin_client.get(f"/admin/analytics/dailymetrics/portrait/{member.pk}/")
    overview = admin_client.get(f"/admin/members/member/{member.pk}/overview/")

    expected = {"purchases": 3, "paid_fen": 18_500}
    assert {k: portrait.context["purchase_totals"][k] for k in expected} == expected
    assert {k: overview.context["purchase_totals"][k] for k in expected} == expected
    assert sum(p["paid_fen"] for p in portrait.context["purchases"] if p["counts"]) == 18_500
    for page in (portrait, overview):
        text = page_text(page)
        assert "¥185.00" in text and "消费笔数" in text


def test_the_rfm_run_page_shows_one_status_from_one_row(admin_client, data):
    run = RfmRun.objects.create(as_of=data[0].registered_at, window_days=365)
    page = admin_client.get(f"/admin/analytics/rfmrun/{run.pk}/change/")
    text = page_text(page)
    assert text.count("排队中") == 1 and not re.search("已完成(?!步骤)", text)
    assert "—" not in text.split("分位切点")[1][:20]  # not computed yet, and it says so
    assert not {"status", "steps_done", "steps_total", "members_scored"} & set(
        page.context["adminform"].form.fields
    )
    html = page.content.decode()
    assert 'data-status="queued"' in html and "location.reload()" in html
    RfmRun.objects.filter(pk=run.pk).update(status="done", steps_done=2, members_scored=4)
    text = page_text(admin_client.get(f"/admin/analytics/rfmrun/{run.pk}/change/"))
    assert len(re.findall("已完成(?!步骤)", text)) == 1 and "排队中" not in text
