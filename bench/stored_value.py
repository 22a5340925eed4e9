"""Stored-value ledger benchmarks: spend postings, one hot account.

Each figure sets the service layer (``stored_value.ledger.stored_value_spend``)
beside one hand-written SQL transaction of the same shape on the same tables,
measured in the same run on a fresh copy of the same data.  After every run
the copy is checked with ``verify_ledgers``' stored-value checks, and the
number of spend entries written (and the fen they took) is compared with the
number of spends the workers made.
"""

from __future__ import annotations

import re
import time

from bench.common import (
    Figure,
    Harness,
    Measured,
    benchmark,
    compare_service_raw,
    copy_members,
    copy_rows,
    indexes_dropped,
    measure_on_accounts,
    raw_connection,
    reset_sequences,
)

APP_MODULES = ("stored_value.ledger", "loyalty.management.commands.verify_ledgers")  # imported once, up front

SEED_PRINCIPAL = 10**9  # fen of principal each account starts with: spends never run dry
SEED_BONUS = 10**8  # fen of bonus
SPEND = 1  # fen per spend

CHECK_PREFIX = "stored value"
# The raw-SQL baseline writes spend entries and balances only: on its copies the balance checks apply.
BALANCE_CHECKS = (
    "stored value: cached parts",
    "stored value: latest entry's balances-after",
    "stored value: a part is negative",
)


# --- data ----------------------------------------------------------------------------


def _load_accounts(members: int) -> None:
    """COPY ``members`` members, each with a credited recharge and a stored-value account.

    Member m owns recharge order m (``SEED_PRINCIPAL`` paid, ``SEED_BONUS``
    bonus, credited) and account m, whose two entries are the ones
    ``stored_value_credit`` would have written for that order: ``recharge:<m>``
    (the principal) then ``bonus:<m>``, with balances-after running in id
    order.  The data passes every stored-value check of ``verify_ledgers`` as
    loaded.
    """
    from django.db import connection
    from django.utils import timezone

    from loyalty.ledger import request_hash
    from stored_value.models import MAX_FEN, EntryKind, PlanKind, RechargePlan, RechargeStatus

    now = timezone.now()
    plan = RechargePlan.objects.create(name="bench", kind=PlanKind.OPEN, min_fen=1, max_fen=MAX_FEN)
    recharge_hash = request_hash(kind=EntryKind.RECHARGE, principal=SEED_PRINCIPAL, bonus=0)
    bonus_hash = request_hash(kind=EntryKind.BONUS, principal=0, bonus=SEED_BONUS)
    tables = [
        "members_member",
        "stored_value_rechargeorder",
        "stored_value_storedvalueaccount",
        "stored_value_storedvalueentry",
    ]
    ids = range(1, members + 1)
    with connection.cursor() as cur, indexes_dropped(cur, tables):
        copy_members(cur, members, now)
        copy_rows(
            cur,
            "stored_value_rechargeorder",
            [
                "id",
                "member_id",
                "plan_id",
                "amount_fen",
                "bonus_fen",
                "gift_points",
                "status",
                "out_trade_no",
                "refunded_fen",
                "forfeited_bonus_fen",
                "created_at",
                "credited_at",
                "closed_at",
                "refunded_at",
            ],
            (
                (m, m, plan.pk, SEED_PRINCIPAL, SEED_BONUS, 0, RechargeStatus.CREDITED.value)
                + (f"BENCH{m:012d}", 0, 0, now, now, None, None)
                for m in ids
            ),
        )
        copy_rows(
            cur,
            "stored_value_storedvalueaccount",
            ["id", "member_id", "principal_fen", "bonus_fen", "frozen", "frozen_reason", "created_at"],
            ((m, m, SEED_PRINCIPAL, SEED_BONUS, False, "", now) for m in ids),
        )

        def entries():
            for m in ids:
                reference = f"BENCH{m:012d}"
                # (id, account, kind, principal part, bonus part, principal after, bonus after, source,
                #  reference, memo, key, hash, reverses, recharge, actor, created_at)
                yield (2 * m - 1, m, "recharge", SEED_PRINCIPAL, 0, SEED_PRINCIPAL, 0, "recharge") + (
                    reference,
                    "",
                    f"recharge:{m}",
                    recharge_hash,
                    None,
                    m,
                    None,
                    now,
                )
                yield (2 * m, m, "bonus", 0, SEED_BONUS, SEED_PRINCIPAL, SEED_BONUS, "recharge") + (
                    reference,
                    "",
                    f"bonus:{m}",
                    bonus_hash,
                    None,
                    m,
                    None,
                    now,
                )

        copy_rows(
            cur,
            "stored_value_storedvalueentry",
            [
                "id",
                "account_id",
                "kind",
                "principal_fen",
                "bonus_fen",
                "principal_after_fen",
                "bonus_after_fen",
                "source",
                "reference",
                "memo",
                "idempotency_key",
                "request_hash",
                "reverses_id",
                "recharge_id",
                "actor_id",
                "created_at",
            ],
            entries(),
        )
        reset_sequences(cur, tables)


def _build(scale):
    return lambda: _load_accounts(scale.accounts)


# --- checks -------------------------------------------------------------------------


def _verify(label: str, *, balance_only: bool = False) -> None:
    """Run the stored-value checks of ``verify_ledgers`` (only the balance checks for raw SQL)."""
    from django.db import connection

    from loyalty.management.commands.verify_ledgers import all_checks, run_check

    started = time.perf_counter()
    prefix = BALANCE_CHECKS if balance_only else CHECK_PREFIX
    checks = [(d, sql) for d, sql in all_checks() if d.startswith(prefix)]
    if len(checks) < len(BALANCE_CHECKS) or (balance_only and len(checks) != len(BALANCE_CHECKS)):
        # A renamed check must not silently drop out of the verification.
        raise RuntimeError(f"unexpected stored-value checks: {[d for d, _sql in checks]}")
    violations = []
    with connection.cursor() as cur:
        for description, sql in checks:
            violations += [(description, row) for row in run_check(cur, sql)]
    if violations:
        raise RuntimeError(f"{label}: {len(violations)} ledger violation(s), e.g. {violations[:3]}")
    print(
        f"    verify_ledgers on {label}: {len(checks)} stored-value checks, 0 violations "
        f"({time.perf_counter() - started:.1f} s)",
        flush=True,
    )


def _count_spends(tag: str) -> tuple[int, int]:
    """The spend entries a run wrote (keys ``<tag>:…``) and the fen they took."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """SELECT count(*), COALESCE(-SUM(principal_fen + bonus_fen), 0) FROM stored_value_storedvalueentry
               WHERE idempotency_key LIKE %s AND kind = 'spend'""",
            [f"{tag}:%"],
        )
        return cur.fetchone()


# --- spends: service layer vs raw SQL ------------------------------------------------


def _service_op(members: list[int], tag: str):
    from stored_value import ledger

    def op(i: int) -> None:
        ledger.stored_value_spend(
            member_id=members[i % len(members)], amount_fen=SPEND, idempotency_key=f"{tag}:{i}"
        )

    return op


def _raw_op(accounts: list[int], tag: str):
    """The same spend as one plain transaction: lock, insert the entry, update both parts."""
    conn = raw_connection()
    cur = conn.cursor()

    def op(i: int) -> None:
        account = accounts[i % len(accounts)]
        cur.execute("BEGIN")
        cur.execute(
            "SELECT principal_fen, bonus_fen FROM stored_value_storedvalueaccount WHERE id = %s FOR UPDATE",
            [account],
        )
        principal, bonus = cur.fetchone()
        if principal + bonus < SPEND:
            cur.execute("ROLLBACK")
            raise RuntimeError(f"account {account} ran dry")
        principal_part = SPEND * principal // (principal + bonus)  # proportional, odd fen from the bonus
        bonus_part = SPEND - principal_part
        principal, bonus = principal - principal_part, bonus - bonus_part
        cur.execute(
            "INSERT INTO stored_value_storedvalueentry (account_id, kind, principal_fen, bonus_fen, "
            "principal_after_fen, bonus_after_fen, source, reference, memo, idempotency_key, request_hash, "
            "created_at) VALUES (%s, 'spend', %s, %s, %s, %s, '', '', '', %s, '', now())",
            [account, -principal_part, -bonus_part, principal, bonus, f"{tag}:{i}"],
        )
        cur.execute(
            "UPDATE stored_value_storedvalueaccount SET principal_fen = %s, bonus_fen = %s WHERE id = %s",
            [principal, bonus, account],
        )
        cur.execute("COMMIT")

    op.conn, op.backend_pid = conn, conn.get_backend_pid()
    return op


def _make_op(members: list[int], tag: str):
    # Member m owns account m, so the same list serves both.
    return lambda index, mode: (_service_op if mode == "service" else _raw_op)(members, f"{tag}:{index}")


def _measure(h: Harness, template: str, workers: int, mode: str, *, hot: bool, round_: int) -> Measured:
    def check(runs) -> str:
        made = sum(r.total for r in runs)
        written, fen = _count_spends(tag)
        if not made == written or fen != written * SPEND:
            raise RuntimeError(
                f"{tag}: workers made {made} spends but {written} entries taking {fen} fen were written"
            )
        _verify(f"{tag} ({written} spends)", balance_only=mode == "raw")
        return f"{written} spends"

    tag = f"sv-{'hot' if hot else 'spread'}-{mode}-{workers}-r{round_}"
    return measure_on_accounts(
        h,
        template,
        workers=workers,
        mode=mode,
        hot=hot,
        tag=tag,
        make_op=_make_op,
        check=check,
        unit="spends",
    )


def _compare(h: Harness, template: str, workers: int, *, hot: bool) -> tuple[float, float]:
    return compare_service_raw(
        h,
        lambda mode, round_: _measure(h, template, workers, mode, hot=hot, round_=round_),
        label=f"stored value, {'one hot account' if hot else 'spread accounts'}, {workers} connection(s)",
        unit="spends",
    )


@benchmark("stored_value.postings")
def postings(h: Harness) -> list[Figure]:
    """Stored-value spends, each on another member's account: service vs raw SQL at 1 and 16 connections."""
    template = h.template("stored_value", _build(h.scale))
    figures = []
    for workers in (1, 16):
        service, raw = _compare(h, template, workers, hot=False)
        label = "1 connection" if workers == 1 else f"{workers} connections"
        figures.append(
            Figure(f"stored-value spends/s, {label} (service vs raw SQL)", service, raw, "/s", ">=", 0.5)
        )
    _note_spend_cost(h, template)
    return figures


def _note_spend_cost(h: Harness, template: str, n: int = 1000) -> None:
    """Where a service spend's client CPU goes: the statements it sends, against raw SQL's."""
    from django.db import connection

    from stored_value import ledger

    def client_cpu(op) -> float:
        """Client CPU per call, ms (after a warm-up)."""
        for i in range(100):
            op(i)
        started = time.process_time()
        for i in range(100, 100 + n):
            op(i)
        return (time.process_time() - started) / n * 1000

    members = h.scale.accounts
    with h.copy_of(template):
        statements = []

        def record(execute, sql, params, many, context):
            if sql.startswith("EXECUTE "):  # a statement prepared on the connection (loyalty.prepared)
                statements.append(sql.split("(")[0])
                return execute(sql, params, many, context)
            writes = re.findall(r'(INSERT INTO|UPDATE|FROM)\s+"?(\w+_\w+)', sql)
            statements.append(
                f"{sql.split()[0]} "
                + ", ".join(f"{verb.split()[0]} {table}" for verb, table in writes)
                + (" FOR UPDATE" if "FOR UPDATE" in sql else "")
            )
            return execute(sql, params, many, context)

        # A first spend prepares the statements on this connection; the recorded one is a usual spend.
        ledger.stored_value_spend(member_id=2, amount_fen=SPEND, idempotency_key="probe:warm")
        with connection.execute_wrapper(record):
            ledger.stored_value_spend(member_id=1, amount_fen=SPEND, idempotency_key="probe:0")
        spend_ms = client_cpu(
            lambda i: ledger.stored_value_spend(
                member_id=1 + i % members, amount_fen=SPEND, idempotency_key=f"probe:{i + 1}"
            )
        )
        raw = _raw_op(list(range(1, members + 1)), "probe-raw")
        raw_ms = client_cpu(raw)
        raw.conn.close()
        _verify("spend-cost probe")
    h.note(
        f"one connection, client CPU per spend: service {spend_ms:.2f} ms, raw SQL {raw_ms:.2f} ms; the service "
        f"sends {len(statements)} statements besides BEGIN/COMMIT ({'; '.join(statements)})"
    )


@benchmark("stored_value.hot_account")
def hot_account(h: Harness) -> list[Figure]:
    """Stored-value spends by 16 connections on ONE member's account: service vs raw SQL."""
    template = h.template("stored_value", _build(h.scale))
    service, raw = _compare(h, template, 16, hot=True)
    return [
        Figure(
            "hot-account stored-value spends/s, 16 connections (service vs raw SQL)",
            service,
            raw,
            "/s",
            ">=",
            0.5,
        )
    ]
