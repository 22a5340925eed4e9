"""拼团 benchmark: group joins on ONE hot activity (groups of 2) by 16 connections, service vs raw SQL.

(Not ``bench/growth.py``, which measures how the tables grow.)

A join here is what decides it: the joiner's payment arriving.  The template holds groups of 2, each
open with its leader paid and one member's place awaiting payment.  The service path is what WeChat
Pay's notification does once verified — lock the payment, mark it paid, and call the purpose
(``growth.services.group_member_paid``): lock the place and the group, take a unit from the activity
(the hot row), complete the group and put both units into the mall's shipping queue (the mall item's
count, two redemptions and their events).  The baseline makes the same writes by hand in one
transaction.  After every run the copy is checked (the growth and mall invariants) and the groups
completed are counted against the joins made.
"""

from __future__ import annotations

from bench.common import (
    Figure,
    Harness,
    Measured,
    benchmark,
    compare_service_raw,
    op_worker,
    raw_connection,
    run_workers,
)

APP_MODULES = ("growth.services", "payments.services", "loyalty.management.commands.verify_ledgers")
WORKERS = 16
ITEM_ID = 1
ACTIVITY_ID = 1
PRICE = 1990


def _load(groups: int) -> None:
    """``groups`` open groups of 2 (leader paid) with one member's place and payment awaiting payment each."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from growth.models import Group, GroupBuyActivity, GroupMember
    from mall.models import MallItem
    from members.models import Member
    from payments.models import Payment

    now = timezone.now()
    MallItem.objects.create(pk=ITEM_ID, name="bench 保温杯", kind="physical", points=1, stock=0)
    GroupBuyActivity.objects.create(
        pk=ACTIVITY_ID, name="bench 两人团", item_id=ITEM_ID, group_price_fen=PRICE, original_price_fen=PRICE * 2,
        group_size=2, time_limit_minutes=24 * 60, stock_total=2_000_000_000, sold_count=groups,
        starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30),
    )  # fmt: skip
    members = Member.objects.bulk_create(
        [
            Member(
                openid=f"bench-{n}", nickname=f"b{n}", registration_channel="bench", invite_code=f"B{n:07d}"
            )
            for n in range(2 * groups)
        ],
        batch_size=5_000,
    )
    leaders, joiners = members[:groups], members[groups:]
    deadline = now + timedelta(days=1)
    made = Group.objects.bulk_create(
        [
            Group(activity_id=ACTIVITY_ID, leader=m, size=2, price_fen=PRICE, joined_count=1, deadline=deadline,
                  opened_at=now)
            for m in leaders
        ],
        batch_size=5_000,
    )  # fmt: skip
    shipping = {"recipient": "bench", "phone": "13800000000", "address": "浙江省杭州市 bench"}
    places = GroupMember.objects.bulk_create(
        [
            GroupMember(activity_id=ACTIVITY_ID, group=g, member=m, role="leader", status="joined", amount_fen=PRICE,
                        out_trade_no=f"BL{g.pk}", idempotency_key="l", request_hash="", paid_at=now, **shipping)
            for g, m in zip(made, leaders, strict=True)
        ]
        + [
            GroupMember(activity_id=ACTIVITY_ID, group=g, member=m, role="member", amount_fen=PRICE,
                        out_trade_no=f"BJ{g.pk}", idempotency_key="j", request_hash="", **shipping)
            for g, m in zip(made, joiners, strict=True)
        ],
        batch_size=5_000,
    )  # fmt: skip
    Payment.objects.bulk_create(
        [
            Payment(member_id=p.member_id, purpose="group_buy", reference=str(p.pk), out_trade_no=p.out_trade_no,
                    provider="fake", description="bench", amount_fen=PRICE,
                    status="paid" if p.role == "leader" else "created", expires_at=now + timedelta(days=1),
                    paid_at=now if p.role == "leader" else None)
            for p in places
        ],
        batch_size=5_000,
    )  # fmt: skip
    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def _joins(groups: int) -> list[str]:
    from growth.models import GroupMember

    return list(
        GroupMember.objects.filter(role="member").order_by("pk").values_list("out_trade_no", flat=True)
    )


def _verify(label: str, expected: int) -> None:
    from django.db import connection

    from loyalty.management.commands.verify_ledgers import all_checks

    violations = []
    with connection.cursor() as cur:
        for description, sql in all_checks():
            if description.startswith(("growth:", "mall:")):
                cur.execute(sql)
                violations += [(description, row) for row in cur.fetchall()]
        cur.execute("SELECT count(*) FROM growth_group WHERE state = 'complete'")
        complete = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM mall_redemption")
        shipped = cur.fetchone()[0]
    if violations:
        raise RuntimeError(f"{label}: {len(violations)} violation(s), e.g. {violations[:3]}")
    if not complete == expected or shipped != 2 * expected:
        raise RuntimeError(
            f"{label}: {expected} joins made but {complete} groups complete, {shipped} shipments"
        )
    print(f"    {label}: {complete:,} groups complete, checks clean", flush=True)


def _take(numbers: list[str]):
    def at(i: int) -> str:
        if i >= len(numbers):
            raise RuntimeError("the prepared joins ran out: use more groups")
        return numbers[i]

    return at


def _service_op(numbers: list[str]):
    from django.db import transaction
    from django.utils import timezone

    from payments import purposes
    from payments.services import payment_lock

    at = _take(numbers)

    def op(i: int) -> None:
        with transaction.atomic():
            payment = payment_lock(out_trade_no=at(i))
            payment.status, payment.transaction_id, payment.paid_at = "paid", "bench", timezone.now()
            payment.save(update_fields=["status", "transaction_id", "paid_at"])
            purposes.notify(payment, "paid")

    return op


def _raw_op(numbers: list[str]):
    """The same join by hand: the payment paid, the place and group locked, a unit taken, the group
    completed, both units into the mall's queue, the events."""
    from mall.services import SOLD_ELSEWHERE, _new_no

    at = _take(numbers)
    conn = raw_connection()
    cur = conn.cursor()

    def op(i: int) -> None:
        cur.execute("BEGIN")
        cur.execute(
            "UPDATE payments_payment SET status = 'paid', transaction_id = 'bench', paid_at = now()"
            " WHERE out_trade_no = %s AND status = 'created' RETURNING reference::bigint",
            [at(i)],
        )
        (place,) = cur.fetchone()
        cur.execute("SELECT group_id FROM growth_groupmember WHERE id = %s FOR UPDATE", [place])
        (group,) = cur.fetchone()
        cur.execute(
            "SELECT joined_count, size FROM growth_group WHERE id = %s AND state = 'open' AND deadline > now()"
            " FOR UPDATE",
            [group],
        )
        joined, size = cur.fetchone()
        cur.execute(
            "UPDATE growth_groupbuyactivity SET sold_count = sold_count + 1 WHERE id = %s AND sold_count < stock_total",
            [ACTIVITY_ID],
        )
        if cur.rowcount != 1 or joined + 1 != size:
            cur.execute("ROLLBACK")
            raise RuntimeError("sold out or not the last place")
        cur.execute("UPDATE growth_groupmember SET status = 'joined', paid_at = now() WHERE id = %s", [place])
        cur.execute(
            "UPDATE growth_group SET joined_count = joined_count + 1, state = 'complete', completed_at = now()"
            " WHERE id = %s",
            [group],
        )
        cur.execute(
            "SELECT id, member_id, recipient, phone, address FROM growth_groupmember"
            " WHERE group_id = %s AND status = 'joined' ORDER BY id",
            [group],
        )
        members = cur.fetchall()
        cur.execute(
            "UPDATE mall_mallitem SET sold_count = sold_count + %s WHERE id = %s", [len(members), ITEM_ID]
        )
        shipped = []
        for place_id, member, recipient, phone, address in members:
            cur.execute(
                """WITH r AS (
                       INSERT INTO mall_redemption (no, member_id, item_id, kind, points, cash_fen, status,
                           idempotency_key, request_hash, out_trade_no, recipient, phone, address, carrier,
                           tracking_no, cancel_reason, created_at, paid_at)
                       VALUES (%s, %s, %s, 'physical', 0, 0, 'paid', %s, '', '', %s, %s, %s, '', '', '', now(), now())
                       RETURNING id)
                   INSERT INTO mall_redemptionevent (redemption_id, kind, note, created_at)
                   SELECT id, 'paid', 'bench', now() FROM r RETURNING redemption_id""",
                [_new_no(), member, ITEM_ID, f"{SOLD_ELSEWHERE}group:{place_id}", recipient, phone, address],
            )
            shipped.append((place_id, cur.fetchone()[0]))
        cur.execute(
            """UPDATE growth_groupmember p SET status = 'completed', completed_at = now(), redemption_id = s.r
               FROM unnest(%s::bigint[], %s::bigint[]) AS s(p, r) WHERE p.id = s.p""",
            [[p for p, _r in shipped], [r for _p, r in shipped]],
        )
        cur.execute(
            """INSERT INTO growth_groupevent (group_id, place_id, kind, note, created_at)
               SELECT %s, %s, 'joined', '', now() UNION ALL SELECT %s, NULL, 'completed', '', now()
               UNION ALL SELECT %s, p, 'fulfilled', '', now() FROM unnest(%s::bigint[]) AS p""",
            [group, place, group, group, [p for p, _r in shipped]],
        )
        cur.execute("COMMIT")

    op.backend_pid = conn.get_backend_pid()
    op.close = conn.close
    return op


def _measure(h: Harness, template: str, mode: str, round_: int, numbers: list[str]) -> Measured:
    def make_op(index: int, mode: str):
        mine = numbers[index::WORKERS]
        return (_service_op if mode == "service" else _raw_op)(mine)

    with h.copy_of(template):
        runs, _ = run_workers(WORKERS, op_worker, lambda i: (mode, make_op, h.scale.warmup, h.scale.duration))
        _verify(f"group-joins-{mode}-r{round_}", sum(r.total for r in runs))
    return Measured.of(runs)


@benchmark("growth.group_joins")
def group_joins(h: Harness) -> list[Figure]:
    """Group joins by 16 connections on ONE activity (its units row is the hot row, groups of 2)."""
    groups = h.scale.accounts
    template = h.template("growth_tools", lambda: _load(groups))
    with h.copy_of(template):
        numbers = _joins(groups)
    service, raw = compare_service_raw(
        h,
        lambda mode, round_: _measure(h, template, mode, round_, numbers),
        label=f"one hot activity, groups of 2, {WORKERS} connections",
        unit="joins",
    )
    return [
        Figure(
            "group joins/s, one hot activity, groups of 2, 16 connections (service vs raw SQL)",
            service,
            raw,
            "/s",
            ">=",
            0.5,
        )
    ]
