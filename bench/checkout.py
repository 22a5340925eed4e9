"""Checkout benchmark: quote -> commit -> complete through the HTTP API, driven by wrk.

gunicorn serves the project (``bench.checkout_wsgi``, production's shape:
``gunicorn.conf.py``) on a fresh copy of the data;
``wrk`` (Debian's, ``apt-get install wrk``) runs 1, 8 and 32 connections,
one per wrk thread, each replaying HMAC-signed requests made just before the
run (``bench/checkout.lua``), so every connection does quote, commit and
complete strictly in turn.  A cycle: a two-line basket (¥58.00 + 2 × ¥19.90,
¥8.00 shipping) paid ¥50.00 with stored value and the rest in cash, then
completed, which earns purchase points.

The baseline, in the same run on a fresh copy of the same data, is a raw-SQL
script doing the same writes as the service with as many processes as wrk has
connections: each of the three requests stores its signature's nonce (one
autocommitted insert: replay protection is a write every signed call makes);
commit = insert the order, its two lines and its event, lock the stored-value
account, insert the spend entry, update the balances and link the entry;
complete = lock the order, update it, insert its event, add the order's growth
entry and move the membership's growth, paid total and order count, lock (or
create) the points account, insert the earn entry and its lot, update the
balance.  The figure is cycles/s (requests/s ÷ 3); target ≥ 0.30×.  The p99
of a request at 8 connections is set against 50 ms (target ≤ 1.00×).

For scale, each HTTP run also measures the floor every signed call pays on
the same server: ``GET /server/members/lookup`` (signature check, nonce
insert, one read), noted beside the figures.

After every run the copy is checked: every committed order completed, as
many as the cycles counted, and (service) ``verify_ledgers`` finds nothing.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

from bench.common import (
    DIRECT,
    REPO,
    Figure,
    Harness,
    Run,
    benchmark,
    database_url,
    raw_connection,
    run_workers,
    timed_loop,
)
from bench.server import Server

APP_MODULES = ("orders.services", "orders.quote", "loyalty.management.commands.verify_ledgers")

CLIENTS = (1, 8, 32)
MEMBERS = {"small": 2_000, "full": 20_000}
WRK_SECONDS = {"small": 5, "full": 15}
LINES = [
    {"sku": "TEA-001", "name": "茉莉花茶", "category": "tea", "unit_price_fen": 5_800, "quantity": 1},
    {"sku": "CUP-001", "name": "茶杯", "category": "teaware", "unit_price_fen": 1_990, "quantity": 2},
]
SHIPPING = 800
STORED_VALUE = 5_000
GOODS = 5_800 + 2 * 1_990
_client: dict = {}


# --- data ----------------------------------------------------------------------------


def _build(members: int) -> None:
    """Members with stored value (the stored-value bench's loader), purchase points only, an API client."""
    from bench.stored_value import _load_accounts
    from loyalty import services as platform
    from points.models import EarningRule

    _load_accounts(members)
    EarningRule.objects.exclude(kind="purchase").update(is_active=False)  # one earn per completion
    client, secret = platform.api_client_create(name="bench order system")
    _client.update(key_id=client.key_id, secret=secret, id=client.pk)


def _body(member_id: int, **extra) -> dict:
    return {
        "member_id": member_id,
        "lines": LINES,
        "shipping_fen": SHIPPING,
        "coupon_ids": [],
        "stored_value_fen": STORED_VALUE,
        **extra,
    }


_FINGERPRINTS: dict[int, str] = {}


def _fingerprints(member_ids) -> dict[int, str]:
    """The quote fingerprint per member (deterministic: it depends on the member and basket only here,
    and every copy starts from the same data, so each is computed once per run)."""
    from orders.quote import BasketInput, LineInput, compute_quote

    basket = BasketInput(
        lines=tuple(LineInput(**line) for line in LINES),
        shipping_fen=SHIPPING,
        coupon_ids=(),
        stored_value_fen=STORED_VALUE,
    )
    for m in member_ids:
        if m not in _FINGERPRINTS:
            _FINGERPRINTS[m] = compute_quote(member_id=m, basket=basket).fingerprint
    return {m: _FINGERPRINTS[m] for m in member_ids}


def _write_requests(directory: Path, *, threads: int, cycles: int, members: int, tag: str) -> int:
    """One file per wrk thread of signed quote/commit/complete requests; returns the cycles written."""
    from loyalty.api.server_auth import signed_headers

    directory.mkdir(parents=True, exist_ok=True)
    used = {1 + (t + threads * k) % members for t in range(threads) for k in range(cycles)}
    hashes = _fingerprints(sorted(used))
    key_id, secret = _client["key_id"], _client["secret"]

    def line(method, path, body: dict | None) -> str:
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False) if body is not None else ""
        h = signed_headers(
            key_id=key_id,
            secret=secret,
            method=method,
            path=path,
            body=raw.encode(),
            nonce=secrets.token_hex(12),
        )
        return "\t".join([method, path, key_id, h["X-Timestamp"], h["X-Nonce"], h["X-Signature"], raw])

    for t in range(threads):
        rows = []
        for k in range(cycles):
            member = 1 + (t + threads * k) % members
            order_no = f"{tag}-{t}-{k}"
            rows.append(line("POST", "/api/v1/server/checkout/quote", _body(member)))
            rows.append(
                line(
                    "POST",
                    "/api/v1/server/orders",
                    _body(member, order_no=order_no, quote_hash=hashes[member]),
                )
            )
            rows.append(line("POST", f"/api/v1/server/orders/{order_no}/complete", None))
        (directory / f"t{t}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return cycles * threads


def _write_lookups(directory: Path, *, threads: int, count: int, members: int) -> None:
    """Signed ``GET /server/members/lookup`` requests: the floor any signed call pays (auth + one read)."""
    from loyalty.api.server_auth import signed_headers

    directory.mkdir(parents=True, exist_ok=True)
    key_id, secret = _client["key_id"], _client["secret"]
    for t in range(threads):
        rows = []
        for k in range(count):
            path = f"/api/v1/server/members/lookup?openid=bench-{1 + (t + threads * k) % members}"
            h = signed_headers(
                key_id=key_id, secret=secret, method="GET", path=path, nonce=secrets.token_hex(12)
            )
            rows.append(
                "\t".join(["GET", path, key_id, h["X-Timestamp"], h["X-Nonce"], h["X-Signature"], ""])
            )
        (directory / f"t{t}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


# --- the load tool -----------------------------------------------------------------


def _wrk(port: int, directory: Path, clients: int, seconds: int) -> dict:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian/Ubuntu)")
    out = subprocess.run(
        [wrk, "-t", str(clients), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "10s"]
        + ["-s", str(REPO / "bench" / "checkout.lua"), f"http://127.0.0.1:{port}", "--", str(directory)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"RESULT (.*)", out)
    return {k: int(v) for k, v in (pair.split("=") for pair in match.group(1).split())}


# --- the raw-SQL script --------------------------------------------------------------


def _raw_nonce(cur) -> None:
    """What every signed request writes first, in its own autocommitted statement."""
    cur.execute(
        "INSERT INTO loyalty_apinonce (client_id, nonce, seen_at) VALUES (%s, %s, now())",
        [_client["id"], secrets.token_hex(12)],
    )


def _raw_cycle(conn, member_id: int, order_no: str, now, growth: int) -> None:
    with conn.cursor() as cur:
        _raw_nonce(cur)  # the quote: reads only, but signed
        _raw_nonce(cur)
        cur.execute("BEGIN")
        cur.execute(
            """INSERT INTO orders_order (order_no, member_id, status, request_hash, quote_hash, goods_fen,
                   shipping_fen, benefit_discount_fen, coupon_discount_fen, shipping_discount_fen, points_used,
                   points_fen, stored_value_fen, cash_fen, shipping_stored_value_fen, shipping_cash_fen, coupon_ids,
                   benefit_sources, earned_points, refunded_goods_fen, refunded_shipping_fen, refunded_points,
                   refunded_points_fen, refunded_stored_value_fen, refunded_cash_fen, reversed_earned_points,
                   committed_at, expires_at)
               VALUES (%s, %s, 'committed', '', '', %s, %s, 0, 0, 0, 0, 0, %s, %s, %s, %s, '[]', '{}',
                       0, 0, 0, 0, 0, 0, 0, 0, %s, %s) RETURNING id""",
            [
                order_no,
                member_id,
                GOODS,
                SHIPPING,
                STORED_VALUE,
                GOODS + SHIPPING - STORED_VALUE,
                378,
                422,
                now,
                now,
            ],
        )
        order_id = cur.fetchone()[0]
        cur.execute(
            """INSERT INTO orders_orderline (order_id, line_no, sku, category, name, unit_price_fen, quantity,
                   amount_fen, benefit_discount_fen, coupon_discount_fen, points, points_fen, stored_value_fen,
                   cash_fen, refunded_quantity)
               VALUES (%s, 1, 'TEA-001', 'tea', 'tea', 5800, 1, 5800, 0, 0, 0, 0, 2741, 3059, 0),
                      (%s, 2, 'CUP-001', 'teaware', 'cup', 1990, 2, 3980, 0, 0, 0, 0, 1881, 2099, 0)""",
            [order_id, order_id],
        )
        cur.execute(
            "INSERT INTO orders_orderevent (order_id, kind, from_status, to_status, reference, created_at) "
            "VALUES (%s, 'commit', '', 'committed', '', %s)",
            [order_id, now],
        )
        cur.execute(
            "SELECT id, principal_fen, bonus_fen FROM stored_value_storedvalueaccount WHERE member_id = %s FOR UPDATE",
            [member_id],
        )
        account, principal, bonus = cur.fetchone()
        p = STORED_VALUE * principal // (principal + bonus)
        cur.execute(
            """WITH e AS (INSERT INTO stored_value_storedvalueentry (account_id, kind, principal_fen, bonus_fen,
                   principal_after_fen, bonus_after_fen, source, reference, memo, idempotency_key, request_hash,
                   created_at) VALUES (%s, 'spend', %s, %s, %s, %s, 'order', %s, '', %s, '', %s) RETURNING id),
               a AS (UPDATE stored_value_storedvalueaccount SET principal_fen = %s, bonus_fen = %s WHERE id = %s)
               UPDATE orders_order SET stored_value_entry_id = (SELECT id FROM e) WHERE id = %s""",
            [
                account,
                -p,
                p - STORED_VALUE,
                principal - p,
                bonus - STORED_VALUE + p,
                order_no,
                f"order:{order_no}",
            ]
            + [now, principal - p, bonus - STORED_VALUE + p, account, order_id],
        )
        cur.execute("COMMIT")
        _raw_nonce(cur)
        cur.execute("BEGIN")
        cur.execute("SELECT id FROM orders_order WHERE order_no = %s FOR UPDATE", [order_no])
        cur.execute(
            "UPDATE orders_order SET status = 'completed', completed_at = %s, earned_points = 97 WHERE id = %s",
            [now, order_id],
        )
        cur.execute(
            "INSERT INTO orders_orderevent (order_id, kind, from_status, to_status, reference, created_at) "
            "VALUES (%s, 'complete', 'committed', 'completed', '', %s)",
            [order_id, now],
        )
        cur.execute(
            """WITH g AS (INSERT INTO members_growthentry (member_id, kind, amount, paid_fen, order_no,
                       idempotency_key, counts_at, created_at)
                       VALUES (%(m)s, 'order', %(growth)s, %(paid)s, %(no)s, %(key)s, %(now)s, %(now)s))
               INSERT INTO members_membership (member_id, tier_level, growth_total, paid_total_fen, completed_orders)
               VALUES (%(m)s, 0, %(growth)s, %(paid)s, 1)
               ON CONFLICT (member_id) DO UPDATE SET
                   growth_total = members_membership.growth_total + EXCLUDED.growth_total,
                   paid_total_fen = members_membership.paid_total_fen + EXCLUDED.paid_total_fen,
                   completed_orders = members_membership.completed_orders + 1""",
            {
                "m": member_id,
                "growth": growth,
                "paid": GOODS,
                "no": order_no,
                "key": f"order:{order_no}",
                "now": now,
            },
        )
        cur.execute(
            "INSERT INTO points_pointsaccount (member_id, balance, created_at) VALUES (%s, 0, %s) "
            "ON CONFLICT (member_id) DO NOTHING",
            [member_id, now],
        )
        cur.execute(
            "SELECT id, balance FROM points_pointsaccount WHERE member_id = %s FOR UPDATE", [member_id]
        )
        points_account, balance = cur.fetchone()
        cur.execute(
            """WITH e AS (INSERT INTO points_pointsentry (account_id, kind, amount, balance_after, source, reference,
                   memo, idempotency_key, request_hash, created_at)
                   VALUES (%s, 'earn', 97, %s, 'purchase', %s, '', %s, '', %s) RETURNING id),
               l AS (INSERT INTO points_pointslot (account_id, entry_id, amount, remaining, source, earned_at)
                     SELECT %s, id, 97, 97, 'purchase', %s FROM e)
               UPDATE points_pointsaccount SET balance = %s WHERE id = %s""",
            [points_account, balance + 97, order_no, f"purchase:{order_no}", now, points_account, now]
            + [balance + 97, points_account],
        )
        cur.execute("COMMIT")


def _raw_worker(index, sync, clients, members, tag, warmup, duration) -> Run:
    from django.utils import timezone

    from loyalty import rounding
    from membership.tiers import membership_policy

    conn = raw_connection()
    now = timezone.now()
    growth = rounding.growth_for_paid(paid_fen=GOODS, growth_per_yuan=membership_policy().growth_per_yuan)

    def op(k):
        _raw_cycle(conn, 1 + (index + clients * k) % members, f"{tag}-{index}-{k}", now, growth)

    run = timed_loop(op, sync, warmup=warmup, duration=duration)
    conn.close()
    lat = sorted(run.latencies)
    run.latencies = [lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]]
    return run


# --- the runs ------------------------------------------------------------------------


def _count_completed(prefix: str) -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FROM orders_order WHERE order_no LIKE %s",
            [prefix + "-%"],
        )
        return cur.fetchone()


def _rows_per_order(prefix: str) -> dict[str, float]:
    """Rows each completed order left in every table a cycle writes (nonces aside: not per order), so the
    service's and the raw script's copies can be checked to hold the same writes."""
    from django.db import connection

    like = prefix + "-%"
    with connection.cursor() as cur:
        cur.execute(
            """WITH o AS (SELECT id, order_no FROM orders_order WHERE order_no LIKE %(l)s AND status = 'completed')
               SELECT (SELECT count(*) FROM o),
                      (SELECT count(*) FROM orders_orderline x JOIN o ON o.id = x.order_id),
                      (SELECT count(*) FROM orders_orderevent x JOIN o ON o.id = x.order_id),
                      (SELECT count(*) FROM stored_value_storedvalueentry x JOIN o ON o.order_no = x.reference),
                      (SELECT count(*) FROM points_pointsentry x JOIN o ON o.order_no = x.reference),
                      (SELECT count(*) FROM points_pointslot l JOIN points_pointsentry x ON x.id = l.entry_id
                        JOIN o ON o.order_no = x.reference),
                      (SELECT count(*) FROM members_growthentry x JOIN o ON o.order_no = x.order_no)""",
            {"l": like},
        )
        orders, *rest = cur.fetchone()
    names = ["lines", "events", "stored-value entries", "points entries", "lots", "growth entries"]
    return {name: round(n / max(orders, 1), 3) for name, n in zip(names, rest, strict=True)}


def _service_run(
    h: Harness,
    template: str,
    clients: int,
    members: int,
    seconds: int,
    *,
    pooled: bool = False,
    with_floor: bool = True,
) -> dict:
    """``pooled``: the server reaches PostgreSQL through a PgBouncer in transaction pooling
    (``DB_POOLER=transaction``: plain statements); ``with_floor``: also time the signed no-op."""
    from loyalty.management.commands.verify_ledgers import find_violations

    cycles = max(200, 400 * seconds // clients + 50)  # more than a thread can do: none is replayed
    with (
        h.copy_of(template) as dbname,
        tempfile.TemporaryDirectory() as tmp,
        _pooler(pooled) as (env, bouncer),
    ):
        warm = _write_requests(Path(tmp) / "warm", threads=clients, cycles=60, members=members, tag="W")
        written = _write_requests(Path(tmp) / "run", threads=clients, cycles=cycles, members=members, tag="H")
        _write_lookups(Path(tmp) / "floor", threads=clients, count=3 * cycles, members=members)
        server = Server(dbname, env=env)
        try:
            _wrk(server.port, Path(tmp) / "warm", clients, 1)
            cpu = _CpuMeter(server, dbname, bouncer)
            result = _wrk(server.port, Path(tmp) / "run", clients, seconds)
            cpu_ms = cpu.per(result["requests"])
            floor = _wrk(server.port, Path(tmp) / "floor", clients, seconds) if with_floor else result
        finally:
            server.stop()
        completed, committed = _count_completed("H")
        writes = _rows_per_order("H")
        violations = find_violations()
    if result["non2xx"] or result["errors"] or floor["non2xx"] or floor["errors"]:
        raise RuntimeError(f"wrk saw {result['non2xx']} non-2xx responses and {result['errors']} errors")
    if result["requests"] >= 3 * written:
        raise RuntimeError("the pre-signed requests ran out: raise the cycles written")
    if abs(committed - result["requests"] / 3) > clients or completed < committed - clients:
        raise RuntimeError(
            f"{committed} orders committed, {completed} completed for {result['requests']} requests"
        )
    if violations:
        raise RuntimeError(f"verify_ledgers: {violations[:3]}")
    assert warm
    return {
        "cycles_s": completed / (result["duration_us"] / 1e6),
        "cpu_ms": cpu_ms,
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "floor_rps": floor["requests"] / (floor["duration_us"] / 1e6),
        "floor_p99_ms": floor["p99_us"] / 1000,
        "writes": writes,
    }


@contextlib.contextmanager
def _pooler(pooled: bool):
    """(the server's extra environment, the PgBouncer or None): a PgBouncer of its own in front of the
    bench server when ``pooled``, stopped before the copy is dropped (it holds server sessions); straight
    to the server otherwise, also when the whole run goes through one (``--pgbouncer``)."""
    from django.db import connection

    dbname = connection.settings_dict["NAME"]
    if not pooled:
        yield {"DATABASE_URL": database_url(dbname, direct=True), "DB_POOLER": ""}, None
        return
    from loyalty import pgbouncer

    with pgbouncer.PgBouncer(
        host=DIRECT["HOST"], port=DIRECT["PORT"], user=DIRECT["USER"], password=DIRECT["PASSWORD"]
    ) as bouncer:
        url = f"postgres://{quote(DIRECT['USER'])}@{quote(bouncer.host, safe='')}:{bouncer.port}/{dbname}"
        yield {"DATABASE_URL": url, "DB_POOLER": "transaction"}, bouncer


class _CpuMeter:
    """CPU seconds from now on of gunicorn (master and workers), the copy's PostgreSQL backends (when the
    server is local) and the PgBouncer; ``per(n)`` in milliseconds per request."""

    def __init__(self, server: Server, dbname: str, bouncer):
        import psutil

        self.psutil, self.dbname = psutil, dbname
        self.roots = [server.proc.pid] + ([bouncer.process.pid] if bouncer else [])
        self.start = self._read()

    def _processes(self):
        ps = self.psutil
        found = []
        for pid in self.roots:
            with contextlib.suppress(ps.Error):
                root = ps.Process(pid)
                found += [root, *root.children(recursive=True)]
        with contextlib.closing(raw_connection()) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [self.dbname],
            )
            for (pid,) in cur.fetchall():
                with contextlib.suppress(ps.Error):
                    proc = ps.Process(pid)
                    if proc.name() == "postgres":  # a local server
                        found.append(proc)
        return found

    def _read(self) -> dict[int, float]:
        times = {}
        for proc in self._processes():
            with contextlib.suppress(self.psutil.Error):
                t = proc.cpu_times()
                times[proc.pid] = t.user + t.system
        return times

    def per(self, requests: int) -> float:
        end = self._read()
        used = sum(end[pid] - self.start.get(pid, 0.0) for pid in end)  # a process started since: all of it
        return used / max(requests, 1) * 1000


def _raw_run(h: Harness, template: str, clients: int, members: int, seconds: int) -> dict:
    with h.copy_of(template):
        runs, _ = run_workers(clients, _raw_worker, lambda i: (clients, members, "S", 0.5, seconds))
        completed, committed = _count_completed("S")
        writes = _rows_per_order("S")
    total = sum(r.total for r in runs)
    if completed != committed or completed != total:
        raise RuntimeError(f"raw: {completed} completed, {committed} committed, {total} cycles run")
    return {
        "cycles_s": sum(r.ops / r.elapsed for r in runs),
        "cycle_p99_ms": max(r.latencies[1] for r in runs) * 1000,  # a cycle: both transactions
        "writes": writes,
    }


@benchmark("checkout.cycle")
def cycle(h: Harness) -> list[Figure]:
    """quote -> commit -> complete over HTTP (gunicorn + wrk) at 1, 8 and 32 clients vs raw SQL."""
    members = MEMBERS[h.scale.name]
    seconds = WRK_SECONDS[h.scale.name]
    template = h.template(f"checkout_{members}", lambda: _build(members))
    figures = []
    for clients in CLIENTS:
        service, raw = [], []
        for round_ in range(h.scale.repeats):
            order = (_service_run, _raw_run) if round_ % 2 == 0 else (_raw_run, _service_run)
            for fn in order:
                result = fn(h, template, clients, members, seconds)
                (service if fn is _service_run else raw).append(result)
                print(
                    f"  {clients} clients, {'HTTP' if fn is _service_run else 'raw SQL'}: {result}",
                    flush=True,
                )
        if any(x["writes"] != service[0]["writes"] for x in service + raw):
            raise RuntimeError(f"the raw script's writes differ from the service's: {service + raw}")
        s = sorted(service, key=lambda r: r["cycles_s"])[len(service) // 2]
        r = sorted(raw, key=lambda r: r["cycles_s"])[len(raw) // 2]
        h.note(
            f"checkout, {clients} client(s): HTTP {s['cycles_s']:,.1f} cycles/s ({s['rps']:,.0f} requests/s), "
            f"request p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms; raw SQL {r['cycles_s']:,.1f} cycles/s; "
            f"a signed no-op (member lookup) on the same server {s['floor_rps']:,.0f} requests/s, "
            f"p99 {s['floor_p99_ms']:.1f} ms "
            f"(rounds: HTTP "
            + ", ".join(f"{x['cycles_s']:.1f}" for x in service)
            + "; raw "
            + ", ".join(f"{x['cycles_s']:.1f}" for x in raw)
            + ")"
        )
        floor = s["floor_rps"] / 3  # three signed no-ops: what HTTP, Django, DRF and the signature cost
        figures.append(
            Figure(
                f"checkout cycles/s, {clients} client(s) (HTTP vs raw SQL)",
                s["cycles_s"],
                r["cycles_s"],
                "/s",
                ">=",
                0.30,
                missed=(
                    "A cycle is three signed HTTP requests through gunicorn, Django and DRF with the full "
                    "rules (benefits, coupons, caps, growth, tiers), where the raw script sends its writes "
                    "straight down one connection. The framework alone sets a floor: three signed no-op "
                    f"requests (signature check and one read) run at {floor:,.0f} per second on the same "
                    f"server, {floor / r['cycles_s']:.2f}× raw, before any checkout work, and wrk, "
                    "gunicorn and PostgreSQL share the 2 cores. Measured in-process, a cycle costs about "
                    "5.7 ms of Python (a signed no-op alone 1.4 ms per request) and 3.6 ms of PostgreSQL "
                    "backend CPU (bench/README.md). What would close it: more cores for the web tier (it "
                    "scales out; the raw script does not need it), or a two-request cycle (commit "
                    "without a separate quote)."
                ),
            )
        )
        if clients == 8:
            figures.append(
                Figure(
                    "checkout request p99, 8 clients (vs 50 ms)",
                    s["p99_ms"],
                    50.0,
                    "ms",
                    "<=",
                    1.0,
                    missed=(
                        f"8 clients on 2 cores queue: the median request already takes {s['p50_ms']:.0f} ms, "
                        f"and a signed no-op's p99 is {s['floor_p99_ms']:.0f} ms on the same server. The same "
                        "as for throughput would close it: less CPU per request or more cores."
                    ),
                )
            )
    return figures


POOLED_CLIENTS = 8


@benchmark("checkout.pgbouncer")
def through_pgbouncer(h: Harness) -> list[Figure]:
    """The checkout cycle at 8 clients through a PgBouncer in transaction pooling vs straight to PostgreSQL."""
    members = MEMBERS[h.scale.name]
    seconds = WRK_SECONDS[h.scale.name]
    template = h.template(f"checkout_{members}", lambda: _build(members))
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for round_ in range(max(3, h.scale.repeats)):
        for pooled in (True, False) if round_ % 2 == 0 else (False, True):
            result = _service_run(
                h, template, POOLED_CLIENTS, members, seconds, pooled=pooled, with_floor=False
            )
            runs[pooled].append(result)
            print(f"  {'PgBouncer' if pooled else 'direct'}: {result}", flush=True)
    if runs[True][0]["writes"] != runs[False][0]["writes"]:
        raise RuntimeError(f"the writes through PgBouncer differ from direct: {runs}")

    def median(side, key):
        values = sorted(x[key] for x in runs[side])
        return values[len(values) // 2]

    def spread(side, key, fmt):
        return ", ".join(format(x[key], fmt) for x in runs[side])

    h.note(
        f"checkout through PgBouncer (transaction pooling, Debian's pgbouncer, plain statements), "
        f"{POOLED_CLIENTS} clients: {median(True, 'cycles_s'):,.1f} cycles/s (rounds {spread(True, 'cycles_s', '.1f')}), "
        f"request p99 {median(True, 'p99_ms'):.1f} ms ({spread(True, 'p99_ms', '.1f')}), "
        f"CPU {median(True, 'cpu_ms'):.2f} ms per request ({spread(True, 'cpu_ms', '.2f')}); "
        f"direct (statements prepared per connection) {median(False, 'cycles_s'):,.1f} cycles/s "
        f"({spread(False, 'cycles_s', '.1f')}), p99 {median(False, 'p99_ms'):.1f} ms "
        f"({spread(False, 'p99_ms', '.1f')}), CPU {median(False, 'cpu_ms'):.2f} ms per request "
        f"({spread(False, 'cpu_ms', '.2f')}). CPU per request: gunicorn (master and workers), the copy's "
        "PostgreSQL backends and PgBouncer, over the measured run."
    )
    return [
        Figure(
            f"checkout cycles/s, {POOLED_CLIENTS} clients (through PgBouncer vs direct)",
            median(True, "cycles_s"),
            median(False, "cycles_s"),
            "/s",
            ">=",
            0.80,
            missed=(
                "Through a transaction pooler every hot statement is planned on each run (no per-connection "
                "PREPARE), and each statement takes one more hop through the PgBouncer process, which shares "
                "the 2 cores with gunicorn, wrk and PostgreSQL; the notes give the CPU per request of each side."
            ),
        ),
        Figure(
            f"checkout CPU per request, {POOLED_CLIENTS} clients (through PgBouncer vs direct)",
            median(True, "cpu_ms"),
            median(False, "cpu_ms"),
            "ms",
            "<=",
            1.25,
            missed=(
                "Plain statements are parsed and planned on every run, and PgBouncer's own CPU is counted on "
                "its side."
            ),
        ),
    ]
