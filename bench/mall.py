"""Points mall benchmark: redemptions of ONE hot item by 16 connections, service vs raw SQL.

The service is ``mall.services.redemption_create`` (advisory lock on item and
member, replay and limit checks, the points spend through ``points.ledger``
with its lots and allocations, then stock, redemption and event in one
statement).  The baseline is the same shape by hand: lock the member's
points account, insert the spend entry and set the balance, take one from
the item's stock if any is left and insert the redemption — one
transaction.  After every run the copy is checked (mall checks, and the
points checks that apply: all for the service, the balance checks for the
baseline, which writes no lots) and the redemptions written are counted
against the redemptions the workers made.
"""

from __future__ import annotations

from bench.common import (
    Figure,
    Harness,
    Measured,
    benchmark,
    compare_service_raw,
    copy_rows,
    indexes_dropped,
    op_worker,
    raw_connection,
    reset_sequences,
    run_workers,
)

APP_MODULES = ("mall.services", "points.ledger", "loyalty.management.commands.verify_ledgers")
ITEM_ID = 1
WORKERS = 16
POINTS = 100
BALANCE_CHECKS = ("points: cached balance", "points: latest entry's balance_after")


def _load(members: int) -> None:
    """Members with 1,000,000 points each (one lot), an address each, and one item with stock for all."""
    from django.db import connection
    from django.utils import timezone

    from bench.points import _build_postings
    from mall.models import MallItem

    class _Scale:
        accounts = members

    _build_postings(_Scale)()
    now = timezone.now()
    with connection.cursor() as cur, indexes_dropped(cur, ["mall_shippingaddress"]):
        copy_rows(
            cur,
            "mall_shippingaddress",
            ["id", "member_id", "recipient", "phone", "province", "city", "district", "detail", "postal_code",
             "is_default", "created_at"],
            ((m, m, "bench", "13800000000", "浙江省", "杭州市", "", "bench", "", True, now) for m in range(1, members + 1)),
        )  # fmt: skip
        reset_sequences(cur, ["mall_shippingaddress"])
    MallItem.objects.create(
        pk=ITEM_ID, name="bench 保温杯", kind="physical", points=POINTS, stock=2_000_000_000
    )


def _verify(label: str, expected: int, *, service: bool) -> None:
    from django.db import connection

    from loyalty.management.commands.verify_ledgers import all_checks, run_check

    wanted = ("mall:", "points:") if service else ("mall: an item", *BALANCE_CHECKS)
    violations = []
    with connection.cursor() as cur:
        for description, sql in all_checks():
            if description.startswith(wanted):
                violations += [(description, row) for row in run_check(cur, sql)]
        cur.execute(
            "SELECT count(*), (SELECT sold_count FROM mall_mallitem WHERE id = %s) FROM mall_redemption",
            [ITEM_ID],
        )
        written, sold = cur.fetchone()
    if violations:
        raise RuntimeError(f"{label}: {len(violations)} violation(s), e.g. {violations[:3]}")
    if not written == sold == expected:
        raise RuntimeError(f"{label}: {expected} redemptions made but {written} written, {sold} sold")
    print(f"    {label}: {written:,} redemptions, checks clean", flush=True)


def _service_op(members: list[int], tag: str):
    from mall import services
    from members.models import Member

    people = [Member(pk=m) for m in members]

    def op(i: int) -> None:
        member = people[i % len(people)]
        services.redemption_create(
            member=member, item_id=ITEM_ID, idempotency_key=f"{tag}:{i}", address_id=member.pk
        )

    return op


def _raw_op(members: list[int], tag: str):
    """The same redemption as one plain transaction: spend the points, take the stock, insert the redemption."""
    from mall.services import _new_no

    conn = raw_connection()
    cur = conn.cursor()

    def op(i: int) -> None:
        member = members[i % len(members)]
        no = _new_no()
        cur.execute("BEGIN")
        cur.execute("SELECT id, balance FROM points_pointsaccount WHERE member_id = %s FOR UPDATE", [member])
        account, balance = cur.fetchone()
        if balance < POINTS:
            cur.execute("ROLLBACK")
            raise RuntimeError("not enough points")
        cur.execute(
            """WITH e AS (INSERT INTO points_pointsentry (account_id, kind, amount, balance_after, source, reference,
                          memo, idempotency_key, request_hash, created_at)
                          VALUES (%s, 'spend', %s, %s, 'mall', %s, '', %s, '', now()) RETURNING id)
               UPDATE points_pointsaccount SET balance = %s WHERE id = %s""",
            [account, -POINTS, balance - POINTS, no, f"mall:{no}", balance - POINTS, account],
        )
        cur.execute(
            """WITH stock AS (UPDATE mall_mallitem SET stock = stock - 1, sold_count = sold_count + 1
                              WHERE id = %s AND stock > 0 RETURNING id)
               INSERT INTO mall_redemption (no, member_id, item_id, kind, points, cash_fen, status, idempotency_key,
                   request_hash, out_trade_no, recipient, phone, address, carrier, tracking_no, cancel_reason,
                   created_at, paid_at)
               SELECT %s, %s, id, 'physical', %s, 0, 'paid', %s, '', '', 'bench', '13800000000', 'bench', '', '', '',
                   now(), now() FROM stock""",
            [ITEM_ID, no, member, POINTS, f"{tag}:{i}"],
        )
        if cur.rowcount != 1:
            cur.execute("ROLLBACK")
            raise RuntimeError("sold out")
        cur.execute("COMMIT")

    op.backend_pid = conn.get_backend_pid()
    op.close = conn.close
    return op


def _measure(h: Harness, template: str, mode: str, round_: int) -> Measured:
    tag = f"redeem-{mode}-r{round_}"
    members = list(range(1, h.scale.accounts + 1))

    def make_op(index: int, mode: str):
        return (_service_op if mode == "service" else _raw_op)(members[index::WORKERS], f"{tag}:{index}")

    with h.copy_of(template):
        runs, _ = run_workers(WORKERS, op_worker, lambda i: (mode, make_op, h.scale.warmup, h.scale.duration))
        _verify(tag, sum(r.total for r in runs), service=mode == "service")
    return Measured.of(runs)


def _note_cpu_breakdown(h: Harness, template: str) -> None:
    """One connection, CPU per operation: a redemption, the bare points spend it includes, the raw baseline.

    Says how much of the gap is the points ledger's (its lots and allocations) and how much the mall's.
    """
    import time

    from django.db import connection

    from bench.common import backend_cpu
    from points import ledger

    n = 300
    members = list(range(1, n + 1))
    with h.copy_of(template):
        connection.ensure_connection()
        server = backend_cpu(connection.connection.get_backend_pid())
        redeem = _service_op(members, "cpu-redeem")
        raw = _raw_op(members, "cpu-raw")
        raw_server = backend_cpu(raw.backend_pid)

        def spend(i: int) -> None:
            ledger.points_spend(member_id=members[i % n], amount=POINTS, idempotency_key=f"cpu-spend:{i}")

        figures = {}
        for name, op, read in (
            ("redemption", redeem, server),
            ("points_spend alone", spend, server),
            ("raw", raw, raw_server),
        ):
            for i in range(20):
                op(n + i)  # warm
            c0, s0 = time.process_time(), read() if read else 0.0
            for i in range(n):
                op(i)
            client = (time.process_time() - c0) / n * 1000
            figures[name] = (client, ((read() - s0) / n * 1000) if read else float("nan"))
        raw.close()
    h.note(
        "one connection, CPU per operation (client + server): "
        + "; ".join(f"{name} {c:.2f} + {s:.2f} ms" for name, (c, s) in figures.items())
        + " — the points ledger's spend (its lots and allocations; in a redemption without a savepoint of its"
        " own) is part of every redemption"
    )


@benchmark("mall.redemptions")
def redemptions(h: Harness) -> list[Figure]:
    """Redemptions by 16 connections of ONE item (its stock row is the hot row): service vs raw SQL."""
    template = h.template("mall", lambda: _load(h.scale.accounts))
    _note_cpu_breakdown(h, template)
    service, raw = compare_service_raw(
        h,
        lambda mode, round_: _measure(h, template, mode, round_),
        label=f"one hot item, {WORKERS} connections",
        unit="redemptions",
    )
    return [
        Figure(
            "redemptions/s, one hot item, 16 connections (service vs raw SQL)", service, raw, "/s", ">=", 0.5
        )
    ]
