"""The back office in a real browser: Debian's chromium driven by Playwright against a live server.

Log in, create a recharge plan, run a bulk coupon issue and watch its progress
bar reach 100 %, then recompute the analytics reports and check every chart of
the dashboard drew its points.  Screenshots of each step go to
``test-artefacts/browser/`` (gitignored).  No browser is downloaded: Playwright drives /usr/bin/chromium,
which ``make test`` installs from Debian when it is missing.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from analytics.rfm import rfm_nightly
from coupons.models import BulkIssue, Coupon, CouponTemplate
from points.ledger import points_earn, points_spend
from stored_value.models import RechargePlan
from tests.analytics.helpers import registered
from tests.browser.helpers import ARTEFACTS, log_in, on_screen, shot
from tests.factories import CouponTemplateFactory, MemberFactory, OrderFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("many-connections"),
]


def analytics_history(members) -> dict:
    """Sign-ups, purchases and points over the last 85 days (inside the dashboard's default 90),
    so every chart has real points; returns the totals the charts must add up to."""
    rng = random.Random(10)
    now = timezone.now()
    paid_fen = 0
    for i, member in enumerate(members):
        registered(member, now - timedelta(days=rng.randint(1, 85)))
        for _ in range(1 + i % 4):
            fen = rng.choice([3_900, 12_800, 25_900, 45_800])
            OrderFactory(
                member=member,
                at=now - timedelta(days=rng.randint(1, 85), hours=rng.randint(0, 12)),
                cash_fen=fen,
            )
            paid_fen += fen
    earned = 0
    for day in range(2, 85, 3):
        member_id, amount = members[day % len(members)].pk, rng.randint(10, 80) * 10
        # The ledger stamps its own time (and is append-only), so the clock moves instead.
        with time_machine.travel(now - timedelta(days=day)):
            points_earn(
                member_id=member_id, amount=amount, idempotency_key=f"e{day}", source="t", expires_at=None
            )
            if day % 2:
                points_spend(member_id=member_id, amount=amount // 2, idempotency_key=f"s{day}", source="t")
        earned += amount
    rfm_nightly()  # the segment table beside the charts
    return {"sales": paid_fen / 100, "new_members": len(members), "points_earned": earned}


CHARTS = ["c-sales", "c-repurchase", "c-cohort", "c-points", "c-members"]

# Per chart: its data, the elements Chart.js laid out, and how many pixels of the canvas carry a
# dataset's colour (axes, grid and labels are grey, so a chart whose datasets drew nothing has none).
CHART_STATE = """ids => ids.map(id => {
  const chart = Chart.getChart(id);
  const {width, height} = chart.canvas;
  const px = chart.ctx.getImageData(0, 0, width, height).data;
  let coloured = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (px[i + 3] > 0 && Math.max(px[i], px[i + 1], px[i + 2]) - Math.min(px[i], px[i + 1], px[i + 2]) > 40) coloured++;
  }
  return {
    id: id,
    data: chart.data.datasets.map(s => s.data),
    elements: chart.data.datasets.map((s, i) => chart.getDatasetMeta(i).data.length),
    labels: chart.data.labels.length,
    coloured: coloured,
  };
})"""


def drawn_charts(page) -> dict:
    page.wait_for_function(
        "ids => ids.every(id => { const c = window.Chart && Chart.getChart(id);"
        " return c && c.chartArea && c.chartArea.width > 0; })",
        arg=CHARTS,
    )
    return {c["id"]: c for c in page.evaluate(CHART_STATE, CHARTS)}


def open_the_dashboard(page, base, expected):
    page.goto(f"{base}/admin/analytics/dailymetrics/")
    # The dashboard reads the report tables, empty until the nightly job (or this button) fills them.
    assert sum(drawn_charts(page)["c-sales"]["data"][0]) == 0
    refresh = page.locator("form[action$='/refresh/'] button[type=submit]")
    on_screen(page, "dashboard", refresh)
    refresh.click()
    page.wait_for_selector(".messagelist .success")
    charts = drawn_charts(page)
    shot(page, "06-dashboard")
    for chart in charts.values():
        assert chart["labels"] > 0 and all(n == chart["labels"] for n in chart["elements"]), chart["id"]
        assert any(v for values in chart["data"] for v in values), chart["id"]
        assert chart["coloured"] > 500, chart["id"]
    assert charts["c-sales"]["labels"] == 90  # the default range
    assert sum(charts["c-sales"]["data"][0]) == pytest.approx(expected["sales"])
    assert sum(charts["c-members"]["data"][0]) == expected["new_members"]
    assert sum(charts["c-points"]["data"][0]) == expected["points_earned"]
    assert page.locator("a[href*='rfmscore/?segment__exact=']").count() > 0


def test_an_operator_creates_a_recharge_plan_watches_a_bulk_issue_finish_and_reads_the_charts(
    page, live_server
):
    base = live_server.url
    members = [MemberFactory() for _ in range(25)]
    expected = analytics_history(members)
    coupon_template = CouponTemplateFactory(name="会员日满100减20", total_stock=1000)
    log_in(page, base)
    assert "/admin/login/" not in page.url

    page.goto(f"{base}/admin/stored_value/rechargeplan/add/")
    page.fill("#id_name", "充1500送150")
    page.fill("#id_tiers-0-pay_fen", "1,500")  # typed in yuan, stored in fen
    page.fill("#id_tiers-0-bonus_fen", "150.00")
    shot(page, "02-recharge-plan-form")
    on_screen(page, "recharge-plan-form", page.locator("button[name=_save]"))
    page.click("button[name=_save]")
    page.wait_for_selector(".messagelist .success")
    shot(page, "03-recharge-plan-saved")
    plan = RechargePlan.objects.get(name="充1500送150")
    assert list(plan.tiers.values_list("pay_fen", "bonus_fen")) == [(150_000, 15_000)]

    page.goto(f"{base}/admin/coupons/coupontemplate/{coupon_template.pk}/bulk-issue/")
    page.check("#id_everyone")
    shot(page, "04-bulk-issue-form")
    on_screen(page, "bulk-issue-form", page.locator("#content-main form button[type=submit]"))
    page.click("#content-main form button[type=submit]")
    page.wait_for_selector("#bulk-bar")
    page.wait_for_function(
        "() => { const bar = document.getElementById('bulk-bar');"
        " return bar && Number(bar.value) >= Number(bar.max) && Number(bar.max) > 0; }",
        timeout=60_000,
    )
    shot(page, "05-bulk-issue-done")

    bulk = BulkIssue.objects.get()
    assert (bulk.total, bulk.processed, bulk.issued) == (len(members), len(members), len(members))
    assert page.inner_text("#bulk-processed") == str(len(members))
    # What each member got, by reason, on the page (before the CSV), and the status as a label, never its code.
    page.wait_for_function(
        "() => document.getElementById('bulk-status').textContent === '已完成'", timeout=10_000
    )
    assert page.inner_text("#bulk-results tr[data-result='issued'] .bulk-count") == str(len(members))
    assert page.inner_text("#bulk-results tr[data-result='limit'] .bulk-count") == "0"
    assert Coupon.objects.filter(template=coupon_template).count() == len(members)
    assert (ARTEFACTS / "05-bulk-issue-done.png").stat().st_size > 0

    open_the_dashboard(page, base, expected)
    assert (ARTEFACTS / "06-dashboard.png").stat().st_size > 0


def test_an_operator_types_coupon_amounts_in_yuan_and_sees_what_a_discount_pays(page, live_server):
    base = live_server.url
    log_in(page, base)

    page.goto(f"{base}/admin/coupons/coupontemplate/add/")
    page.fill("#id_name", "满100减20")
    page.select_option("#id_kind", "amount_off")
    page.fill("#id_threshold_fen", "100")
    page.fill("#id_amount_off_fen", "20")
    page.fill("#id_valid_days", "7")
    page.fill("#id_total_stock", "1000")
    shot(page, "07-coupon-in-yuan")
    page.click("button[name=_save]")
    page.wait_for_selector(".messagelist .success")
    assert "满¥100.00减¥20.00" in page.inner_text("#result_list")

    page.goto(f"{base}/admin/coupons/coupontemplate/add/")
    preview = page.locator(".field-percent_off .zhe-preview")
    page.fill("#id_name", "全场8.8折")
    page.select_option("#id_kind", "percent_off")
    page.fill("#id_percent_off", "8.85")
    assert preview.inner_text() == "请输入折数，例如 8.8"  # a percent holds one decimal of 折
    page.fill("#id_percent_off", "8.8")
    assert preview.inner_text() == "¥100 的订单实付 ¥88.00"  # live, before saving
    page.fill("#id_total_stock", "500")
    shot(page, "08-coupon-zhe-preview")
    page.click("button[name=_save]")
    page.wait_for_selector(".messagelist .success")

    assert list(
        CouponTemplate.objects.order_by("pk").values_list("threshold_fen", "amount_off_fen", "percent_off")
    ) == [
        (10_000, 2_000, 0),
        (0, 0, 12),
    ]
