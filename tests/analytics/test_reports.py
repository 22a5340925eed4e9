from datetime import date, timedelta

import pytest

from analytics.models import AttributionDaily, CouponDaily, DailyMetrics, MonthlyMetrics
from analytics.reports import reports_refresh
from analytics.selectors import (
    attribution_rows,
    coupon_rows,
    liabilities,
    member_day_uplift,
    monthly_rows,
    period_totals,
)
from members.models import Member
from membership.models import MemberDay
from tests.analytics.helpers import registered
from tests.factories import (
    CardTypeFactory,
    CouponFactory,
    CouponTemplateFactory,
    MemberFactory,
    OrderFactory,
    RechargeFactory,
)
from tests.helpers import local

pytestmark = pytest.mark.django_db


def test_an_empty_range_has_a_zero_row_per_day_and_no_months():
    reports_refresh(start=date(2026, 1, 1), end=date(2026, 1, 3))
    assert list(DailyMetrics.objects.values_list("day", "purchases", "sales_fen", "new_members")) == [
        (date(2026, 1, d), 0, 0, 0) for d in (1, 2, 3)
    ]
    assert not MonthlyMetrics.objects.exists()
    assert period_totals(start=date(2026, 1, 1), end=date(2026, 1, 3))["sales_per_purchase_fen"] == 0
    assert member_day_uplift(start=date(2026, 1, 1), end=date(2026, 1, 3))["uplift_pct"] is None


def test_days_are_merchant_local_and_only_net_paid_purchases_count():
    a, b = MemberFactory(), MemberFactory()
    registered(a, local(2026, 1, 31, 23, 50))  # 15:50 UTC on the 31st
    registered(b, local(2026, 2, 1, 0, 5))  # 16:05 UTC on the 31st, but February 1st here
    OrderFactory(
        member=a, at=local(2026, 1, 31, 23, 30), cash_fen=10_000, stored_value_fen=2_000, refunded_fen=1_000
    )
    OrderFactory(member=b, at=local(2026, 2, 1, 0, 10), cash_fen=5_000)
    OrderFactory(member=b, at=local(2026, 2, 1, 9, 0), cash_fen=3_000, refunded_fen=3_000)  # fully refunded
    OrderFactory(member=b, at=local(2026, 2, 1, 10, 0), cash_fen=3_000, status="cancelled")
    reports_refresh(start=date(2026, 1, 31), end=date(2026, 2, 1))
    rows = {r.day: (r.purchases, r.buyers, r.sales_fen, r.new_members) for r in DailyMetrics.objects.all()}
    assert rows == {date(2026, 1, 31): (1, 1, 11_000, 1), date(2026, 2, 1): (1, 1, 5_000, 1)}


def test_repurchase_rate_by_month_counts_members_with_two_purchases_in_the_month():
    a, b, c = MemberFactory(), MemberFactory(), MemberFactory()
    OrderFactory(member=a, at=local(2026, 3, 1, 0, 0))
    OrderFactory(member=a, at=local(2026, 3, 31, 23, 59))
    OrderFactory(member=b, at=local(2026, 3, 15, 12))
    OrderFactory(member=b, at=local(2026, 4, 1, 0, 1))  # April, not March
    OrderFactory(member=c, at=local(2026, 4, 2, 12))
    reports_refresh(start=date(2026, 3, 1), end=date(2026, 4, 30))
    rows = {r["month"]: (r["buyers"], r["repeat_buyers"], r["repurchase_pct"]) for r in monthly_rows(
        start=date(2026, 3, 1), end=date(2026, 4, 30))}  # fmt: skip
    assert rows == {date(2026, 3, 1): (2, 1, 50.0), date(2026, 4, 1): (2, 0, 0.0)}


def test_cohorts_start_at_the_first_purchase_in_local_time_and_count_the_next_within_30_60_90_days():
    # First purchases: a and b on Jan 31 23:30 local (15:30 UTC: still January here), c on Feb 1 00:30 local.
    a, b, c, d = (MemberFactory() for _ in range(4))
    first = local(2026, 1, 31, 23, 30)
    OrderFactory(member=a, at=first)
    OrderFactory(member=a, at=first + timedelta(days=30))  # exactly 30 days: within 30
    OrderFactory(member=b, at=first)
    OrderFactory(member=b, at=first + timedelta(days=61))  # within 90 only
    OrderFactory(member=c, at=local(2026, 2, 1, 0, 30))
    OrderFactory(member=c, at=local(2026, 2, 1, 0, 30) + timedelta(days=45))  # within 60
    OrderFactory(member=d, at=local(2026, 2, 1, 0, 30))  # never again
    OrderFactory(
        member=d, at=local(2026, 1, 5), refunded_fen=10_000
    )  # a fully refunded earlier order is no first purchase
    reports_refresh(start=date(2026, 1, 1), end=date(2026, 1, 1))
    rows = {
        m.month: (m.cohort_size, m.cohort_30, m.cohort_60, m.cohort_90) for m in MonthlyMetrics.objects.all()
    }
    assert rows[date(2026, 1, 1)] == (2, 1, 1, 2)
    assert rows[date(2026, 2, 1)] == (2, 0, 1, 1)
    jan = monthly_rows(start=date(2026, 1, 1), end=date(2026, 1, 31))[0]
    assert (jan["cohort_30_pct"], jan["cohort_60_pct"], jan["cohort_90_pct"]) == (50.0, 50.0, 100.0)


def test_a_refresh_is_idempotent_and_picks_up_a_later_refund():
    a = MemberFactory()
    order = OrderFactory(member=a, at=local(2026, 5, 5, 12), cash_fen=8_000)
    reports_refresh(start=date(2026, 5, 5), end=date(2026, 5, 5))
    reports_refresh(start=date(2026, 5, 5), end=date(2026, 5, 5))
    assert DailyMetrics.objects.get().sales_fen == 8_000
    type(order).objects.filter(pk=order.pk).update(
        status="partially_refunded", refunded_goods_fen=2_000, refunded_cash_fen=2_000
    )
    reports_refresh(start=date(2026, 5, 5), end=date(2026, 5, 5))
    assert DailyMetrics.objects.get().sales_fen == 6_000 and DailyMetrics.objects.count() == 1


def test_member_day_uplift_compares_paid_per_buyer_on_member_days_and_other_days():
    MemberDay.objects.create(name="周三", recurrence="weekly", weekday=2)  # Wednesday
    a, b = MemberFactory(), MemberFactory()
    OrderFactory(member=a, at=local(2026, 6, 3, 12), cash_fen=30_000)  # a Wednesday
    OrderFactory(member=b, at=local(2026, 6, 3, 13), cash_fen=10_000)
    OrderFactory(member=a, at=local(2026, 6, 4, 12), cash_fen=10_000)  # Thursday
    OrderFactory(member=b, at=local(2026, 6, 5, 12), cash_fen=10_000)
    reports_refresh(start=date(2026, 6, 1), end=date(2026, 6, 7))
    uplift = member_day_uplift(start=date(2026, 6, 1), end=date(2026, 6, 7))
    assert uplift["member_days"] == {"sales_fen": 40_000, "buyers": 2, "per_buyer_fen": 20_000}
    assert uplift["other_days"] == {"sales_fen": 20_000, "buyers": 2, "per_buyer_fen": 10_000}
    assert uplift["uplift_pct"] == 100.0
    assert DailyMetrics.objects.filter(is_member_day=True).count() == 1


def test_points_and_coupons_and_bonus_are_counted_per_local_day(admin_user):
    from points.ledger import points_earn, points_spend

    a = MemberFactory()
    points_earn(member_id=a.pk, amount=300, idempotency_key="e1", source="t", expires_at=None)
    points_spend(member_id=a.pk, amount=120, idempotency_key="s1", source="t")
    CouponFactory(template=CouponTemplateFactory(total_stock=10), member=a)
    RechargeFactory(member=a, amount_fen=10_000, bonus_fen=1_500)
    from analytics.selectors import local_today

    today = local_today()
    reports_refresh(start=today, end=today)
    row = DailyMetrics.objects.get(day=today)
    assert (row.points_earned, row.points_spent, row.points_expired) == (300, 120, 0)
    assert (row.coupons_issued, row.coupons_used) == (1, 0)
    assert (row.bonus_issued_fen, row.bonus_forfeited_fen) == (1_500, 0)
    assert CouponDaily.objects.get().issued == 1
    assert coupon_rows(start=today, end=today)[0]["use_pct"] == 0.0


def test_new_members_are_attributed_to_their_channel_and_card_claims_to_channel_and_staff(admin_user):
    from membership.cards import card_grant
    from membership.models import MembershipCard

    a, b, c = MemberFactory(), MemberFactory(), MemberFactory()
    Member.objects.filter(pk__in=[a.pk, b.pk]).update(registration_channel="store_qr")
    vip = CardTypeFactory(name="VIP")
    card = card_grant(member_id=a.pk, card_type_id=vip.pk, actor_id=admin_user.pk, reason="t")
    MembershipCard.objects.filter(pk=card.pk).update(channel="poster", staff="小王")
    from analytics.selectors import local_today

    today = local_today()
    reports_refresh(start=today, end=today)
    assert attribution_rows(start=today, end=today, kind="registration") == [
        {"key": "store_qr", "count": 2},
        {"key": c.registration_channel, "count": 1},
    ]
    assert attribution_rows(start=today, end=today, kind="card_channel") == [{"key": "poster", "count": 1}]
    assert attribution_rows(start=today, end=today, kind="card_staff") == [{"key": "小王", "count": 1}]
    assert AttributionDaily.objects.count() == 4


def test_outstanding_points_are_valued_at_the_deduction_rate_rounded_down(admin_user):
    from orders.models import CheckoutSettings
    from points.ledger import points_earn

    CheckoutSettings.objects.update_or_create(pk=1, defaults={"points_per_yuan": 30})
    a = MemberFactory()
    points_earn(member_id=a.pk, amount=100, idempotency_key="e1", source="t", expires_at=None)
    from analytics.selectors import local_today

    liab = liabilities(end=local_today())
    assert liab["points"] == 100 and liab["points_value_fen"] == 333  # 100 / 30 yuan = 333.33 fen
    assert liab["principal_fen"] == 0 and liab["bonus_fen"] == 0
