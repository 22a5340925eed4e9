"""The analytics app's raw statements (analytics/sql.py) read and write what the ORM reads."""

import math
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import TruncDate

from analytics import sql
from analytics.models import AttributionDaily, CouponDaily, DailyMetrics, MonthlyMetrics, RfmRun, RfmScore
from analytics.selectors import local_today
from coupons.models import Coupon
from members.models import Member
from membership.cards import card_grant
from membership.models import MembershipCard
from orders.models import Order
from points.ledger import points_earn, points_spend
from points.models import PointsEntry
from stored_value.models import StoredValueEntry
from tests.analytics.helpers import now, registered
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

TZ = ZoneInfo(settings.TIME_ZONE)

# What an order paid, net of refunds (analytics/facts.py), as an ORM expression.
PAID = F("stored_value_fen") + F("cash_fen") - F("refunded_stored_value_fen") - F("refunded_cash_fen")


def purchases():
    """The orders that count as purchases (analytics/facts.py), by the ORM."""
    return Order.objects.filter(completed_at__isnull=False).exclude(status="refunded")


def at(day: date, hour: int, minute: int) -> datetime:
    """A merchant-local time on ``day``."""
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


def test_a_members_purchases_are_the_orms_orders_newest_first_with_what_was_paid():
    member = MemberFactory()
    OrderFactory(member=member, at=now() - timedelta(days=3), cash_fen=1_000)
    OrderFactory(
        member=member, at=now() - timedelta(days=2), cash_fen=2_000, stored_value_fen=500, refunded_fen=300
    )
    OrderFactory(member=member, at=now() - timedelta(days=1), cash_fen=800, refunded_fen=800)
    OrderFactory(member=MemberFactory(), at=now(), cash_fen=5)
    expected = [
        sql.Purchase(
            o.order_no,
            o.status,
            o.completed_at,
            o.stored_value_fen + o.cash_fen - o.refunded_stored_value_fen - o.refunded_cash_fen,
            o.goods_fen,
            o.completed_at is not None and o.status != "refunded",
        )
        for o in Order.objects.filter(member=member).order_by("-id")
    ]
    assert sql.member_purchases(member.pk, 100) == expected
    assert [p.counts for p in expected] == [False, True, True]
    assert sql.member_purchases(member.pk, 1) == expected[:1]


# --- RFM ------------------------------------------------------------------------------------------


def percentile_disc(values: list, fraction: float):
    """PostgreSQL's ``percentile_disc``: the first value, ascending, at or past ``fraction`` of the rows."""
    return sorted(values)[math.ceil(fraction * len(values)) - 1]


def segment(r: int, f: int, m: int) -> str:
    """The eight segments of high (``RFM_HIGH`` or more) and low R, F and M."""
    high = sql.RFM_HIGH
    kind = {(True, True): "value", (True, False): "develop", (False, True): "keep", (False, False): "retain"}
    return ("important_" if m >= high else "general_") + kind[r >= high, f >= high]


def test_rfm_scores_are_the_orms_purchases_per_member_scored_by_the_merchants_quintiles():
    as_of = local(2026, 6, 1, 12, 0)
    since = as_of - timedelta(days=365)
    for n in range(1, 12):
        member = MemberFactory()
        for k in range(1 + n % 4):
            OrderFactory(
                member=member,
                at=as_of - timedelta(days=(n * 13 + k * 29) % 200, hours=n),
                cash_fen=1_000 * (1 + n % 5),
                stored_value_fen=300 * (n % 3),
            )
    partly_refunded = MemberFactory()
    OrderFactory(member=partly_refunded, at=as_of - timedelta(days=9), cash_fen=5_000, refunded_fen=2_000)
    no_purchase = MemberFactory()
    OrderFactory(member=no_purchase, at=since - timedelta(hours=1))  # before the window
    OrderFactory(member=no_purchase, at=as_of - timedelta(days=3), refunded_fen=10_000)  # refunded in full
    OrderFactory(member=no_purchase, at=as_of - timedelta(days=4), status="cancelled")
    OrderFactory(member=no_purchase, at=as_of)  # the window ends before as_of
    run = RfmRun.objects.create(as_of=as_of, window_days=365)

    with transaction.atomic(), connection.cursor() as cur:
        sql.rfm_scores_delete(cur)
        result = sql.rfm_scores_insert(cur, run_id=run.pk, since=since, as_of=as_of)

    facts = {
        row["member_id"]: (row["last"], (as_of - row["last"]) // timedelta(days=1), row["n"], row["paid"])
        for row in purchases()
        .filter(completed_at__gte=since, completed_at__lt=as_of)
        .values("member_id")
        .annotate(last=Max("completed_at"), n=Count("id"), paid=Sum(PAID))
    }
    cuts = [
        [percentile_disc([f[i] for f in facts.values()], p) for p in (0.2, 0.4, 0.6, 0.8)] for i in (1, 2, 3)
    ]
    expected = {}
    for member_id, (last, recency, frequency, monetary) in facts.items():
        r = 5 - sum(cut < recency for cut in cuts[0])
        f = 1 + sum(cut < frequency for cut in cuts[1])
        m = 1 + sum(cut < monetary for cut in cuts[2])
        expected[member_id] = (run.pk, last, recency, frequency, monetary, r, f, m, segment(r, f, m))

    assert result == sql.RfmResult(len(facts), *cuts)
    assert {
        s.member_id: (
            s.run_id,
            s.last_purchase_at,
            s.recency_days,
            s.frequency,
            s.monetary_fen,
            s.r_score,
            s.f_score,
            s.m_score,
            s.segment,
        )
        for s in RfmScore.objects.all()
    } == expected
    assert len(expected) == 12 and partly_refunded.pk in expected and no_purchase.pk not in expected
    assert len({s[-1] for s in expected.values()}) > 2  # the data reach several segments


def test_rfm_without_purchases_scores_nobody_and_has_no_cut_points():
    run = RfmRun.objects.create(as_of=now(), window_days=365)
    with transaction.atomic(), connection.cursor() as cur:
        result = sql.rfm_scores_insert(cur, run_id=run.pk, since=now() - timedelta(days=365), as_of=now())
    assert result == sql.RfmResult(0, None, None, None) and not RfmScore.objects.exists()


# --- the report tables ----------------------------------------------------------------------------


def per_day(queryset, field: str, *keys: str, **aggregates) -> dict:
    """``aggregates`` of ``queryset`` per merchant-local day of ``field`` (and ``keys``), by the ORM."""
    rows = queryset.annotate(day=TruncDate(field, tzinfo=TZ)).values("day", *keys).annotate(**aggregates)
    return {(row.pop("day"), *(row.pop(k) for k in keys)): row for row in rows}


def test_the_daily_rows_are_the_orms_counts_per_merchant_local_day(admin_user):
    today = local_today()
    start, end = today - timedelta(days=2), today
    for n, moment in enumerate(
        [
            at(today - timedelta(days=1), 23, 50),
            at(today, 0, 10),
            at(start, 0, 20),
            at(start - timedelta(days=1), 23, 59),  # before the range
        ]
    ):
        member = MemberFactory()
        registered(member, moment)
        OrderFactory(member=member, at=moment, cash_fen=1_000 * (n + 1), stored_value_fen=500)
        OrderFactory(member=member, at=moment, cash_fen=700, refunded_fen=300)
        OrderFactory(member=member, at=moment, cash_fen=900, refunded_fen=900)  # refunded in full
        OrderFactory(member=member, at=moment, status="cancelled")
    buyer = MemberFactory()
    points_earn(member_id=buyer.pk, amount=300, idempotency_key="e1", source="t", expires_at=None)
    points_spend(member_id=buyer.pk, amount=120, idempotency_key="s1", source="t")
    template = CouponTemplateFactory(total_stock=10, per_member_limit=5)
    coupons = [CouponFactory(template=template, member=buyer) for _ in range(3)]
    Coupon.objects.filter(pk=coupons[0].pk).update(
        status="used", used_at=at(today - timedelta(days=1), 12, 0)
    )
    Coupon.objects.filter(pk=coupons[1].pk).update(used_at=at(today - timedelta(days=1), 13, 0))  # given back
    RechargeFactory(member=buyer, amount_fen=10_000, bonus_fen=1_500)
    member_days = [today - timedelta(days=1)]
    computed_at = now()

    with transaction.atomic(), connection.cursor() as cur:
        sql.daily_delete(cur, start=start, end=end)
        sql.daily_insert(
            cur, start=start, end=end, tz=settings.TIME_ZONE, now=computed_at, member_days=member_days
        )

    bought = per_day(
        purchases(), "completed_at", n=Count("id"), buyers=Count("member_id", distinct=True), paid=Sum(PAID)
    )
    joined = per_day(Member.objects.all(), "registered_at", n=Count("id"))
    points = per_day(
        PointsEntry.objects.all(),
        "created_at",
        earned=Sum("amount", filter=Q(kind="earn"), default=0),
        spent=-Sum("amount", filter=Q(kind="spend"), default=0),
        expired=-Sum("amount", filter=Q(kind="expire"), default=0),
    )
    issued = per_day(Coupon.objects.all(), "issued_at", n=Count("id"))
    used = per_day(Coupon.objects.filter(status="used"), "used_at", n=Count("id"))
    bonus = per_day(
        StoredValueEntry.objects.all(),
        "created_at",
        issued=Sum("bonus_fen", filter=Q(kind="bonus"), default=0),
        forfeited=-Sum("bonus_fen", filter=Q(kind="recharge_refund"), default=0),
    )
    none = Counter()
    expected = {}
    for day in (start + timedelta(days=i) for i in range(3)):
        p, pts, sv = bought.get((day,), none), points.get((day,), none), bonus.get((day,), none)
        expected[day] = (
            (p["n"], p["buyers"], p["paid"], joined.get((day,), none)["n"]),
            (pts["earned"], pts["spent"], pts["expired"]),
            (issued.get((day,), none)["n"], used.get((day,), none)["n"], sv["issued"], sv["forfeited"]),
            (day in member_days, computed_at),
        )
    assert {
        d.day: (
            (d.purchases, d.buyers, d.sales_fen, d.new_members),
            (d.points_earned, d.points_spent, d.points_expired),
            (d.coupons_issued, d.coupons_used, d.bonus_issued_fen, d.bonus_forfeited_fen),
            (d.is_member_day, d.computed_at),
        )
        for d in DailyMetrics.objects.all()
    } == expected
    assert [expected[day][0][0] for day in sorted(expected)] == [2, 2, 2]  # the data reach every day
    assert expected[today][1] == (300, 120, 0) and expected[today][2][2] == 1_500


def test_the_monthly_rows_are_the_orms_buyers_repeat_buyers_and_cohorts():
    base = local(2026, 1, 31, 23, 30)
    for n in range(1, 10):
        member = MemberFactory()
        for k in range(n % 4):
            OrderFactory(member=member, at=base + timedelta(days=(n * 11 + k * 23) % 120, hours=n))
        OrderFactory(member=member, at=base - timedelta(days=n), refunded_fen=10_000)  # not a purchase
    for days in (30, 60, 90):  # bought again exactly at the end of a cohort's window: within it
        member = MemberFactory()
        OrderFactory(member=member, at=base)
        OrderFactory(member=member, at=base + timedelta(days=days))
    computed_at = now()

    with transaction.atomic(), connection.cursor() as cur:
        sql.monthly_delete(cur)
        sql.monthly_insert(cur, tz=settings.TIME_ZONE, now=computed_at)

    def month(moment: datetime) -> date:
        return moment.astimezone(TZ).date().replace(day=1)

    per_member = defaultdict(list)  # the member's purchase times, in the order ties are broken (by id)
    for order in purchases().order_by("completed_at", "id"):
        per_member[order.member_id].append(order.completed_at)
    expected = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0])
    for times in per_member.values():
        for m, n in Counter(month(t) for t in times).items():
            expected[m][0] += 1  # buyers
            expected[m][1] += n >= 2  # repeat buyers
            expected[m][2] += 1  # active members
        first, again = times[0], times[1] if len(times) > 1 else None
        cohort = expected[month(first)]
        cohort[3] += 1
        for i, days in enumerate((30, 60, 90), 4):
            cohort[i] += again is not None and again <= first + timedelta(days=days)

    assert {
        m.month: [
            m.buyers,
            m.repeat_buyers,
            m.active_members,
            m.cohort_size,
            m.cohort_30,
            m.cohort_60,
            m.cohort_90,
        ]
        for m in MonthlyMetrics.objects.all()
    } == expected
    assert set(MonthlyMetrics.objects.values_list("computed_at", flat=True)) == {computed_at}
    assert len(expected) >= 3 and any(row[1] for row in expected.values())  # several months, some repeats


def test_the_attribution_and_coupon_rows_are_the_orms_counts_per_local_day_and_key(admin_user):
    today = local_today()
    start, end = today - timedelta(days=1), today
    members = [MemberFactory() for _ in range(5)]
    Member.objects.filter(pk__in=[m.pk for m in members[:3]]).update(registration_channel="store_qr")
    registered(members[0], at(start, 12, 0))
    card_type = CardTypeFactory(name="VIP")
    for member, channel, staff in zip(
        members, ["poster", "poster", "qr", "qr", ""], ["小王", "", "小李", "小王", ""], strict=True
    ):
        card = card_grant(member_id=member.pk, card_type_id=card_type.pk, actor_id=admin_user.pk, reason="t")
        MembershipCard.objects.filter(pk=card.pk).update(channel=channel, staff=staff)
    templates = [CouponTemplateFactory(total_stock=10, per_member_limit=5) for _ in range(2)]
    coupons = [CouponFactory(template=templates[i % 2], member=members[i]) for i in range(5)]
    Coupon.objects.filter(pk__in=[c.pk for c in coupons[:3]]).update(status="used", used_at=now())
    Coupon.objects.filter(pk=coupons[3].pk).update(used_at=now())  # used, then given back by a refund

    with transaction.atomic(), connection.cursor() as cur:
        sql.attribution_delete(cur, start=start, end=end)
        sql.attribution_insert(cur, start=start, end=end, tz=settings.TIME_ZONE)
        sql.coupon_daily_delete(cur, start=start, end=end)
        sql.coupon_daily_insert(cur, start=start, end=end, tz=settings.TIME_ZONE)

    expected = {}
    for kind, queryset, field, key in (
        ("registration", Member.objects.all(), "registered_at", "registration_channel"),
        ("card_channel", MembershipCard.objects.all(), "created_at", "channel"),
        ("card_staff", MembershipCard.objects.exclude(staff=""), "created_at", "staff"),
    ):
        for (day, value), row in per_day(queryset, field, key, n=Count("id")).items():
            expected[day, kind, value] = row["n"]
    assert {(a.day, a.kind, a.key): a.count for a in AttributionDaily.objects.all()} == expected
    assert expected[start, "registration", "store_qr"] == 1 and expected[end, "card_staff", "小王"] == 2

    issued = per_day(Coupon.objects.all(), "issued_at", "template_id", n=Count("id"))
    used = per_day(Coupon.objects.filter(status="used"), "used_at", "template_id", n=Count("id"))
    assert {(c.day, c.template_id): (c.issued, c.used) for c in CouponDaily.objects.all()} == {
        key: (issued.get(key, {"n": 0})["n"], used.get(key, {"n": 0})["n"])
        for key in issued.keys() | used.keys()
    }
    assert sum(c.used for c in CouponDaily.objects.all()) == 3
