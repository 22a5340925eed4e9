"""Does a spend, a checkout commit and the expiry job cost the same at 50M points entries as at 1M?

    python -m bench.growth                                   # 1M vs 10M and 50M (about 45 minutes on 2 cores)
    python -m bench.growth --sizes 1000000 10000000          # a quicker pair
    python -m bench.growth --archive --sizes 300000          # time the archive job instead

Two databases, ``$BENCH_DB`` + ``_growth_base`` and ``_growth`` (``loyalty_bench_growth*`` by default; a
``python -m bench`` started meanwhile with the same ``BENCH_DB`` drops them): the same members and live
points are loaded into both; then *history* is added to the baseline up to the first size, and to the
other up to each further size in turn.  History is what a ledger accumulates: per round and account an
``earn`` with its lot and a ``spend`` that used it up (one allocation), dated in the past, so the lots
are closed and the tables (entries, lots, allocations, their indexes) grow while the open lots, which
the hot paths read, stay as they are.  Rows are made with ``generate_series`` (set-based, indexes
dropped and rebuilt around each growth step).

At each further size, 3 rounds alternate between the baseline and the grown database (which goes first
alternates too), so both sides of a ratio share the machine's moment:

- **spend**: ``points_spend`` of 1 point on a random account of the first 40,000 (each holds one lot of
  1,000,000 points), 1,000 per round, one connection; median and p99 per spend.
- **checkout commit**: ``order_commit`` of a two-line basket paying 100 points and the rest in cash, on
  the same accounts, 300 per round; median and p99.
- **expiry job**: ``points_expire_due`` on a batch of 10,000 accounts with one lot due each (a batch
  per round and size, set up at load, due at their own moment, so every run finds exactly 10,000); time
  per lot expired.

Beside the times, the shared-buffer pages each operation touched and, of those, the pages read from
outside shared buffers (``pg_stat_database``): the work, which size should not change, and the cache
misses, which it does.  Every number is per operation on one connection, with ``synchronous_commit``
off for it (the WAL flush at commit does not depend on the table sizes and is the noisiest part on a
shared machine).  Target: grown / baseline ≤ 1.3×.  Both databases are dropped at the end (``--keep``
keeps them).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import timedelta

SPENDERS = 40_000  # accounts 1..SPENDERS spend and check out
BATCH = 10_000  # accounts per expiry batch, after the spenders
ROUNDS = 3
SPENDS, COMMITS = 1_000, 300
SEED_POINTS = 1_000_000


def database() -> str:
    return os.environ.get("BENCH_DB", "loyalty_bench") + "_growth"


def sql(statement: str, params=None) -> list:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else []


def batch_moment(k: int, now):
    """When expiry batch ``k``'s lots fall due: in the past, an hour apart, in batch order."""
    return now - timedelta(days=3) + timedelta(hours=k)


def load(batches: int, now) -> None:
    """Members, accounts, one open lot per account: spenders' big ones, each expiry batch's due at its moment."""
    from bench.common import MEMBER_COLUMNS

    members = SPENDERS + batches * BATCH
    sql("SET session_replication_role = replica")
    sql(
        f"""INSERT INTO members_member ({", ".join(MEMBER_COLUMNS)})
            SELECT m, 'growth-' || m, '', '', '', '', 0, 'G' || lpad(m::text, 10, '0'), 'bench', %s
            FROM generate_series(1, %s) m""",
        [now, members],
    )
    # Account a, its entry a, its lot a. Spenders' lots never expire in the run; batch k's at its moment.
    points = f"CASE WHEN a <= {SPENDERS} THEN {SEED_POINTS} ELSE 100 END"
    expires = (
        f"CASE WHEN a <= {SPENDERS} THEN %(now)s + interval '2 years' "
        f"ELSE %(t0)s + ((a - {SPENDERS} - 1) / {BATCH}) * interval '1 hour' END"
    )
    params = {"now": now, "t0": batch_moment(0, now), "n": members}
    sql(
        f"""INSERT INTO points_pointsaccount (id, member_id, balance, created_at)
            SELECT a, a, {points}, %(now)s FROM generate_series(1, %(n)s) a""",
        params,
    )
    sql(
        f"""INSERT INTO points_pointsentry (id, account_id, kind, amount, balance_after, source, reference, memo,
                                            idempotency_key, request_hash, created_at)
            SELECT a, a, 'earn', {points}, {points}, 'bench', '', '', 'seed', '', %(now)s - interval '30 days'
            FROM generate_series(1, %(n)s) a""",
        params,
    )
    sql(
        f"""INSERT INTO points_pointslot (id, account_id, entry_id, amount, remaining, source, earned_at, expires_at)
            SELECT a, a, a, {points}, {points}, 'bench', %(now)s - interval '30 days', {expires}
            FROM generate_series(1, %(n)s) a""",
        params,
    )
    sql("RESET session_replication_role")
    _reset_sequences()


def _reset_sequences() -> None:
    for table in (
        "members_member",
        "points_pointsaccount",
        "points_pointsentry",
        "points_pointslot",
        "points_pointsallocation",
    ):
        sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
        )


TABLES = ["points_pointsentry", "points_pointslot", "points_pointsallocation"]


def _secondary_indexes() -> list[tuple[str, str, str]]:
    """(table, drop statement, create statement) for every index and unique constraint but primary keys."""
    rows = sql(
        """SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
           FROM pg_constraint c WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype = 'u'""",
        [TABLES],
    )
    found = [
        (t, f'ALTER TABLE {t} DROP CONSTRAINT "{n}"', f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}')
        for t, n, d in rows
    ]
    rows = sql(
        """SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid = ANY(%s::regclass[])
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        [TABLES],
    )
    return found + [(t, f"DROP INDEX {n}", d) for t, n, d in rows]


def grow(to_entries: int, now) -> float:
    """Add history rounds (an earn, its closed lot, a spend and its allocation per account) up to ``to_entries``."""
    started = time.perf_counter()
    members = sql("SELECT count(*) FROM points_pointsaccount")[0][0]
    have = sql("SELECT count(*) FROM points_pointsentry")[0][0]
    rounds = max(0, -(-(to_entries - have) // (2 * members)))
    if not rounds:
        return 0.0
    done = sql("SELECT count(*) FROM points_pointsentry WHERE idempotency_key LIKE 'h:%:e'")[0][0] // members
    indexes = _secondary_indexes()
    for _table, drop, _create in indexes:
        sql(drop)
    sql("SET session_replication_role = replica")
    step = max(1, 2_000_000 // (2 * members))
    for first in range(done, done + rounds, step):
        last = min(first + step, done + rounds) - 1
        e0 = sql("SELECT COALESCE(MAX(id), 0) FROM points_pointsentry")[0][0]
        l0 = sql("SELECT COALESCE(MAX(id), 0) FROM points_pointslot")[0][0]
        al0 = sql("SELECT COALESCE(MAX(id), 0) FROM points_pointsallocation")[0][0]
        params = {"first": first, "last": last, "m": members, "e0": e0, "l0": l0, "al0": al0, "now": now}
        # Round r, account a: earn e0 + 2k + 1 and spend e0 + 2k + 2, lot l0 + k + 1, allocation al0 + k + 1,
        # with k = (r - first) * m + a - 1; dated a day per round back from 400 days ago.
        series = "FROM generate_series(%(first)s, %(last)s) r, points_pointsaccount acc"
        k = "((r - %(first)s) * %(m)s + acc.id - 1)"
        at = "%(now)s - interval '400 days' + r * interval '1 hour'"
        sql(
            f"""INSERT INTO points_pointsentry (id, account_id, kind, amount, balance_after, source, reference, memo,
                                                idempotency_key, request_hash, created_at)
                SELECT %(e0)s + 2 * {k} + 1 + s, acc.id, CASE WHEN s = 0 THEN 'earn' ELSE 'spend' END,
                       CASE WHEN s = 0 THEN 10 ELSE -10 END, acc.balance + 10 * (1 - s), 'bench', '', '',
                       'h:' || r || CASE WHEN s = 0 THEN ':e' ELSE ':s' END, '', {at}
                {series}, generate_series(0, 1) s""",
            params,
        )
        sql(
            f"""INSERT INTO points_pointslot (id, account_id, entry_id, amount, remaining, source, earned_at, expires_at)
                SELECT %(l0)s + {k} + 1, acc.id, %(e0)s + 2 * {k} + 1, 10, 0, 'bench', {at}, {at} + interval '1 year'
                {series}""",
            params,
        )
        sql(
            f"""INSERT INTO points_pointsallocation (id, entry_id, lot_id, amount)
                SELECT %(al0)s + {k} + 1, %(e0)s + 2 * {k} + 2, %(l0)s + {k} + 1, 10 {series}""",
            params,
        )
        print(f"    history rounds {first}..{last}: {time.perf_counter() - started:.0f} s", flush=True)
    sql("RESET session_replication_role")
    sql("SET maintenance_work_mem = '1GB'")
    for _table, _drop, create in indexes:
        sql(create)
    print(f"    rebuilt {len(indexes)} indexes: {time.perf_counter() - started:.0f} s", flush=True)
    _reset_sequences()
    sql("VACUUM (ANALYZE) points_pointsentry")
    sql("VACUUM (ANALYZE) points_pointslot")
    sql("VACUUM (ANALYZE) points_pointsallocation")
    return time.perf_counter() - started


def _timed(op, count: int) -> list[float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        op(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure_spends(tag: str, rng: random.Random, count: int = SPENDS) -> list[float]:
    from points import ledger

    def op(i):
        ledger.points_spend(member_id=rng.randint(1, SPENDERS), amount=1, idempotency_key=f"{tag}:{i}")

    return _timed(op, count)


def measure_commits(tag: str, rng: random.Random) -> list[float]:
    from orders.quote import BasketInput, LineInput, compute_quote
    from orders.services import order_commit

    basket = BasketInput(
        lines=(
            LineInput(sku="TEA-001", name="tea", category="tea", unit_price_fen=5_800, quantity=1),
            LineInput(sku="CUP-001", name="cup", category="teaware", unit_price_fen=1_990, quantity=2),
        ),
        shipping_fen=800,
        coupon_ids=(),
        points=100,
    )
    times = []
    for i in range(COMMITS):
        member = rng.randint(1, SPENDERS)
        fingerprint = compute_quote(member_id=member, basket=basket).fingerprint  # the quote the member saw
        started = time.perf_counter()
        result = order_commit(member_id=member, order_no=f"{tag}-{i}", basket=basket, quote_hash=fingerprint)
        times.append((time.perf_counter() - started) * 1000)
        assert result.order.points_used == 100, result.order.points_used
    return times


def measure_expiry(k: int, now) -> float:
    """Milliseconds per lot for ``points_expire_due`` on batch ``k`` (exactly ``BATCH`` lots due)."""
    from points import ledger

    at = batch_moment(k, now) + timedelta(minutes=1)
    started = time.perf_counter()
    expired = ledger.points_expire_due(now=at, pause=0)
    took = time.perf_counter() - started
    assert expired == BATCH, (k, expired)
    return took * 1000 / expired


def sizes_of() -> dict:
    return {
        t: sql(f"SELECT pg_total_relation_size('{t}')")[0][0]
        for t in ("points_pointsentry", "points_pointslot", "points_pointsallocation")
    }


def blocks() -> tuple[int, int]:
    """Shared-buffer pages this database has touched (hit + read) and, of those, the pages not in shared
    buffers (read from the OS cache or the disk); flushed to the statistics first."""
    sql("SELECT pg_stat_force_next_flush()")
    time.sleep(0.05)
    sql("SELECT pg_stat_clear_snapshot()")
    return sql(
        "SELECT blks_hit + blks_read, blks_read FROM pg_stat_database WHERE datname = current_database()"
    )[0]


def connect(dbname: str) -> None:
    from bench.common import use_database

    use_database(dbname)
    # The commit's flush to disk costs the same at any size and, on a shared machine, varies more than
    # anything measured here: it is taken out (per session), so what is left is what size can change.
    sql("SET synchronous_commit = off")


def measure(dbname: str, step: int, r: int, rng: random.Random, now) -> dict:
    """One round on ``dbname``: spends, commits, one expiry batch; ms per op and pages per op."""
    connect(dbname)
    measure_spends(f"warm{step}-{r}", rng, 50)  # prepared statements, caches of this connection
    out = {}
    b = blocks()
    spends = measure_spends(f"s{step}-{r}", rng, SPENDS)
    out["spend"] = (statistics.median(spends), percentile(spends, 99), *_per(b, SPENDS))
    b = blocks()
    commits = measure_commits(f"c{step}-{r}", rng)
    out["commit"] = (statistics.median(commits), percentile(commits, 99), *_per(b, COMMITS))
    b = blocks()
    per_lot = measure_expiry(step * ROUNDS + r, now)
    out["expiry"] = (per_lot, per_lot, *_per(b, BATCH))
    return out


def _per(before: tuple[int, int], count: int) -> tuple[float, float]:
    after = blocks()
    return (after[0] - before[0]) / count, (after[1] - before[1]) / count


def percentile(values, pct):
    from bench.common import percentile as p

    return p(values, pct)


def archive_run(size: int) -> None:
    """``--archive``: time ``points_archive`` on ``size`` entries of settled history, then verify in full."""
    from bench.common import create_database, drop_database, setup_django, use_database

    setup_django()
    from django.core.management import call_command
    from django.utils import timezone

    from loyalty.management.commands.verify_ledgers import find_violations
    from points import ledger

    name = database() + "_archive"
    now = timezone.now()
    create_database(name)
    try:
        use_database(name)
        call_command("migrate", verbosity=0, interactive=False)
        use_database(name)
        load(0, now)
        # Settle every account's first lot (it expires), then add the history after it: every account
        # can move all but its latest entry.
        sql("UPDATE points_pointslot SET expires_at = %s WHERE remaining > 0", [now - timedelta(days=60)])
        ledger.points_expire_due(now=now - timedelta(days=30), pause=0)
        grow(size, now)
        live = sql("SELECT count(*) FROM points_pointsentry")[0][0]
        started = time.perf_counter()
        moved = ledger.points_archive(before=now - timedelta(days=1), pause=0)
        took = time.perf_counter() - started
        print(
            f"archived {moved.entries:,} of {live:,} entries, {moved.lots:,} lots, {moved.allocations:,} allocations "
            f"in {took:.1f} s: {(moved.entries + moved.lots + moved.allocations) / took:,.0f} rows/s "
            f"({moved.entries / took:,.0f} entries/s)",
            flush=True,
        )
        started = time.perf_counter()
        violations = find_violations()
        print(
            f"verify_ledgers --full: {len(violations)} violation(s) in {time.perf_counter() - started:.1f} s"
        )
        assert not violations, violations[:5]
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000, 50_000_000])
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--archive", action="store_true", help="Time the archive job on the first size instead."
    )
    args = parser.parse_args()
    if args.archive:
        return archive_run(args.sizes[0])
    base_db, big_db = database() + "_base", database()
    from bench.common import create_database, drop_database, setup_django, use_database

    setup_django()
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    now = timezone.now()
    steps = len(args.sizes) - 1
    for name in (base_db, big_db):
        create_database(name)
        use_database(name)
        call_command("migrate", verbosity=0, interactive=False)
        use_database(name)
        load(steps * ROUNDS, now)
    use_database(base_db)
    grow(args.sizes[0], now)
    base_entries = sql("SELECT count(*) FROM points_pointsentry")[0][0]
    print(f"  baseline {base_db}: {base_entries:,} entries; {sizes_of()}", flush=True)
    rng = random.Random(22)
    table = []
    try:
        for step, size in enumerate(args.sizes[1:]):
            use_database(big_db)
            took = grow(size, now)
            entries = sql("SELECT count(*) FROM points_pointsentry")[0][0]
            print(f"  {big_db}: {entries:,} entries (grown in {took:.0f} s); {sizes_of()}", flush=True)
            rows = {(db, op): [] for db in ("base", "big") for op in ("spend", "commit", "expiry")}
            for r in range(ROUNDS):
                order = [("base", base_db), ("big", big_db)][:: 1 if r % 2 == 0 else -1]
                for label, name in order:
                    got = measure(name, step, r, rng, now)
                    for op, v in got.items():
                        rows[(label, op)].append(v)
                    print(
                        f"    round {r} {label}: "
                        + "; ".join(
                            f"{op} p50 {v[0]:.3f} ms p99 {v[1]:.3f} ms {v[2]:.1f} pages ({v[3]:.2f} read)"
                            for op, v in got.items()
                        ),
                        flush=True,
                    )
            table.append((entries, rows))
        print(
            f"\nper operation, {base_entries:,} entries (baseline) vs the grown database, rounds interleaved"
        )
        print(
            "entries | op | median ms (baseline) | median ms | ratio | spread of ratios | pages/op baseline → grown"
            " | pages read/op baseline → grown"
        )
        for entries, rows in table:
            for op in ("spend", "commit", "expiry"):
                base = [v[0] for v in rows[("base", op)]]
                big = [v[0] for v in rows[("big", op)]]
                ratios = [b / a for a, b in zip(base, big, strict=True)]
                pages = [
                    statistics.median(v[k] for v in rows[(db, op)]) for k in (2, 3) for db in ("base", "big")
                ]
                print(
                    f"{entries:,} | {op} | {statistics.median(base):.3f} | {statistics.median(big):.3f} | "
                    f"{statistics.median(big) / statistics.median(base):.2f}× | {min(ratios):.2f}–{max(ratios):.2f}× | "
                    f"{pages[0]:.1f} → {pages[1]:.1f} | {pages[2]:.2f} → {pages[3]:.2f}"
                )
    finally:
        connections.close_all()
        if not args.keep:
            drop_database(base_db)
            drop_database(big_db)


if __name__ == "__main__":
    main()
