"""A worker is SIGKILLed in the middle of each batch job and the job runs again: the end is one clean run.

For every scheduled job: the data is built once and copied to a second
database (``CREATE DATABASE … TEMPLATE``).  On the copy the job runs once,
cleanly.  On the original a real Celery worker runs it until it is half-way —
some chunks committed, the next one written but not committed, held there by
a gate (a trigger waiting for an advisory lock the test holds) — and is killed
with SIGKILL.  Its orphaned backend is terminated, as PostgreSQL does when it
notices the client is gone, and the job is run again (through its periodic
job where that is how production recovers).  Both databases must then hold
the same rows (ids and timestamps aside) and pass ``verify_ledgers``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from bench.common import copy_members, copy_rows, create_database, drop_database, reset_sequences
from bench.points import _load_ledger
from loyalty.celery import app as celery_app
from loyalty.models import ApiNonce, IdempotencyRecord
from loyalty.services import api_client_create
from notifications.services import LEASE
from tests.factories import CouponTemplateFactory, OrderFactory, RechargeFactory
from tests.faults.helpers import (
    Gate,
    install_gate,
    new_queue,
    query,
    remove_gate,
    start_worker,
    wait_for,
)
from tests.helpers import assert_ledgers_consistent

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),  # send_task always sends
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_rules"),
]


@dataclass
class Job:
    task: str
    build: Callable[[], tuple]  # makes the data; returns the task's arguments
    gate: str  # the table whose writes the gate holds
    state: list[str]  # rows that must match a clean run (no ids or times the runs choose)
    passes: int = 1  # gated writes let through (committed) before the gate shuts
    progress: str | None = None  # SQL: > 0 once committed progress is visible
    per: str = "STATEMENT"
    events: str = "INSERT OR UPDATE"
    rerun: str | None = None  # how production runs it again, when not the task itself
    later: timedelta | None = None  # how long after the kill production runs it again, when that matters
    wechat: Callable | None = None  # the job talks to WeChat: sets up the fake WeChat the worker calls
    fast: bool = False  # runs in every test run (the others with FULL=1)
    id: str = field(default="")


# --- data ---------------------------------------------------------------------------------------------


def _now():
    return timezone.now().replace(microsecond=0)


def points_to_expire():
    now = _now()
    # 450 accounts: chunks of 200, so two chunks commit only if the job gets that far.
    _load_ledger(
        450, lambda m: [(100 + m, now - timedelta(days=30), now - timedelta(days=1)), (50, now, None)]
    )
    return ()


def points_expiring_soon():
    now = _now()
    # 5,200 reminders: a chunk is 5,000 accounts, one transaction of five 1,000-row statements.
    _load_ledger(5200, lambda m: [(10 + m % 7, now - timedelta(days=1), now + timedelta(days=2 + m % 3))])
    return ()


def _template(*, stock: int, issued: int) -> int:
    from coupons.models import CouponTemplate

    return CouponTemplate.objects.create(
        name="faults",
        kind="amount_off",
        threshold_fen=10_000,
        amount_off_fen=2_000,
        total_stock=stock,
        issued_count=issued,
        valid_days=30,
    ).pk


def _coupons(count: int, *, status: str, valid_until, locked_until=None):
    now = _now()
    with connection.cursor() as cur:
        copy_members(cur, count, now)
        template = _template(stock=count, issued=count)
        copy_rows(
            cur,
            "coupons_coupon",
            [
                "template_id",
                "member_id",
                "code",
                "status",
                "source",
                "issue_key",
                "valid_from",
                "valid_until",
                "order_no",
                "locked_until",
                "issued_at",
            ],
            (
                (
                    template,
                    m,
                    f"F{m:012d}",
                    status,
                    "claim",
                    f"k{m}",
                    now - timedelta(days=40),
                    valid_until(m),
                    f"order-{m}" if status == "locked" else "",
                    locked_until,
                    now - timedelta(days=40),
                )
                for m in range(1, count + 1)
            ),
        )
        reset_sequences(cur, ["members_member", "coupons_coupon"])
    return ()


def coupons_past_validity():
    # 5,200: one chunk of 5,000 commits, the rest is the chunk the kill interrupts.
    return _coupons(5200, status="available", valid_until=lambda m: _now() - timedelta(hours=1 + m % 5))


def coupons_locked_by_lost_orders():
    now = _now()
    # Some of them also past their validity: released straight to expired.
    return _coupons(
        5200,
        status="locked",
        valid_until=lambda m: now + timedelta(days=5) if m % 4 else now - timedelta(hours=1),
        locked_until=now - timedelta(minutes=5),
    )


def coupons_expiring_soon():
    return _coupons(5200, status="available", valid_until=lambda m: _now() + timedelta(days=1, hours=m % 24))


def a_bulk_issue():
    from coupons.models import BulkIssue, BulkIssueTarget

    now = _now()
    with connection.cursor() as cur:
        copy_members(cur, 2500, now)
        reset_sequences(cur, ["members_member"])
        template = _template(stock=2300, issued=0)  # the last 200 members find it sold out
    operator = get_user_model().objects.create(username="operator")
    bulk = BulkIssue.objects.create(template_id=template, created_by=operator, total=2500)
    BulkIssueTarget.objects.bulk_create(BulkIssueTarget(bulk_issue=bulk, member_id=m) for m in range(1, 2501))
    return (bulk.pk,)


def _payments(count: int, *, status: str):
    from payments.models import Payment
    from stored_value.models import RechargeOrder, RechargePlan

    now = _now()
    with connection.cursor() as cur:
        copy_members(cur, count, now)
        reset_sequences(cur, ["members_member"])
    plan = RechargePlan.objects.create(name="open", kind="open", max_fen=10**9)
    payments = []
    for m in range(1, count + 1):
        order = RechargeOrder.objects.create(
            member_id=m,
            plan=plan,
            amount_fen=10_000 + m,
            bonus_fen=0,
            out_trade_no=f"T{m:010d}",
            status="created",
        )
        payments.append(
            Payment(
                member_id=m,
                purpose="recharge",
                reference=str(order.pk),
                out_trade_no=f"T{m:010d}",
                provider="fake",
                description="faults",
                amount_fen=10_000 + m,
                status=status,
                expires_at=now - timedelta(minutes=30),
            )
        )
    return Payment.objects.bulk_create(payments)


def payments_left_unpaid():
    _payments(40, status="created")
    return ()


def refunds_not_yet_accepted():
    from payments.models import Payment, PaymentRefund

    payments = _payments(40, status="paid")
    Payment.objects.update(refunded_fen=5_000)
    PaymentRefund.objects.bulk_create(
        PaymentRefund(payment=p, out_refund_no=f"R{p.out_trade_no}", amount_fen=5_000, reason="faults")
        for p in payments
    )
    PaymentRefund.objects.update(updated_at=timezone.now() - timedelta(minutes=30))
    return ()


def housekeeping_due():
    client, _ = api_client_create(name="order system")
    old = timezone.now() - timedelta(days=3)
    ApiNonce.objects.bulk_create(ApiNonce(client=client, nonce=f"n{i}") for i in range(305))
    ApiNonce.objects.filter(nonce__in=[f"n{i}" for i in range(300)]).update(seen_at=old)
    IdempotencyRecord.objects.bulk_create(
        IdempotencyRecord(scope="member:1", key=f"k{i}", fingerprint="f", status_code=201, body={})
        for i in range(305)
    )
    IdempotencyRecord.objects.filter(key__in=[f"k{i}" for i in range(300)]).update(created_at=old)
    return ()


# Membership, mall, orders, analytics and notifications jobs.


def _gift_pack(name: str, *, points: int, coupons: int = 0) -> int:
    """A gift pack of ``points`` and ``coupons`` coupons of a template of its own (stock for all)."""
    from coupons.models import GiftPack, GiftPackItem

    pack = GiftPack.objects.create(name=name, points=points)
    if coupons:
        GiftPackItem.objects.create(pack=pack, template_id=_template(stock=10**6, issued=0), quantity=coupons)
    return pack.pk


def _memberships(cur, rows) -> None:
    """rows: (member_id, tier_level, growth_total, completed_orders, protected_until)."""
    copy_rows(
        cur,
        "members_membership",
        [
            "id",
            "member_id",
            "tier_level",
            "growth_total",
            "paid_total_fen",
            "completed_orders",
            "protected_until",
        ],
        (
            (m, m, level, growth, growth * 100, orders, protected)
            for m, level, growth, orders, protected in rows
        ),
    )


def _cards(cur, count: int, card_type: int, *, valid_from, valid_until) -> None:
    copy_rows(
        cur,
        "members_membershipcard",
        [
            "id",
            "member_id",
            "card_type_id",
            "status",
            "source",
            "valid_from",
            "valid_until",
            "trial_used",
            "channel",
            "staff",
            "created_at",
        ],
        (
            (m, m, card_type, "active", "claim", valid_from, valid_until(m), False, "", "", valid_from)
            for m in range(1, count + 1)
        ),
    )


def tiers_to_recalculate():
    from tests.membership.helpers import standard_tiers

    standard_tiers(upgrade_packs=True)  # levels at 0, 1,000, 5,000, 20,000 growth; upgrades give points
    now = _now()
    members = 10_500  # chunks of 5,000 memberships: the second is held, the third never starts
    in_window = [0, 1_500, 6_000, 25_000]
    levels = {0: 0, 1_500: 1, 6_000: 2, 25_000: 3}

    def entries():
        for m in range(1, members + 1):
            # Half a day off any window edge: the clean run and the rerun, seconds apart, count the same.
            yield (2 * m - 1, m, "order", in_window[m % 4], now - timedelta(days=30 + m % 200, hours=12))
            yield (2 * m, m, "order", 3_000, now - timedelta(days=400, hours=12))  # outside the window

    def memberships():
        for m in range(1, members + 1):
            level = levels[in_window[m % 4]]
            if m % 50 == 0:  # one in fifty is at another level: up, or down unless protected
                level = (level + 1 + m % 3) % 4
            protected = now + timedelta(days=30) if m % 150 == 0 else None
            yield m, level, in_window[m % 4] + 3_000, 2, protected  # its two orders above

    with connection.cursor() as cur:
        copy_members(cur, members, now)
        copy_rows(
            cur,
            "members_growthentry",
            [
                "id",
                "member_id",
                "kind",
                "amount",
                "paid_fen",
                "order_no",
                "idempotency_key",
                "counts_at",
                "created_at",
            ],
            (
                (i, m, kind, amount, amount * 100, f"O{i}", f"order:O{i}", at, at)
                for i, m, kind, amount, at in entries()
            ),
        )
        _memberships(cur, memberships())
        reset_sequences(cur, ["members_member", "members_membership", "members_growthentry"])
        cur.execute("ANALYZE members_membership, members_growthentry")  # as autovacuum would, given time
    return ()


def conditional_cards_missed():
    from membership.models import CardType

    now = _now()
    CardType.objects.create(
        name="常客卡",
        kind="conditional",
        condition="orders",
        condition_threshold=3,
        opening_pack_id=_gift_pack("开卡礼", points=20, coupons=1),
    )
    with connection.cursor() as cur:
        copy_members(cur, 120, now)
        # Three in four have the orders for it (free ones: the growth ledger records each).
        orders = {m: 1 if m % 4 == 0 else 3 + m % 3 for m in range(1, 121)}
        copy_rows(
            cur,
            "members_growthentry",
            [
                "member_id",
                "kind",
                "amount",
                "paid_fen",
                "order_no",
                "idempotency_key",
                "counts_at",
                "created_at",
            ],
            (
                (m, "order", 0, 0, f"O{m}-{k}", f"order:O{m}-{k}", now, now)
                for m, count in orders.items()
                for k in range(count)
            ),
        )
        _memberships(cur, ((m, 0, 0, count, None) for m, count in orders.items()))
        reset_sequences(cur, ["members_member", "members_membership"])
    return ()


def cards_expiring_soon():
    from membership.models import CardType

    now = _now()
    card = CardType.objects.create(name="银卡", kind="free", validity="days", valid_days=30)
    with connection.cursor() as cur:
        copy_members(cur, 2500, now)
        # Chunks of 1,000 cards: the first commits, the second is held.
        _cards(
            cur,
            2500,
            card.pk,
            valid_from=now - timedelta(days=28),
            valid_until=lambda m: now + timedelta(days=1, minutes=m),
        )
        reset_sequences(cur, ["members_member", "members_membershipcard"])
    return ()


def cards_due_monthly_coupons():
    from membership.models import CardType

    now = _now()
    card = CardType.objects.create(
        name="金卡",
        kind="free",
        validity="permanent",
        monthly_pack_id=_gift_pack("月礼", points=10, coupons=2),
    )
    with connection.cursor() as cur:
        copy_members(cur, 150, now)
        _cards(cur, 150, card.pk, valid_from=now - timedelta(days=10), valid_until=lambda m: None)
        reset_sequences(cur, ["members_member", "members_membershipcard"])
    return ()


def a_member_day_today():
    from membership.models import MemberDay

    now = _now()
    MemberDay.objects.create(
        name="周会员日",
        recurrence="weekly",
        weekday=timezone.localtime(now).weekday(),
        push_pack_id=_gift_pack("会员日礼", points=5),
    )
    with connection.cursor() as cur:
        copy_members(cur, 600, now)  # chunks of 500: the first commits, the second is held
        reset_sequences(cur, ["members_member"])
    return ()


def birthdays_this_month():
    from membership.models import Tier
    from tests.membership.helpers import policy, set_tiers

    now = _now()
    policy(birthday_mode="month")
    set_tiers((0, 0), (1, 1000))
    Tier.objects.filter(level=0).update(birthday_pack_id=_gift_pack("生日礼", points=8, coupons=1))
    Tier.objects.filter(level=1).update(birthday_pack_id=_gift_pack("银卡生日礼", points=30, coupons=2))
    month = timezone.localtime(now).month
    with connection.cursor() as cur:
        copy_members(cur, 200, now)
        _memberships(cur, ((m, m % 2, 0, 0, None) for m in range(1, 201, 3)))
        # Three in four born this month; the others in the next.
        cur.execute(
            "UPDATE members_member SET birthday = make_date(1990, CASE WHEN id %% 4 = 0 THEN %s ELSE %s END,"
            " (1 + id %% 28)::int)",
            [month % 12 + 1, month],
        )
        reset_sequences(cur, ["members_member", "members_membership"])
    return ()


def redemptions_shipped_long_ago():
    from mall.models import MallItem

    now = _now()
    item = MallItem.objects.create(name="保温杯", kind="physical", points=500, stock=10, sold_count=1200)
    with connection.cursor() as cur:
        copy_members(cur, 1200, now)
        copy_rows(
            cur,
            "mall_redemption",
            [
                "id",
                "no",
                "member_id",
                "item_id",
                "kind",
                "points",
                "cash_fen",
                "status",
                "idempotency_key",
                "request_hash",
                "out_trade_no",
                "recipient",
                "phone",
                "address",
                "carrier",
                "tracking_no",
                "cancel_reason",
                "created_at",
                "paid_at",
                "shipped_at",
            ],
            (
                # Chunks of 500: the first commits, the second is held; one in ten shipped too recently.
                (
                    m,
                    f"R{m:08d}",
                    m,
                    item.pk,
                    "physical",
                    500,
                    0,
                    "shipped",
                    f"k{m}",
                    "x",
                    "",
                    "王小明",
                    "13800000000",
                    "杭州市西湖路1号",
                    "SF",
                    f"SF{m:010d}",
                    "",
                    now - timedelta(days=12),
                    now - timedelta(days=12),
                    now - timedelta(days=2 if m % 10 == 0 else 9, hours=m % 24),
                )
                for m in range(1, 1201)
            ),
        )
        reset_sequences(cur, ["members_member", "mall_redemption"])
    return ()


def orders_never_paid():
    from coupons import services as coupon_services
    from orders.models import Order
    from points import ledger as points_ledger
    from tests.factories import MemberFactory
    from tests.orders.helpers import basket, commit

    coupon_template = CouponTemplateFactory(total_stock=1000)
    for n in range(1, 81):
        member = MemberFactory()
        RechargeFactory(member=member, amount_fen=50_000, bonus_fen=5_000)
        points_ledger.points_earn(
            member_id=member.pk, amount=3_000, idempotency_key="seed", source="test", expires_at=None
        )
        coupon = coupon_services.coupon_claim(
            member=member, template_id=coupon_template.pk, idempotency_key="k"
        )
        commit(
            member,
            basket(
                ("SHIRT", 9_900, 2, "apparel"),
                ("TEA", 4_500, 1, "tea"),
                shipping_fen=1_000,
                coupon_ids=[coupon.pk] if n % 2 else [],
                points=1_000 * (n % 3),
                stored_value_fen=5_000 * (n % 4),
            ),
            order_no=f"U{n:04d}",
        )
    Order.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    return ()


def purchases_to_score():
    from analytics import rfm
    from analytics.models import RfmRun
    from tests.factories import MemberFactory

    now = _now()
    for n in range(1, 201):
        member = MemberFactory()
        for k in range(1 + n % 4):
            # Half a day off a whole day: recency is the same for the clean run and the rerun.
            OrderFactory(
                member=member,
                at=now - timedelta(days=(n * 7 + k * 31) % 300, hours=12),
                cash_fen=1_000 * (1 + n % 9),
            )
    # Last month's scores, which the nightly run replaces (and a killed one leaves in place).
    rfm.rfm_run_execute(run_id=RfmRun.objects.create(as_of=now - timedelta(days=30), window_days=365).pk)
    return ()


def activity_to_report():
    from tests.analytics.helpers import registered
    from tests.factories import MemberFactory

    now = _now()
    for n in range(1, 61):
        member = MemberFactory()
        registered(member, now - timedelta(days=n * 3, hours=12))
        for k in range(n % 3):
            OrderFactory(member=member, at=now - timedelta(days=n + k * 20, hours=12), cash_fen=1_000 * n)
    return ()


def wechat_messages_pending():
    from notifications.models import WechatTemplate

    now = _now()
    WechatTemplate.objects.create(kind="tier_change", template_id="TPL-TIER", field_map={"thing1": "{title}"})
    with connection.cursor() as cur:
        copy_members(cur, 150, now)
        copy_rows(
            cur,
            "notifications_subscribeconsent",
            ["id", "member_id", "template_id", "result", "created_at", "spent_at"],
            ((m, m, "TPL-TIER", "accept", now, now) for m in range(1, 151)),
        )
        copy_rows(
            cur,
            "notifications_wechatdelivery",
            [
                "id",
                "member_id",
                "kind",
                "dedupe_key",
                "template_id",
                "page",
                "data",
                "consent_id",
                "status",
                "attempts",
                "next_attempt_at",
                "error",
                "msgid",
                "created_at",
            ],
            (
                (
                    m,
                    m,
                    "tier_change",
                    f"tier-change:{m}",
                    "TPL-TIER",
                    "",
                    '{"thing1": {"value": "升级"}}',
                    m,
                    "pending",
                    0,
                    now - timedelta(minutes=1),
                    "",
                    "",
                    now,
                )
                for m in range(1, 151)
            ),
        )
        reset_sequences(
            cur, ["members_member", "notifications_subscribeconsent", "notifications_wechatdelivery"]
        )
    return ()


# --- the jobs ---------------------------------------------------------------------------------------

POINTS_STATE = [
    "SELECT a.member_id, a.balance FROM points_pointsaccount a ORDER BY 1",
    """SELECT a.member_id, e.kind, e.amount, e.balance_after, e.source FROM points_pointsentry e
       JOIN points_pointsaccount a ON a.id = e.account_id ORDER BY 1, 2, 3, 4""",
    "SELECT account_id, amount, remaining, expires_at FROM points_pointslot ORDER BY 1, 2, 3, 4",
    """SELECT l.account_id, al.amount FROM points_pointsallocation al JOIN points_pointslot l ON l.id = al.lot_id
       ORDER BY 1, 2""",
]
NOTIFICATIONS_STATE = [
    "SELECT member_id, kind, dedupe_key, body FROM notifications_notification ORDER BY 1, 2, 3"
]
COUPONS_STATE = [
    "SELECT code, member_id, status, order_no, locked_until FROM coupons_coupon ORDER BY 1",
    """SELECT c.code, e.kind, e.order_no, e.reason FROM coupons_couponevent e
       JOIN coupons_coupon c ON c.id = e.coupon_id ORDER BY 1, 2""",
    "SELECT name, issued_count FROM coupons_coupontemplate ORDER BY 1",
]
# Gift packs: who got which and for what, their coupons and points (coupon codes, issue keys and the
# points' expiry date are chosen by the run).
GIFTS_STATE = [
    """SELECT g.member_id, p.name, g.occasion, g.withheld::text FROM coupons_giftpackgrant g
       JOIN coupons_giftpack p ON p.id = g.pack_id ORDER BY 1, 2, 3""",
    "SELECT member_id, template_id, status, source FROM coupons_coupon ORDER BY 1, 2, 3, 4",
    "SELECT name, issued_count FROM coupons_coupontemplate ORDER BY 1",
    *POINTS_STATE[:2],
]

JOBS = [
    Job(
        id="points-expiry",
        task="points.expire_due",
        build=points_to_expire,
        gate="points_pointsentry",
        progress="SELECT count(*) FROM points_pointsentry WHERE kind = 'expire'",
        state=POINTS_STATE,
        fast=True,
    ),
    Job(
        id="points-reminders",
        task="points.remind_expiring",
        build=points_expiring_soon,
        gate="notifications_notification",
        passes=5,
        progress="SELECT count(*) FROM notifications_notification",
        state=NOTIFICATIONS_STATE,
    ),
    Job(
        id="coupon-expiry",
        task="coupons.expire_due",
        build=coupons_past_validity,
        gate="coupons_couponevent",
        progress="SELECT count(*) FROM coupons_coupon WHERE status = 'expired'",
        state=COUPONS_STATE,
    ),
    Job(
        id="stale-coupon-locks",
        task="coupons.release_stale_locks",
        build=coupons_locked_by_lost_orders,
        gate="coupons_couponevent",
        progress="SELECT count(*) FROM coupons_coupon WHERE status <> 'locked'",
        state=COUPONS_STATE,
    ),
    Job(
        id="coupon-reminders",
        task="coupons.remind_expiring",
        build=coupons_expiring_soon,
        gate="notifications_notification",
        passes=5,
        progress="SELECT count(*) FROM notifications_notification",
        state=NOTIFICATIONS_STATE,
    ),
    Job(
        id="bulk-issue",
        task="coupons.run_bulk_issue",
        build=a_bulk_issue,
        gate="coupons_couponevent",
        progress="SELECT count(*) FROM coupons_coupon",
        rerun="coupons.resume_bulk_issues",
        state=[
            *COUPONS_STATE[2:],
            "SELECT member_id, template_id, status, source, issue_key FROM coupons_coupon ORDER BY 1",
            "SELECT member_id, result FROM coupons_bulkissuetarget ORDER BY 1",
            "SELECT status, total, processed, issued FROM coupons_bulkissue",
            "SELECT count(*), kind, reason FROM coupons_couponevent GROUP BY 2, 3",
        ],
    ),
    Job(
        id="stale-payments",
        task="payments.close_stale",
        build=payments_left_unpaid,
        gate="payments_payment",
        per="ROW",
        passes=10,
        progress="SELECT count(*) FROM payments_payment WHERE status = 'closed'",
        state=[
            "SELECT out_trade_no, status FROM payments_payment ORDER BY 1",
            "SELECT out_trade_no, status FROM stored_value_rechargeorder ORDER BY 1",
        ],
    ),
    Job(
        id="refund-retry",
        task="payments.retry_refunds",
        build=refunds_not_yet_accepted,
        gate="payments_paymentrefund",
        per="ROW",
        passes=10,
        progress="SELECT count(*) FROM payments_paymentrefund WHERE status <> 'pending'",
        state=[
            "SELECT out_refund_no, status, attempts, last_error FROM payments_paymentrefund ORDER BY 1",
            "SELECT out_trade_no, refunded_fen FROM payments_payment ORDER BY 1",
        ],
    ),
    Job(
        id="purge",
        task="loyalty.purge_expired",
        build=housekeeping_due,
        gate="loyalty_idempotencyrecord",
        events="DELETE",
        passes=0,
        progress="SELECT 305 - count(*) FROM loyalty_apinonce",
        state=[
            "SELECT nonce FROM loyalty_apinonce ORDER BY 1",
            "SELECT scope, key FROM loyalty_idempotencyrecord ORDER BY 1, 2",
        ],
    ),
    # Membership: tiers, cards, member days, birthdays.
    Job(
        id="tier-recalculation",
        task="members.recalculate_tiers",
        build=tiers_to_recalculate,
        gate="members_tierchange",
        progress="SELECT count(*) FROM members_tierchange",
        state=[
            "SELECT member_id, tier_level, growth_total FROM members_membership ORDER BY 1",
            "SELECT member_id, from_level, to_level, reason, window_growth FROM members_tierchange ORDER BY 1, 2",
            # The dedupe key names the tier change's id, which the run chooses.
            "SELECT member_id, kind, title, body, data::text FROM notifications_notification ORDER BY 1, 5",
            *GIFTS_STATE,
        ],
        fast=True,
    ),
    Job(
        id="conditional-cards",
        task="members.catch_up_conditional_cards",
        build=conditional_cards_missed,
        gate="members_membershipcard",
        passes=30,  # a transaction per member: thirty members get theirs before the gate shuts
        progress="SELECT count(*) FROM members_membershipcard",
        state=[
            "SELECT member_id, card_type_id, status, source, valid_until IS NULL FROM members_membershipcard ORDER BY 1",
            """SELECT c.member_id, e.kind FROM members_cardevent e JOIN members_membershipcard c ON c.id = e.card_id
               ORDER BY 1, 2""",
            # The opening gift's occasion names the card's id, which the run chooses.
            *[sql.replace("g.occasion", "split_part(g.occasion, ':', 1)") for sql in GIFTS_STATE],
        ],
    ),
    Job(
        id="card-reminders",
        task="members.remind_expiring_cards",
        build=cards_expiring_soon,
        gate="notifications_notification",
        passes=1,
        progress="SELECT count(*) FROM notifications_notification",
        state=NOTIFICATIONS_STATE,
    ),
    Job(
        id="card-monthly-coupons",
        task="members.issue_monthly_card_coupons",
        build=cards_due_monthly_coupons,
        gate="coupons_giftpackgrant",
        passes=40,  # a gift pack is a transaction of its own
        progress="SELECT count(*) FROM coupons_giftpackgrant",
        state=GIFTS_STATE,
    ),
    Job(
        id="member-day",
        task="members.run_member_days",
        build=a_member_day_today,
        gate="notifications_notification",
        passes=1,
        progress="SELECT count(*) FROM notifications_notification",
        state=[
            *NOTIFICATIONS_STATE,
            *GIFTS_STATE,
            "SELECT occurrence, last_member_id, pushed, finished_at IS NOT NULL FROM members_memberdayrun",
        ],
    ),
    Job(
        id="birthday-gifts",
        task="members.give_birthday_gifts",
        build=birthdays_this_month,
        gate="coupons_giftpackgrant",
        passes=40,
        progress="SELECT count(*) FROM coupons_giftpackgrant",
        state=GIFTS_STATE,
    ),
    # Mall.
    Job(
        id="mall-auto-complete",
        task="mall.auto_complete",
        build=redemptions_shipped_long_ago,
        gate="mall_redemptionevent",
        passes=1,
        progress="SELECT count(*) FROM mall_redemption WHERE status = 'completed'",
        state=[
            "SELECT no, status, completed_at IS NULL FROM mall_redemption ORDER BY 1",
            """SELECT r.no, e.kind, e.note FROM mall_redemptionevent e JOIN mall_redemption r ON r.id = e.redemption_id
               ORDER BY 1, 2""",
        ],
        fast=True,
    ),
    # Orders: every unpaid order gives back its coupon, points and stored value.
    Job(
        id="order-timeout",
        task="orders.cancel_expired",
        build=orders_never_paid,
        gate="orders_orderevent",
        passes=30,  # an order is cancelled in a transaction of its own
        progress="SELECT count(*) FROM orders_order WHERE status = 'cancelled'",
        state=[
            "SELECT order_no, status, cancelled_at IS NULL FROM orders_order ORDER BY 1",
            """SELECT o.order_no, e.kind, e.reference FROM orders_orderevent e JOIN orders_order o ON o.id = e.order_id
               ORDER BY 1, 2""",
            "SELECT member_id, status, order_no FROM coupons_coupon ORDER BY 1",
            "SELECT member_id, principal_fen, bonus_fen FROM stored_value_storedvalueaccount ORDER BY 1",
            """SELECT a.member_id, e.kind, e.principal_fen, e.bonus_fen, e.principal_after_fen, e.bonus_after_fen
               FROM stored_value_storedvalueentry e JOIN stored_value_storedvalueaccount a ON a.id = e.account_id
               ORDER BY 1, 2, 3, 4""",
            *POINTS_STATE,
        ],
    ),
    # Analytics: each refresh is one transaction, so nothing of the killed run is committed; the rerun
    # must still end where one clean run does.
    Job(
        id="rfm-nightly",
        task="analytics.rfm_nightly",
        build=purchases_to_score,
        gate="analytics_rfmscore",
        passes=0,
        state=[
            """SELECT member_id, recency_days, frequency, monetary_fen, r_score, f_score, m_score, segment
               FROM analytics_rfmscore ORDER BY 1""",
            # The killed run is finished by the rerun (resumed first), then tonight's run replaces its scores.
            "SELECT count(*) FROM analytics_rfmrun WHERE status <> 'done'",
            "SELECT members_scored, cut_points::text FROM analytics_rfmrun ORDER BY id DESC LIMIT 1",
            "SELECT count(*) FROM analytics_rfmscore WHERE run_id <> (SELECT max(id) FROM analytics_rfmrun)",
        ],
        fast=True,
    ),
    Job(
        id="report-refresh",
        task="analytics.refresh_reports",
        build=activity_to_report,
        gate="analytics_dailymetrics",
        events="INSERT",
        passes=0,
        state=[
            """SELECT day, purchases, buyers, sales_fen, new_members, points_earned, points_spent, points_expired,
                      coupons_issued, coupons_used, bonus_issued_fen, bonus_forfeited_fen, is_member_day
               FROM analytics_dailymetrics ORDER BY 1""",
            "SELECT day, kind, key, count FROM analytics_attributiondaily ORDER BY 1, 2, 3",
            "SELECT day, template_id, issued, used FROM analytics_coupondaily ORDER BY 1, 2",
            """SELECT month, buyers, repeat_buyers, active_members, cohort_size, cohort_30, cohort_60, cohort_90
               FROM analytics_monthlymetrics ORDER BY 1""",
            # The killed run is marked failed by the rerun (it wrote nothing), not left running forever.
            "SELECT count(*) FROM analytics_reportrun WHERE status NOT IN ('done', 'failed')",
            'SELECT status, start, "end" FROM analytics_reportrun ORDER BY id DESC LIMIT 1',
        ],
    ),
    # Notifications: a killed sender's claimed messages wait out their lease, then go again (at least
    # once: the one whose outcome was being recorded reaches WeChat twice), so the rerun is the next
    # sending run after the lease.  Attempts count the lost claim and are left out.
    Job(
        id="wechat-outbox",
        task="notifications.send_due_wechat",
        build=wechat_messages_pending,
        gate="notifications_wechatdelivery",
        events="UPDATE",
        per="ROW",
        passes=50 + 50 + 50 + 20,  # chunks of 50: claim, record 50; claim, record 20, the 21st is held
        progress="SELECT count(*) FROM notifications_wechatdelivery WHERE status <> 'pending'",
        wechat=lambda fake: fake.send_errors.update({f"bench-{m}": 47003 for m in range(7, 151, 7)}),
        later=LEASE + timedelta(minutes=1),
        state=[
            "SELECT member_id, dedupe_key, status, errcode, error FROM notifications_wechatdelivery ORDER BY 1, 2",
            """SELECT member_id, template_id, result, spent_at IS NULL FROM notifications_subscribeconsent
               ORDER BY 1, 2, 3, 4""",
        ],
    ),
]


# --- the run ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def on_database(name: str):
    """Point this process's Django connection at another database for a while."""
    connection.close()
    original = connection.settings_dict["NAME"]
    connection.settings_dict["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original


def run_here(task: str, args: tuple):
    """A run in this process, to the end (what a healthy worker does)."""
    return celery_app.tasks[task].apply(args=args, throw=True).get()


def state_of(job: Job, name: str | None = None) -> list[list[tuple]]:
    return [query(sql, name=name) for sql in job.state]


# The fast jobs run in every test run (one or two of each app); all with FULL=1 (tests/faults/conftest.py),
# ~10 s each.
@pytest.mark.parametrize(
    "job", [pytest.param(job, id=job.id, marks=[] if job.fast else [pytest.mark.slow]) for job in JOBS]
)
def test_a_job_killed_half_way_and_run_again_ends_as_one_clean_run(job, tmp_path, request):
    celery_app.loader.import_default_modules()
    worker_env = {}
    if job.wechat:
        fake = request.getfixturevalue("fake_wechat")
        job.wechat(fake)
        worker_env["WECHAT_API_BASE"] = fake.url
    args = job.build()
    pristine = f"{connection.settings_dict['NAME']}_clean_{uuid.uuid4().hex[:6]}"
    create_database(pristine, template=connection.settings_dict["NAME"])
    try:
        with on_database(pristine):
            run_here(job.task, args)
            assert_ledgers_consistent()
        clean = state_of(job, pristine)

        install_gate(job.gate, passes=job.passes, per=job.per, events=job.events)
        gate, queue = Gate(), new_queue()
        worker = start_worker(tmp_path, queue, env=worker_env)
        try:
            celery_app.send_task(job.task, args, queue=queue)
            half_way = wait_for(
                lambda: gate.waiting() and (job.progress is None or query(job.progress)[0][0] > 0),
                timeout=60,
                interval=0.1,
            )
            activity = query(
                "SELECT pid, state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity"
            )
            assert half_way, "\n".join(
                [worker.output(), *map(str, activity), str(job.progress and query(job.progress))]
            )
            orphans = gate.waiting()
            worker.kill()
            # PostgreSQL ends a dead client's session when it notices; here, at once.
            for pid in orphans:
                query("SELECT pg_terminate_backend(%s)", [pid])
            assert wait_for(
                lambda: not set(orphans) & {r[0] for r in query("SELECT pid FROM pg_stat_activity")}
            )
        finally:
            gate.open()
            worker.stop()
            remove_gate(job.gate)
        interrupted = state_of(job)
        assert interrupted != clean, "the kill came after the job had finished"

        with (
            time_machine.travel(timezone.now() + job.later, tick=True)
            if job.later
            else contextlib.nullcontext()
        ):
            run_here(job.rerun, ()) if job.rerun else run_here(job.task, args)

        assert state_of(job) == clean
        assert_ledgers_consistent()
    finally:
        drop_database(pristine)
