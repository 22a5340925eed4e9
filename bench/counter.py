"""Counter benchmark: 会员码 resolutions (the till scanning a member's code) against the same reads in SQL.

The data set: ``accounts`` members (20,000 ``small``, 100,000 ``full``), each with a live 会员码, a
membership at a tier, a points account, a stored-value account, and every other member two usable
coupons; three open stores.  Read-only: the balances are set directly (no ledger entries: this data
set is never verified, only read).

``counter.selectors.member_code_resolve`` (the store, the code with its member, the tier and valid
cards, usable points, the stored-value balance, the usable coupons with their templates; tiers, card
types and member days from the configuration cache, its version read once per call as the
request middleware reads it once per request) is set beside the same
six reads as plain SQL on one psycopg connection per worker, 16 workers each, on the same copy.
"""

from __future__ import annotations

import random
from datetime import timedelta

from bench.common import (
    Figure,
    Harness,
    Measured,
    benchmark,
    compare_service_raw,
    copy_members,
    copy_rows,
    indexes_dropped,
    op_worker,
    raw_connection,
    reset_sequences,
    run_workers,
)

APP_MODULES = ("counter.selectors",)
WORKERS = 16
STORES = ("SH-001", "SH-002", "BJ-001")
TEMPLATE_ID = 1


def _code(m: int) -> str:
    """Member ``m``'s code: random-looking (from a seeded generator), 66 and 16 digits, as issued."""
    return "66" + f"{random.Random(m).randrange(10**16):016d}"


def _load(members: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from coupons.models import CouponTemplate
    from stores.models import Store

    now = timezone.now()
    rng = random.Random(20261206)
    tables = [
        "members_member",
        "members_membercode",
        "members_membership",
        "points_pointsaccount",
        "stored_value_storedvalueaccount",
        "coupons_coupon",
    ]
    for code in STORES:
        Store.objects.create(code=code, name=f"门店 {code}")
    CouponTemplate.objects.create(
        pk=TEMPLATE_ID,
        name="bench 满100减20",
        kind="amount_off",
        threshold_fen=10_000,
        amount_off_fen=2_000,
        total_stock=10**9,
        per_member_limit=10,
        valid_days=30,
    )
    with connection.cursor() as cur, indexes_dropped(cur, tables):
        copy_members(cur, members, now)
        copy_rows(
            cur,
            "members_membercode",
            ["id", "code", "member_id", "issued_at", "expires_at", "order_no"],
            ((m, _code(m), m, now, now + timedelta(days=1), "") for m in range(1, members + 1)),
        )
        copy_rows(
            cur,
            "members_membership",
            ["id", "member_id", "tier_level", "growth_total", "paid_total_fen", "completed_orders"],
            ((m, m, rng.choice([0, 0, 1, 2]), 500, 50_000, 5) for m in range(1, members + 1)),
        )
        copy_rows(
            cur,
            "points_pointsaccount",
            ["id", "member_id", "balance", "created_at"],
            ((m, m, rng.randrange(0, 10_000), now) for m in range(1, members + 1)),
        )
        copy_rows(
            cur,
            "stored_value_storedvalueaccount",
            ["id", "member_id", "principal_fen", "bonus_fen", "frozen", "frozen_reason", "created_at"],
            (
                (m, m, rng.randrange(0, 100_000), rng.randrange(0, 10_000), False, "", now)
                for m in range(1, members + 1)
            ),
        )
        coupons = (
            (
                m * 2 + k,
                TEMPLATE_ID,
                m,
                f"B{m:09d}{k}",
                "available",
                "bench",
                f"b:{m}:{k}",
                now - timedelta(days=1),
                now + timedelta(days=20 + k),
                "",
                now,
            )
            for m in range(2, members + 1, 2)
            for k in range(2)
        )
        copy_rows(
            cur,
            "coupons_coupon",
            [
                "id",
                "template_id",
                "member_id",
                "code",
                "status",
                "source",
                "issue_key",
                "valid_from",
                "valid_until",
                "order_no",
                "issued_at",
            ],
            coupons,
        )
        reset_sequences(cur, tables)


def _service_op(members: list[int], tag: str):
    from counter.selectors import member_code_resolve
    from loyalty.config import ConfigVersionMiddleware

    codes = [_code(m) for m in members]

    def resolve(i: int):
        return member_code_resolve(code=codes[i % len(codes)], store_code=STORES[i % len(STORES)])

    def op(i: int) -> None:
        # One "request": the configuration version is read once, as ConfigVersionMiddleware does.
        found = ConfigVersionMiddleware(lambda _request: resolve(i))(None)
        if found["member"]["id"] != members[i % len(members)]:
            raise RuntimeError("resolved to the wrong member")

    return op


_STORE = "SELECT id, status FROM stores_store WHERE code = %s"
_CODE = """SELECT c.member_id, c.expires_at, c.replaced_at, c.order_no, m.closed_at, m.nickname, m.phone,
                  m.registered_at
             FROM members_membercode c JOIN members_member m ON m.id = c.member_id WHERE c.code = %s"""
_LEVEL_AND_CARDS = """SELECT (SELECT m.closed_at IS NULL FROM members_member m WHERE m.id = %(m)s),
              COALESCE((SELECT tier_level FROM members_membership WHERE member_id = %(m)s), 0),
              ARRAY(SELECT card_type_id FROM members_membershipcard
                     WHERE member_id = %(m)s AND status = 'active' AND valid_from <= now()
                       AND (valid_until IS NULL OR valid_until > now()) ORDER BY card_type_id)"""
_POINTS = """SELECT a.balance - COALESCE((SELECT SUM(l.remaining) FROM points_pointslot l
                                          WHERE l.account_id = a.id AND l.remaining > 0 AND l.expires_at <= now()), 0)
               FROM points_pointsaccount a WHERE a.member_id = %s"""
_BALANCE = "SELECT principal_fen, bonus_fen, frozen FROM stored_value_storedvalueaccount WHERE member_id = %s"
_COUPONS = """SELECT c.id, t.name, t.kind, t.threshold_fen, t.amount_off_fen, t.percent_off, t.max_discount_fen,
                     t.gift_sku, c.valid_until
                FROM coupons_coupon c JOIN coupons_coupontemplate t ON t.id = c.template_id
               WHERE c.member_id = %s AND c.status = 'available' AND c.valid_from <= now() AND c.valid_until > now()
               ORDER BY c.valid_until, c.id LIMIT 50"""


def _raw_op(members: list[int], tag: str):
    """The same six reads, each one plain statement, in autocommit (as Django runs the service's)."""
    conn = raw_connection()
    conn.autocommit = True
    cur = conn.cursor()
    codes = [_code(m) for m in members]

    def op(i: int) -> None:
        cur.execute(_STORE, [STORES[i % len(STORES)]])
        if cur.fetchone()[1] != "open":
            raise RuntimeError("store closed")
        cur.execute(_CODE, [codes[i % len(codes)]])
        member_id = cur.fetchone()[0]
        if member_id != members[i % len(members)]:
            raise RuntimeError("resolved to the wrong member")
        cur.execute(_LEVEL_AND_CARDS, {"m": member_id})
        cur.fetchone()
        for statement in (_POINTS, _BALANCE):
            cur.execute(statement, [member_id])
            cur.fetchone()
        cur.execute(_COUPONS, [member_id])
        cur.fetchall()

    op.backend_pid = conn.get_backend_pid()
    return op


def _measure(h: Harness, template: str, mode: str, round_: int) -> Measured:
    tag = f"resolve-{mode}-r{round_}"
    members = list(range(1, h.scale.accounts + 1))

    def make_op(index: int, mode: str):
        return (_service_op if mode == "service" else _raw_op)(members[index::WORKERS], f"{tag}:{index}")

    with h.copy_of(template):
        runs, _ = run_workers(WORKERS, op_worker, lambda i: (mode, make_op, h.scale.warmup, h.scale.duration))
    measured = Measured.of(runs)
    print(
        f"  {tag}: {measured.rate:,.0f} resolutions/s; worst worker's p50 {measured.p50_ms:.1f} ms, "
        f"p99 {measured.p99_ms:.1f} ms; CPU per resolution {measured.cpu()}",
        flush=True,
    )
    return measured


@benchmark("counter.resolve")
def resolve(h: Harness) -> list[Figure]:
    """会员码 resolutions by 16 connections (store, code, member, tier, balances, usable coupons): service vs raw SQL."""
    template = h.template("counter", lambda: _load(h.scale.accounts))
    service, raw = compare_service_raw(
        h,
        lambda mode, round_: _measure(h, template, mode, round_),
        label=f"member-code resolutions, {WORKERS} connections",
        unit="resolutions",
    )
    return [
        Figure(
            "会员码 resolutions/s, 16 connections (service vs the same reads in raw SQL)",
            service,
            raw,
            "/s",
            ">=",
            0.5,
            missed=(
                "the service makes six round trips and the configuration version read of a request (seven) "
                "where the raw side makes six, with Django's cursor around each: on a machine whose two cores "
                "are shared, each wake-up waits; CPU per resolution (in the notes) is the figure to compare"
            ),
        )
    ]
