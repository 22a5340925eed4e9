"""The analytics app's raw statements and segment conditions (analytics/sql.py) read and write what the ORM reads."""

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
from analytics.models import (
    AttributionDaily,
    CouponDaily,
    DailyMetrics,
    MemberTag,
    MemberTagging,
    MonthlyMetrics,
    RfmRun,
    RfmScore,
)
from analytics.segments import FIELDS, RELATIVE, compile_rules
from analytics.selectors import local_today
from coupons.models import Coupon
from members.models import Member
from members.receiving import receiving_q
from membership.cards import card_grant, card_revoke
from membership.models import Membership, MembershipCard
from orders.models import Order
from points.ledger import points_earn, points_spend
from points.models import PointsAccount, PointsEntry
from stored_value.models import StoredValueAccount, StoredValueEntry
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


# --- segments -------------------------------------------------------------------------------------

# Each segment leaf, with values that pick different members out of ``segment_people``.
SEGMENT_CASES = {
    "tier": [[0], [1, 2], [2]],
    "card": [["vip"], ["paid"], ["vip", "paid"]],
    "rfm_segment": [["important_value"], ["general_retain", "important_value"]],
    "last_purchase_before": ["2026-02-01", "2026-04-01"],
    "last_purchase_after": ["2026-02-01", "2025-01-01"],
    # Days back from today to the days above (the clock runs: counted when the module loads).
    "last_purchase_within_days": [
        (local_today() - date(2026, 2, 1)).days,
        (local_today() - date(2025, 1, 1)).days,
    ],
    "last_purchase_not_within_days": [
        (local_today() - date(2026, 2, 1)).days,
        (local_today() - date(2026, 4, 1)).days,
    ],
    "order_count": [{"min": 1}, {"max": 0}, {"min": 2, "max": 2}],
    "points_balance": [{"min": 1}, {"max": 0}, {"min": 50, "max": 500}],
    "stored_value_balance": [{"min": 11_000}, {"max": 0}, {"min": 1, "max": 6_000}],
    "birthday_month": [[5], [5, 12]],
    "registration_channel": [["store_qr"], ["ad", "store_qr"]],
    "tag": [["old"], ["old", "new"]],
}


@pytest.fixture
def segment_people(admin_user):
    """Members with every fact a segment reads, and one closed account that has them all."""
    a, b, c, d, e, f, closed = (MemberFactory() for _ in range(7))
    vip, paid = CardTypeFactory(name="VIP"), CardTypeFactory(kind="paid", name="Plus")
    old, new = MemberTag.objects.create(name="老客"), MemberTag.objects.create(name="新客")
    for member, level in ((a, 2), (b, 1), (c, 0), (closed, 2)):
        Membership.objects.create(member=member, tier_level=level)
    OrderFactory(member=a, at=local(2026, 1, 10, 12))
    OrderFactory(member=a, at=local(2026, 3, 31, 23, 30))
    OrderFactory(member=b, at=local(2026, 2, 1, 0, 10))
    OrderFactory(member=c, at=local(2026, 1, 31, 23, 59), refunded_fen=10_000)  # not a purchase
    OrderFactory(member=c, at=local(2026, 1, 20, 9), refunded_fen=4_000)  # still a purchase
    OrderFactory(member=d, at=local(2026, 3, 1, 9), status="cancelled")  # never completed
    OrderFactory(member=f, at=local(2024, 12, 31, 23, 59))
    OrderFactory(member=closed, at=local(2026, 3, 1, 9))
    points_earn(member_id=b.pk, amount=500, idempotency_key="sb", source="t", expires_at=None)
    points_earn(member_id=c.pk, amount=50, idempotency_key="sc", source="t", expires_at=None)
    points_earn(member_id=d.pk, amount=100, idempotency_key="sd", source="t", expires_at=None)
    points_spend(member_id=d.pk, amount=100, idempotency_key="sd-spend", source="t")  # an account at 0
    points_earn(member_id=closed.pk, amount=100, idempotency_key="sx", source="t", expires_at=None)
    RechargeFactory(member=d, amount_fen=10_000, bonus_fen=1_000)
    RechargeFactory(member=e, amount_fen=5_000)
    RechargeFactory(member=closed, amount_fen=20_000)
    t0 = now()
    for member, card_type, at in (
        (a, vip, t0),
        (b, paid, t0 - timedelta(days=60)),  # expired
        (c, paid, t0 + timedelta(days=1)),  # not valid yet
        (d, vip, t0),  # revoked below
        (e, paid, t0),
        (closed, vip, t0),
    ):
        card = card_grant(
            member_id=member.pk, card_type_id=card_type.pk, actor_id=admin_user.pk, reason="t", now=at
        )
        if member == d:
            card_revoke(card_id=card.pk, actor_id=admin_user.pk, reason="t")
    for member, tag in ((d, old), (e, old), (a, new), (closed, old)):
        MemberTagging.objects.create(member=member, tag=tag)
    run = RfmRun.objects.create(as_of=t0, window_days=365, status="done")
    for member, code in ((a, "important_value"), (b, "general_retain"), (closed, "important_value")):
        RfmScore.objects.create(
            member=member, run=run, last_purchase_at=t0, recency_days=1, frequency=1,
            monetary_fen=1, r_score=3, f_score=3, m_score=3, segment=code,
        )  # fmt: skip
    for member, birthday, channel in ((a, date(1990, 5, 3), "store_qr"), (e, date(1991, 12, 30), "ad"),
                                      (f, date(1985, 5, 31), "store_qr"), (closed, date(1990, 5, 1), "ad")):  # fmt: skip
        Member.objects.filter(pk=member.pk).update(birthday=birthday, registration_channel=channel)
    Member.objects.filter(pk=closed.pk).update(closed_at=t0)
    return {"vip": vip.pk, "paid": paid.pk, "old": old.pk, "new": new.pk}


def member_ids(members) -> set[int]:
    return set(members.values_list("pk", flat=True))


def orm_segment(field: str, value, at: datetime) -> set[int]:
    """The receiving members a segment leaf means (analytics/segments.py), by the ORM."""
    members = Member.objects.filter(receiving_q())
    if field in RELATIVE:  # the dated leaf, on the day ``value`` days before ``at``
        field, value = RELATIVE[field], (at.astimezone(TZ).date() - timedelta(days=value)).isoformat()
    if field == "birthday_month":
        return member_ids(members.filter(birthday__month__in=value))
    if field == "registration_channel":
        return member_ids(members.filter(registration_channel__in=value))
    if field == "card":  # holds a card of one of the types, valid at ``at``
        valid = Q(status="active", valid_from__lte=at) & (Q(valid_until__isnull=True) | Q(valid_until__gt=at))
        return member_ids(
            members.filter(
                pk__in=MembershipCard.objects.filter(valid, card_type_id__in=value).values("member_id")
            )
        )
    if field == "rfm_segment":
        return member_ids(
            members.filter(pk__in=RfmScore.objects.filter(segment__in=value).values("member_id"))
        )
    if field == "tag":
        return member_ids(
            members.filter(pk__in=MemberTagging.objects.filter(tag_id__in=value).values("member_id"))
        )
    # The other leaves compare one figure per member with the rule's value.
    last_purchase = (
        purchases().values("member_id").annotate(last=Max("completed_at")).values_list("member_id", "last")
    )
    figures = dict(
        {
            "tier": Membership.objects.values_list("member_id", "tier_level"),
            "order_count": purchases()
            .values("member_id")
            .annotate(n=Count("pk"))
            .values_list("member_id", "n"),
            "points_balance": PointsAccount.objects.values_list("member_id", "balance"),
            "stored_value_balance": StoredValueAccount.objects.values_list(
                "member_id", F("principal_fen") + F("bonus_fen")
            ),
            "last_purchase_before": last_purchase,
            "last_purchase_after": last_purchase,
        }[field]
    )
    if field.startswith("last_purchase_"):
        day = datetime.combine(date.fromisoformat(value), time.min, tzinfo=TZ)
        before = field == "last_purchase_before"
        return {pk for pk, last in figures.items() if (last < day if before else last >= day)} & member_ids(
            members
        )
    if field == "tier":  # no membership row is level 0
        return {pk for pk in member_ids(members) if figures.get(pk, 0) in value}
    low, high = value.get("min"), value.get("max")  # no account, no purchase: 0
    return {
        pk
        for pk in member_ids(members)
        if (low is None or figures.get(pk, 0) >= low) and (high is None or figures.get(pk, 0) <= high)
    }


def test_each_segment_condition_finds_the_members_the_orm_finds(segment_people):
    at = now()
    everyone = set(Member.objects.filter(receiving_q()).values_list("pk", flat=True))
    assert set(SEGMENT_CASES) == set(FIELDS)
    for field, cases in SEGMENT_CASES.items():
        found = []
        for value in cases:
            if field in ("card", "tag"):
                value = [segment_people[name] for name in value]
            where, params = compile_rules(
                {"op": "and", "conditions": [{"field": field, "value": value}]}, now=at
            )
            members = set(sql.segment_members(where, params).values_list("pk", flat=True))
            assert members == orm_segment(field, value, at), (field, value)
            found.append(members)
        assert any(set() < members < everyone for members in found), field  # the data tells members apart


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
