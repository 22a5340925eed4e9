"""Operator forms in a real browser (Debian's chromium, 1366×768): the segment builder with its live
count, and forms that show only the fields of the chosen kind.  Screenshots go to
``test-artefacts/browser/`` beside the journey's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import Segment
from coupons.models import CouponTemplate
from membership.models import Tier
from points.ledger import points_earn
from stored_value.models import RechargePlan
from tests.browser.helpers import log_in, on_screen, shot
from tests.factories import MemberFactory, OrderFactory
from tests.membership.helpers import standard_tiers

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("many-connections"),
]


@pytest.fixture
def viewport() -> dict:
    return {"width": 1366, "height": 768}


def shoppers() -> None:
    """Two bought in the last 90 days, three hold 1,000 points or more: one of them did both."""
    now = timezone.now()
    both, recent_only, points_only, old_buyer = (MemberFactory() for _ in range(4))
    OrderFactory(member=both, at=now - timedelta(days=10))
    OrderFactory(member=recent_only, at=now - timedelta(days=80))
    OrderFactory(member=old_buyer, at=now - timedelta(days=200))
    for i, (member, amount) in enumerate(
        ((both, 1_500), (points_only, 1_000), (old_buyer, 5_000), (recent_only, 999))
    ):
        points_earn(member_id=member.pk, amount=amount, idempotency_key=f"p{i}", source="t", expires_at=None)


def count_is(page, n: int) -> None:
    page.wait_for_selector(f".sb[data-count='{n}']")
    assert page.inner_text(".sb-count-value") == str(n)


def test_an_operator_builds_bought_in_the_last_90_days_and_points_at_least_1000_and_sees_the_count(
    page, live_server
):
    shoppers()
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/analytics/segment/add/")
    page.fill("#id_name", "近90天消费且积分≥1000")
    assert "添加条件后即可看到人数" in page.inner_text(".sb-count")

    page.click(".sb-add-condition")  # the first condition offered: bought in the last N days
    first = page.locator(".sb-cond").nth(0)
    first.locator(".sb-field").select_option("last_purchase_within_days")
    first.locator(".sb-days").fill("90")
    count_is(page, 2)

    page.click(".sb-add-condition")
    second = page.locator(".sb-cond").nth(1)
    second.locator(".sb-field").select_option("points_balance")
    second.locator(".sb-op").select_option("min")  # 不少于
    second.locator(".sb-min").fill("1,000")
    count_is(page, 1)
    shot(page, "10-segment-builder-and")

    page.locator(".sb-group-op").first.select_option("or")  # either condition: the count follows
    count_is(page, 4)
    page.locator(".sb-group-op").first.select_option("and")
    count_is(page, 1)
    on_screen(page, "segment-builder", page.locator(".sb-add-condition"), page.locator("[name=_save]"))

    page.click("[name=_save]")
    page.wait_for_selector(".messagelist .success, #result_list")
    segment = Segment.objects.get()
    assert segment.rules == {
        "op": "and",
        "conditions": [
            {"field": "last_purchase_within_days", "value": 90},
            {"field": "points_balance", "value": {"min": 1000}},
        ],
    }

    page.goto(f"{live_server.url}/admin/analytics/segment/{segment.pk}/change/")  # drawn again from the tree
    count_is(page, 1)
    assert page.locator(".sb-cond").count() == 2 and page.locator(".sb-min").input_value() == "1000"
    page.locator(".sb-min").fill("0..5")
    page.wait_for_selector(".sb.sb-invalid")
    assert "不是整数" in page.inner_text(".sb-count-note")  # the server's reason, in Chinese
    shot(page, "11-segment-builder-refused")


def test_a_coupon_form_shows_only_the_fields_of_its_kind_and_saves_a_gold_members_coupon(page, live_server):
    standard_tiers()
    Tier.objects.filter(level=2).update(name="黄金会员")
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/coupons/coupontemplate/add/")

    def shown(name):
        return page.locator(f".field-{name}").first.is_visible()

    page.select_option("#id_kind", "amount_off")
    assert shown("threshold_fen") and shown("amount_off_fen")
    assert not shown("percent_off") and not shown("gift_sku") and not shown("max_discount_fen")
    page.select_option("#id_kind", "percent_off")
    assert shown("percent_off") and shown("max_discount_fen") and not shown("amount_off_fen")
    page.select_option("#id_kind", "amount_off")
    assert not shown("audience_tiers") and not shown("scope_categories")

    page.fill("#id_name", "黄金会员满100减20")
    page.fill("#id_threshold_fen", "100")
    page.fill("#id_amount_off_fen", "20")
    page.select_option("#id_validity", "relative")
    assert shown("valid_days") and not shown("valid_until")
    page.fill("#id_valid_days", "7")
    page.fill("#id_total_stock", "1000")
    page.select_option("#id_audience", "tiers")
    assert shown("audience_tiers") and not shown("audience_segment")
    page.locator(".field-audience_tiers label", has_text="黄金会员").locator("input").check()
    shot(page, "12-coupon-form-for-gold-members")
    on_screen(page, "coupon-form-for-gold-members", page.locator("[name=_save]"))
    page.click("[name=_save]")
    page.wait_for_selector(".messagelist .success")

    tpl = CouponTemplate.objects.get()
    assert (tpl.kind, tpl.threshold_fen, tpl.amount_off_fen, tpl.percent_off, tpl.max_discount_fen) == (
        "amount_off", 10_000, 2_000, 0, None,
    )  # fmt: skip
    assert (tpl.validity, tpl.valid_days, tpl.audience, tpl.audience_values) == ("relative", 7, "tiers", [2])


def test_a_ratio_recharge_plan_hides_the_tiers_and_saves_none(page, live_server):
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/stored_value/rechargeplan/add/")
    assert page.locator("#tiers-group").is_visible() and not page.locator(".field-ratio_pay").is_visible()

    page.fill("#id_name", "充10送1")
    page.select_option("#id_kind", "ratio")
    assert not page.locator("#tiers-group").is_visible() and page.locator(".field-ratio_bonus").is_visible()
    page.fill("#id_ratio_bonus", "1")
    shot(page, "13-recharge-plan-ratio")
    page.click("[name=_save]")
    page.wait_for_selector(".messagelist .success")

    plan = RechargePlan.objects.get()
    assert (plan.kind, plan.ratio_pay, plan.ratio_bonus, plan.tiers.count()) == ("ratio", 10, 1, 0)
