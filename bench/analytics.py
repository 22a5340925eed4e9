"""Analytics benchmark: RFM through the service against a hand-written SQL query, and the dashboard render.

The data set (``small`` 10,000 members / 100,000 orders, ``full`` 1,000,000 /
10,000,000), COPY-loaded: ten orders per member over the last two years,
90% completed, 4% partly and 3% fully refunded, 3% cancelled, a quarter paid
partly with stored value.  The generator builds each COPY line itself (one
string per order, timestamps from a pre-formatted pool), which is what makes
ten million rows take minutes rather than tens of minutes.

* **RFM**: ``rfm_run_execute()`` (the delete of the previous scores, then
  facts, cut points, scores and segments in one insert, with its run row) beside
  a hand-written query doing the same work into the same empty table, written
  independently (``CASE`` ladders instead of counting cut points).  Both on
  fresh copies, alternating which goes first; every run must leave identical
  scores (md5 over member, R, F, M, segment).
* **dashboard**: the report tables are refreshed (timed, informational), then
  the admin dashboard is rendered through the Django test client for the
  default 90 days and for a whole year (median of five renders each).
"""

from __future__ import annotations

import io
import random
import statistics
import time
from datetime import datetime, timedelta

from bench.common import Figure, Harness, benchmark, copy_members, indexes_dropped, reset_sequences

APP_MODULES = ("analytics.rfm", "analytics.reports", "analytics.admin", "analytics.selectors")

MEMBERS = {"small": 10_000, "full": 1_000_000}
ORDERS_PER_MEMBER = 10
HISTORY_DAYS = 730

ORDER_COLUMNS = [
    "id", "order_no", "member_id", "status", "request_hash", "quote_hash", "goods_fen", "shipping_fen",
    "benefit_discount_fen", "coupon_discount_fen", "shipping_discount_fen", "points_used", "points_fen",
    "stored_value_fen", "cash_fen", "shipping_stored_value_fen", "shipping_cash_fen", "coupon_ids",
    "benefit_sources", "earned_points", "refunded_goods_fen", "refunded_shipping_fen", "refunded_points",
    "refunded_points_fen", "refunded_stored_value_fen", "refunded_cash_fen", "reversed_earned_points",
    "committed_at", "expires_at", "completed_at",
]  # fmt: skip


def _order_lines(members: int, now):
    """One tab-separated COPY line per order."""
    rng = random.Random(20261201)
    pool = []
    for _ in range(200_000):
        at = now - timedelta(seconds=rng.randint(3600, HISTORY_DAYS * 86400))
        pool.append(
            (
                at.isoformat(),
                (at - timedelta(minutes=5)).isoformat(),
                (at + timedelta(minutes=25)).isoformat(),
            )
        )
    prices = [3_900, 8_800, 12_800, 25_900, 49_900, 128_000]
    order_id = 0
    for m in range(1, members + 1):
        for _ in range(ORDERS_PER_MEMBER):
            order_id += 1
            paid = rng.choice(prices)
            sv = paid // 2 if rng.random() < 0.25 else 0
            cash = paid - sv
            roll = rng.random()
            done, committed, expires = rng.choice(pool)
            if roll < 0.03:
                status, r_sv, r_cash, done = "cancelled", 0, 0, r"\N"
            elif roll < 0.06:
                status, r_sv, r_cash = "refunded", sv, cash
            elif roll < 0.10:
                status, r_sv, r_cash = "partially_refunded", sv // 2, cash // 2
            else:
                status, r_sv, r_cash = "completed", 0, 0
            yield (
                f"{order_id}\tB{order_id}\t{m}\t{status}\tx\tx\t{paid}\t0\t0\t0\t0\t0\t0\t{sv}\t{cash}\t0\t0\t[]\t{{}}"
                f"\t0\t{r_sv + r_cash}\t0\t0\t0\t{r_sv}\t{r_cash}\t0\t{committed}\t{expires}\t{done}"
            )


def _copy_lines(cur, table: str, columns: list[str], lines, chunk: int = 200_000) -> int:
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    count, buf = 0, []
    started = time.perf_counter()
    for line in lines:
        buf.append(line)
        if len(buf) == chunk:
            cur.copy_expert(sql, io.StringIO("\n".join(buf) + "\n"))
            count, buf = count + len(buf), []
    if buf:
        cur.copy_expert(sql, io.StringIO("\n".join(buf) + "\n"))
        count += len(buf)
    print(f"    copied {count:,} rows into {table} in {time.perf_counter() - started:.1f} s", flush=True)
    return count


def _load(members: int, now) -> None:
    from django.db import connection

    tables = ["members_member", "orders_order"]
    with connection.cursor() as cur, indexes_dropped(cur, tables):
        copy_members(cur, members, now - timedelta(days=HISTORY_DAYS + 1))
        # The members' sign-ups spread over the two years, for the new-member charts.
        cur.execute(
            "UPDATE members_member SET registered_at = %s - (id %% %s) * interval '1 day'",
            [now, HISTORY_DAYS],
        )
        _copy_lines(cur, "orders_order", ORDER_COLUMNS, _order_lines(members, now))
        reset_sequences(cur, tables)


# The same work by hand, into the same (empty) table.
_RAW_SQL = """
INSERT INTO analytics_rfmscore
    (member_id, run_id, last_purchase_at, recency_days, frequency, monetary_fen, r_score, f_score, m_score, segment)
WITH f AS (
    SELECT member_id, max(completed_at) AS last_at, count(*) AS freq,
           sum(stored_value_fen + cash_fen - refunded_stored_value_fen - refunded_cash_fen)::bigint AS money,
           floor(extract(epoch FROM (%(as_of)s - max(completed_at))) / 86400)::int AS rec
    FROM orders_order
    WHERE completed_at IS NOT NULL AND status <> 'refunded'
      AND completed_at >= %(since)s AND completed_at < %(as_of)s
    GROUP BY member_id
), c AS (
    SELECT percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY rec) AS rc,
           percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY freq) AS fc,
           percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY money) AS mc
    FROM f
), s AS (
    SELECT f.*,
           CASE WHEN rec <= rc[1] THEN 5 WHEN rec <= rc[2] THEN 4 WHEN rec <= rc[3] THEN 3
                WHEN rec <= rc[4] THEN 2 ELSE 1 END AS r,
           CASE WHEN freq <= fc[1] THEN 1 WHEN freq <= fc[2] THEN 2 WHEN freq <= fc[3] THEN 3
                WHEN freq <= fc[4] THEN 4 ELSE 5 END AS fs,
           CASE WHEN money <= mc[1] THEN 1 WHEN money <= mc[2] THEN 2 WHEN money <= mc[3] THEN 3
                WHEN money <= mc[4] THEN 4 ELSE 5 END AS m
    FROM f CROSS JOIN c
)
SELECT member_id, %(run)s, last_at, rec, freq, money, r, fs, m,
       CASE (r >= 3)::int * 4 + (fs >= 3)::int * 2 + (m >= 3)::int
           WHEN 7 THEN 'important_value' WHEN 5 THEN 'important_develop' WHEN 3 THEN 'important_keep'
           WHEN 1 THEN 'important_retain' WHEN 6 THEN 'general_value' WHEN 4 THEN 'general_develop'
           WHEN 2 THEN 'general_keep' ELSE 'general_retain' END
FROM s
"""


def _new_run(as_of):
    from analytics.models import RfmRun

    return RfmRun.objects.create(as_of=as_of, window_days=365)


def _warm() -> None:
    """Both sides start with the orders in the cache (a fresh copy's first reader would pay for it)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*), sum(cash_fen) FROM orders_order")


def _with_service(as_of) -> tuple[float, int]:
    from analytics.rfm import rfm_run_execute

    run = _new_run(as_of)
    _warm()
    started = time.perf_counter()
    result = rfm_run_execute(run_id=run.pk)
    return time.perf_counter() - started, result.members_scored


def _with_sql(as_of) -> tuple[float, int]:
    from django.db import connection, transaction

    run = _new_run(as_of)
    _warm()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_RAW_SQL, {"as_of": as_of, "since": as_of - timedelta(days=365), "run": run.pk})
        scored = cur.rowcount
    return time.perf_counter() - started, scored


def _fingerprint() -> tuple:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), md5(string_agg(member_id || ':' || r_score || f_score || m_score || ':' || segment"
            " || ':' || monetary_fen || ':' || recency_days, ',' ORDER BY member_id)) FROM analytics_rfmscore"
        )
        count, digest = cur.fetchone()
        cur.execute("SELECT segment, count(*) FROM analytics_rfmscore GROUP BY 1 ORDER BY 1")
        return count, digest, tuple(cur.fetchall())


def _render(path: str, query: dict, times: int = 5) -> list[float]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    client.get(path, query)  # warm: templates, translations
    out = []
    for _ in range(times):
        started = time.perf_counter()
        response = client.get(path, query)
        out.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"dashboard answered {response.status_code}")
    return out


@benchmark("analytics.rfm")
def rfm(h: Harness) -> list[Figure]:
    """RFM for every member: the service vs a hand-written query; then the dashboard render."""
    from django.utils import timezone

    from analytics.reports import reports_refresh
    from analytics.selectors import local_today

    members = MEMBERS[h.scale.name]
    now = timezone.now()
    template = h.template("analytics", lambda: _load(members, now))

    runs: dict[str, list] = {"service": [], "sql": []}
    methods = {"service": _with_service, "sql": _with_sql}
    for round_ in range(h.scale.repeats):
        for method in ("service", "sql") if round_ % 2 == 0 else ("sql", "service"):
            with h.copy_of(template):
                seconds, scored = methods[method](now)
                runs[method].append((seconds, scored, _fingerprint()))
            print(f"  RFM by {method}: {seconds:.2f} s ({scored:,} members scored)", flush=True)
    prints = [fp for r in runs.values() for _s, _n, fp in r]
    if any(fp != prints[0] for fp in prints):
        raise RuntimeError(f"the service and the query scored differently: {prints}")
    seconds = {method: statistics.median(s for s, _n, _fp in r) for method, r in runs.items()}
    orders = members * ORDERS_PER_MEMBER
    for method, label in (("service", "rfm_run_execute()"), ("sql", "the hand-written query")):
        h.note(
            f"RFM of {members:,} members from {orders:,} orders with {label}: "
            + ", ".join(f"{s:.2f}" for s, _n, _fp in runs[method])
            + f" s (median {seconds[method]:.2f} s)"
        )
    h.note(f"both scored {prints[0][0]:,} members identically; segments: {dict(prints[0][2])}")

    with h.copy_of(template):
        _with_service(now)
        today = local_today()
        started = time.perf_counter()
        reports_refresh(start=today - timedelta(days=HISTORY_DAYS), end=today)
        refresh = time.perf_counter() - started
        h.note(f"report tables refreshed for {HISTORY_DAYS} days and every month in {refresh:.2f} s")
        default = _render("/admin/analytics/dailymetrics/", {})
        year = _render(
            "/admin/analytics/dailymetrics/",
            {"start": (today - timedelta(days=364)).isoformat(), "end": today.isoformat()},
        )
    h.note(
        "dashboard render, 90 days: " + ", ".join(f"{s * 1000:.0f}" for s in default) + " ms; "
        "365 days: " + ", ".join(f"{s * 1000:.0f}" for s in year) + " ms"
    )
    return [
        Figure(
            f"RFM with scores, {members:,} members / {orders:,} orders, s (service vs hand-written SQL)",
            seconds["service"],
            seconds["sql"],
            "s",
            "<=",
            1.3,
        ),
        Figure(
            "dashboard render (365 days), s (vs a fixed 1 s budget)",
            statistics.median(year),
            1.0,
            "s",
            "<=",
            1.0,
        ),
    ]


def _at_stores() -> list[int]:
    """Three stores with a clerk each; a quarter of the orders and a fifth of the members at their counters."""
    from django.db import connection

    from stores.models import Staff, StaffAssignment, Store

    stores = [Store.objects.create(code=f"B{i}", name=f"门店{i}") for i in range(3)]
    clerks = [Staff.objects.create(code=f"C{i}", name=f"店员{i}") for i in range(3)]
    for store, clerk in zip(stores, clerks, strict=True):
        StaffAssignment.objects.create(staff=clerk, store=store, role="clerk")
    with connection.cursor() as cur:
        for i, (store, clerk) in enumerate(zip(stores, clerks, strict=True)):
            cur.execute(
                "UPDATE orders_order SET store_id = %s, staff_id = %s WHERE id %% 12 = %s",
                [store.pk, clerk.pk, i * 4],
            )
            cur.execute(
                "UPDATE members_member SET registration_store_id = %s, home_store_id = %s,"
                " registration_staff_id = %s WHERE id %% 15 = %s",
                [store.pk, store.pk, clerk.pk, i * 5],
            )
        cur.execute("ANALYZE orders_order; ANALYZE members_member")
    return [s.pk for s in stores]


@benchmark("analytics.stores")
def store_figures(h: Harness) -> list[Figure]:
    """Figures per store and per staff member for a year, read live (one statement each)."""
    from django.db import connection
    from django.utils import timezone

    from analytics import selectors
    from analytics.selectors import local_today

    members = MEMBERS[h.scale.name]
    now = timezone.now()
    template = h.template("analytics", lambda: _load(members, now))
    with h.copy_of(template):
        _at_stores()
        today = local_today()
        start = today - timedelta(days=364)
        times: dict[str, list[float]] = {}
        results = {}
        for name, read in (("stores", selectors.store_figures), ("staff", selectors.staff_figures)):
            read(start=start, end=today)  # warm
            times[name] = []
            for _ in range(5):
                started = time.perf_counter()
                results[name] = read(start=start, end=today)
                times[name].append(time.perf_counter() - started)
        with connection.cursor() as cur:  # the figures are right: the same sums by hand
            cur.execute(
                "SELECT count(*), sum(stored_value_fen + cash_fen - refunded_stored_value_fen - refunded_cash_fen)"
                " FROM orders_order WHERE store_id IS NOT NULL AND completed_at IS NOT NULL"
                " AND status <> 'refunded' AND completed_at >= %s",
                [timezone.make_aware(datetime.combine(start, datetime.min.time()))],
            )
            orders, paid = cur.fetchone()
    for name in ("stores", "staff"):
        if (sum(r.orders for r in results[name]), sum(r.sales_fen for r in results[name])) != (orders, paid):
            raise RuntimeError(
                f"{name} figures disagree with the orders: {results[name]} vs {orders}, {paid}"
            )
        h.note(
            f"{name} figures for 365 days over {members * ORDERS_PER_MEMBER:,} orders ({orders:,} purchases at "
            "a counter): " + ", ".join(f"{s * 1000:.0f}" for s in times[name]) + " ms"
        )
    return [
        Figure(
            f"{name} figures (365 days, live), s (vs a fixed 1 s budget)",
            statistics.median(times[name]),
            1.0,
            "s",
            "<=",
            1.0,
        )
        for name in ("stores", "staff")
    ]
