import csv
import io
import re
from datetime import date, timedelta

import pytest

from analytics.models import DailyMetrics, RfmRun, RfmScore
from analytics.reports import reports_refresh
from analytics.rfm import rfm_nightly
from analytics.selectors import local_today
from members.models import Channel
from tests.factories import CouponFactory, CouponTemplateFactory, MemberFactory, OrderFactory
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
    assert compare["purchases"]["now"] == 10 and compare["purchases"]["before"] == 0
    assert response.context["chart_json"]["days"][-1] == local_today().isoformat()


def test_the_dashboard_filters_by_date_range_and_refuses_a_reversed_one(admin_client, data):
    today = local_today()
    response = admin_client.get(DASHBOARD, {"start": today - timedelta(days=5), "end": today})
    compare = {row["key"]: row for row in response.context["compare"]}
    assert compare["purchases"]["now"] == 4 and len(response.context["chart_json"]["days"]) == 6
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
    total = sum(int(r[rows[0].index("sales_fen")]) for r in rows[1:])
    assert total == sum(
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
    assert rows[0] == ["kind", "channel", "code", "count"]
    assert ["registration", "小程序自然流量", "mini_program", "4"] in rows
