"""The benchmark harness: a throwaway database, worker processes, one table of figures.

A benchmark is a function ``run(harness) -> list[Figure]`` registered with
``@benchmark("app.name")``.  It builds its data once in a *template* database
(``harness.template``) and measures on fresh copies of it
(``harness.copy_of``), so every measurement starts from identical data and
the copies can be checked with ``verify_ledgers`` afterwards.

Everything happens in databases named after ``BENCH_DB`` (``BENCH_DATABASE`` in the
environment, ``loyalty_bench`` by default; its ``_tpl_*`` templates and its ``_run``
copy) on the server of ``DATABASE_URL`` (or the embedded one the local settings
start); they are dropped at the end.  The demo / dev database is never touched.

Benchmark modules import app code inside their functions (``__main__``
lists them before Django is set up) and name it in ``APP_MODULES``, which
``__main__`` imports once Django is ready, before any worker is forked.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import platform
import re
import statistics
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_BENCH_DB = "loyalty_bench"


def bench_db_name() -> str:
    """The bench database's name, from ``BENCH_DATABASE`` (default ``loyalty_bench``).

    Two people benchmarking one server each pick their own, so neither run drops the other's
    databases.  A plain lower-case identifier, short enough for the ``_tpl_<key>`` names built from it.
    """
    name = os.environ.get("BENCH_DATABASE", "").strip() or DEFAULT_BENCH_DB
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,29}", name):
        raise SystemExit(
            f"BENCH_DATABASE={name!r}: use 1-30 lower-case letters, digits and underscores (not first a digit)"
        )
    return name


def is_bench_database(name: str, bench_db: str) -> bool:
    """A database this harness made for ``bench_db``: itself, its templates or its run copy (not a
    database another person's ``BENCH_DATABASE`` named with the same prefix)."""
    return name in (bench_db, f"{bench_db}_run") or name.startswith(f"{bench_db}_tpl_")


BENCH_DB = bench_db_name()
REPO = Path(__file__).resolve().parent.parent
REPORT = REPO / "docs" / "benchmarks.md"
POOLED_REPORT = REPO / "docs" / "benchmarks-pgbouncer.md"  # python -m bench --pgbouncer


# --- scales, figures, registry ------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    name: str
    duration: float  # seconds measured per throughput run
    warmup: float  # seconds run (and discarded) before each measured run
    accounts: int  # accounts in the postings pool
    lots: int  # lots in the expiry data set
    members: int  # members (= accounts) in the expiry data set
    repeats: int  # rounds of each comparison, alternating which side goes first; medians are reported


SCALES = {
    "small": Scale(
        "small", duration=2.0, warmup=0.5, accounts=20_000, lots=100_000, members=10_000, repeats=2
    ),
    "full": Scale(
        "full", duration=10.0, warmup=2.0, accounts=100_000, lots=1_000_000, members=100_000, repeats=3
    ),
}


SYMBOLS = {">=": "≥", "<=": "≤", "==": "="}


@dataclass
class Figure:
    """One row of the table: a measured value beside its baseline from the same run.

    ``op`` and ``limit`` state the target on ``value / baseline``.  ``missed``: why the target is
    missed when it is, and what would close it (the report lists it under the table).
    """

    name: str
    value: float
    baseline: float
    unit: str
    op: str  # ">=", "<=" or "=="
    limit: float
    missed: str = ""

    @property
    def ratio(self) -> float:
        if self.baseline == 0:
            return 1.0 if self.value == 0 else float("inf")
        return self.value / self.baseline

    @property
    def met(self) -> bool:
        ratio = round(self.ratio, 6)
        return {">=": ratio >= self.limit, "<=": ratio <= self.limit, "==": ratio == self.limit}[self.op]

    @property
    def target(self) -> str:
        return f"{SYMBOLS[self.op]} {self.limit:.2f}×"

    def cells(self) -> list[str]:
        return [
            self.name,
            _fmt(self.value, self.unit),
            _fmt(self.baseline, self.unit),
            f"{self.ratio:.2f}×",
            self.target,
            "yes" if self.met else "no",
        ]


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f} {unit}".rstrip()
    return f"{value:,.1f} {unit}".rstrip()


@dataclass
class Benchmark:
    name: str
    run: Callable[[Harness], list[Figure]]
    doc: str


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str):
    def register(run):
        BENCHMARKS[name] = Benchmark(name, run, (run.__doc__ or "").strip().splitlines()[0])
        return run

    return register


def select(names: Iterable[str]) -> list[Benchmark]:
    """Benchmarks named, or under a named prefix (``points`` selects ``points.*``); all when none."""
    names = list(names)
    if not names:
        return list(BENCHMARKS.values())
    chosen = [b for b in BENCHMARKS.values() if any(b.name == n or b.name.startswith(n + ".") for n in names)]
    unknown = [
        n for n in names if not any(b.name == n or b.name.startswith(n + ".") for b in BENCHMARKS.values())
    ]
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    return chosen


# --- Django and the bench database ------------------------------------------------


def setup_django() -> None:
    """Configure Django against ``BENCH_DB`` (not created yet) and set it up.

    DEBUG is forced off: with it on, Django records every query, which would
    slow the service layer down for a reason production does not have.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings.local")
    os.environ["DEBUG"] = "false"
    import django
    from django.conf import settings

    # Reading settings runs ensure_services(): DATABASE_URL, or the embedded server.
    settings.DATABASES["default"]["NAME"] = BENCH_DB
    settings.DATABASES["default"]["CONN_MAX_AGE"] = None
    django.setup()
    assert not settings.DEBUG
    DIRECT.update({key: settings.DATABASES["default"][key] for key in ("HOST", "PORT", "USER", "PASSWORD")})


#: The PostgreSQL server itself, as the settings named it.  With ``--pgbouncer`` every connection of the
#: run goes through a PgBouncer in front of it (``Harness``); what must reach the server straight
#: (creating and dropping databases, the checkout benchmark's direct side) connects here.
DIRECT: dict = {}


def conn_params(dbname: str | None = None, *, direct: bool = False) -> dict:
    """psycopg2.connect() keyword arguments for the bench server (where the default database's
    connection goes, or the server itself when ``direct``)."""
    from django.db import connections

    s = {**connections["default"].settings_dict, **(DIRECT if direct else {})}
    params = {"dbname": dbname or s["NAME"], "user": s["USER"], "host": s["HOST"], "port": s["PORT"]}
    if s["PASSWORD"]:
        params["password"] = s["PASSWORD"]
    return {k: v for k, v in params.items() if v not in ("", None)}


def database_url(dbname: str, *, direct: bool = False) -> str:
    """A ``DATABASE_URL`` for the servers and workers a benchmark starts, as ``conn_params`` goes."""
    from urllib.parse import quote

    p = conn_params(dbname, direct=direct)
    auth = quote(p["user"], safe="") + (":" + quote(p["password"], safe="") if "password" in p else "")
    return f"postgres://{auth}@{quote(p.get('host', ''), safe='')}:{p.get('port', '')}/{p['dbname']}"


def pooled() -> bool:
    """Whether this run goes through a PgBouncer in transaction pooling (``--pgbouncer``)."""
    from django.conf import settings

    return settings.DB_POOLER == "transaction"


def raw_connection(dbname: str | None = None, *, direct: bool = False):
    import psycopg2

    conn = psycopg2.connect(**conn_params(dbname, direct=direct))
    conn.autocommit = True
    return conn


def _maintenance_connection():
    """Straight to the server: a database is created and dropped there, not through a pooler."""
    import psycopg2

    try:
        return raw_connection("postgres", direct=True)
    except psycopg2.OperationalError:
        # A managed server may refuse "postgres": use the URL's own database.
        import environ

        return raw_connection(environ.Env.db_url_config(os.environ["DATABASE_URL"])["NAME"], direct=True)


def use_database(name: str) -> None:
    """Point Django's default connection (here and in processes forked later) at ``name``."""
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = name


def create_database(name: str, template: str | None = None, file_copy: bool = False) -> None:
    """(Re)create ``name``, as a copy of ``template`` when given.

    ``file_copy``: copy the files between two checkpoints (PostgreSQL 15+) instead of writing every
    page of the template to the WAL (257 MB for the 1,000,000-lot ledger), which left the checkpoint
    that volume of WAL calls for to run during the measurement that followed.  With it, the spends'
    p99 before and after the expiry job agreed within 15% (14.6 / 13.2 and 11.6 / 12.8 ms).
    """
    import psycopg2
    from django.db import connections

    connections.close_all()  # a copy needs its template free of sessions, ours included

    with contextlib.closing(_maintenance_connection()) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        if file_copy and conn.server_version >= 150000:
            sql += " STRATEGY = FILE_COPY"
        for attempt in range(50):
            try:
                cur.execute(sql)
                return
            except psycopg2.errors.ObjectInUse:
                # An autovacuum worker may be visiting the template for a moment.
                if attempt == 49:
                    raise
                if attempt >= (0 if pooled() else 10):
                    # Still busy after 2 s: a session another thread of this process left open (a
                    # finished live server's or a concurrency test's) holds it; the template is our
                    # own test or bench database, so end those sessions.  Through a pooler at once:
                    # the PgBouncer keeps its idle server sessions, and opens new ones when asked.
                    cur.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()",
                        [template],
                    )
                time.sleep(0.2)


def drop_database(name: str) -> None:
    with contextlib.closing(_maintenance_connection()) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_bench_databases() -> None:
    with contextlib.closing(_maintenance_connection()) as conn, conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database")
        for (name,) in cur.fetchall():
            if is_bench_database(name, BENCH_DB):
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Harness:
    """The state one ``python -m bench`` run shares between its benchmarks."""

    def __init__(self, scale: Scale, *, pgbouncer: bool = False):
        self.scale = scale
        self._templates: dict[str, str] = {}
        self.notes: list[str] = []
        self.pgbouncer = pgbouncer
        self._bouncer = None

    def __enter__(self):
        from django.core.management import call_command

        started = time.perf_counter()
        drop_bench_databases()  # leftovers of an interrupted run
        create_database(BENCH_DB)
        use_database(BENCH_DB)
        call_command("migrate", verbosity=0, interactive=False)
        use_database(BENCH_DB)
        print(f"  created and migrated {BENCH_DB} in {time.perf_counter() - started:.1f} s", flush=True)
        if self.pgbouncer:
            self._through_pgbouncer()
        return self

    def _through_pgbouncer(self) -> None:
        """From now on every connection of the run, and of the servers and workers it starts, goes
        through one PgBouncer in transaction pooling (Debian's, as production's: plain statements)."""
        from loyalty import pgbouncer

        self._bouncer = pgbouncer.PgBouncer(
            host=DIRECT["HOST"], port=DIRECT["PORT"], user=DIRECT["USER"], password=DIRECT["PASSWORD"]
        ).start()
        pgbouncer.route(host=self._bouncer.host, port=self._bouncer.port, pooler="transaction")
        os.environ["DATABASE_URL"] = database_url(BENCH_DB)
        self.note(
            "Run through a PgBouncer in transaction pooling (--pgbouncer): the service and the raw-SQL "
            "sides alike, so each ratio compares like with like. PostgreSQL CPU per operation is not "
            "attributable to one client through a pooler and reads n/a."
        )

    @contextlib.contextmanager
    def _direct(self):
        """Straight to the server meanwhile: the loaders' session settings (``copy_rows``) must not
        stay on a pooled server session that the measured clients get next."""
        if self._bouncer is None:
            yield
            return
        from loyalty import pgbouncer

        pgbouncer.route(host=DIRECT["HOST"], port=DIRECT["PORT"], pooler="")
        try:
            yield
        finally:
            pgbouncer.route(host=self._bouncer.host, port=self._bouncer.port, pooler="transaction")

    def __exit__(self, *exc):
        use_database(BENCH_DB)
        from django.db import connections

        connections.close_all()
        if self._bouncer is not None:
            self._bouncer.stop()
        drop_bench_databases()

    def note(self, text: str) -> None:
        print(f"  {text}", flush=True)
        self.notes.append(text)

    def template(self, key: str, build: Callable[[], None]) -> str:
        """A database holding the migrated schema plus what ``build()`` loads; built once per run."""
        if key not in self._templates:
            from django.db import connection

            name = f"{BENCH_DB}_tpl_{key}"
            started = time.perf_counter()
            create_database(name, template=BENCH_DB)
            use_database(name)
            with self._direct():
                build()
                with connection.cursor() as cur:
                    # Frozen, analysed and with hint bits set, so every copy starts alike.
                    cur.execute("VACUUM (FREEZE, ANALYZE)")
            use_database(BENCH_DB)
            self._templates[key] = name
            print(f"  built template {name} in {time.perf_counter() - started:.1f} s", flush=True)
        return self._templates[key]

    @contextlib.contextmanager
    def copy_of(self, template: str):
        """A fresh copy of ``template`` that Django (and workers forked meanwhile) use; dropped after."""
        name = f"{BENCH_DB}_run"
        create_database(name, template=template, file_copy=True)
        use_database(name)
        try:
            yield name
        finally:
            use_database(BENCH_DB)
            drop_database(name)


# --- bulk loading ---------------------------------------------------------------------


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value, _datetimes: dict = {}) -> str:  # noqa: B006 - a deliberate cache
    if value is None:
        return r"\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, datetime):
        # Bulk rows repeat few timestamps: format each once.
        text = _datetimes.get(value)
        if text is None:
            if len(_datetimes) > 100_000:
                _datetimes.clear()
            text = _datetimes[value] = value.isoformat()
        return text
    return str(value)


def copy_rows(cur, table: str, columns: list[str], rows: Iterable[tuple], chunk: int = 100_000) -> int:
    """COPY ``rows`` into ``table`` in chunks; returns the row count.

    Foreign keys are not checked row by row when the role may skip triggers
    (``session_replication_role``, superusers): the rows are consistent by
    construction and ``verify_ledgers`` checks the copies made from them.
    """
    import psycopg2

    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    from django.db import DatabaseError

    skip_triggers = not pooled()  # behind a pooler the setting would outlive this session's use
    if skip_triggers:
        with contextlib.suppress(psycopg2.Error, DatabaseError):
            cur.execute("SET session_replication_role = replica")
    count, lines = 0, []
    started = time.perf_counter()
    for row in rows:
        lines.append("\t".join(map(_copy_value, row)))
        if len(lines) == chunk:
            cur.copy_expert(sql, io.StringIO("\n".join(lines) + "\n"))
            count, lines = count + len(lines), []
    if lines:
        cur.copy_expert(sql, io.StringIO("\n".join(lines) + "\n"))
        count += len(lines)
    if skip_triggers:
        cur.execute("RESET session_replication_role")
    print(f"    copied {count:,} rows into {table} in {time.perf_counter() - started:.1f} s", flush=True)
    return count


@contextlib.contextmanager
def indexes_dropped(cur, tables: list[str]):
    """Drop the tables' plain indexes for a bulk load and build them again after.

    Building an index once is much cheaper than updating it row by row;
    indexes that back a constraint (primary keys, unique) stay.
    """
    cur.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid = ANY(%s::regclass[])
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        [tables],
    )
    indexes = cur.fetchall()
    for name, _definition in indexes:
        cur.execute(f"DROP INDEX {name}")
    yield
    started = time.perf_counter()
    for _name, definition in indexes:
        cur.execute(definition)
    print(f"    rebuilt {len(indexes)} indexes in {time.perf_counter() - started:.1f} s", flush=True)


def reset_sequences(cur, tables: Iterable[str]) -> None:
    """After COPY with explicit ids: let the next insert continue after the largest id."""
    for table in tables:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
        )


# --- worker processes ------------------------------------------------------------------


@dataclass
class Sync:
    """What workers share with each other and the parent."""

    barrier: object
    stop: object


@dataclass
class WorkerFailure:
    index: int
    text: str


def run_workers(
    count: int,
    target: Callable,
    args: Callable[[int], tuple] = lambda i: (),
    *,
    parent: Callable[[Sync], object] | None = None,
    timeout: float = 600,
) -> tuple[list, object]:
    """Run ``target(index, sync, *args(index))`` in ``count`` forked processes.

    Each process opens its own database connection.  The barrier has one
    party per worker, plus the parent when ``parent`` is given: ``parent(sync)``
    then runs here (with its own connection) while the workers run, e.g. to
    start a job once they are all past the barrier.  Returns the workers'
    results in index order and what ``parent`` returned.
    """
    from django.db import connections

    ctx = multiprocessing.get_context("fork")
    # No open socket may cross a fork: a child closing it would end the parent's session.
    connections.close_all()
    sync = Sync(barrier=ctx.Barrier(count + (1 if parent else 0)), stop=ctx.Event())
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_worker_main, args=(queue, target, i, sync, args(i)), daemon=True)
        for i in range(count)
    ]
    for proc in procs:
        proc.start()
    parent_result, parent_error = None, None
    results: dict[int, object] = {}
    try:
        if parent:
            try:
                parent_result = parent(sync)
            except threading.BrokenBarrierError as exc:
                parent_error = exc  # a worker failed: its own report says why
        deadline = time.monotonic() + timeout
        while len(results) < count:
            index, result = queue.get(timeout=max(1.0, deadline - time.monotonic()))
            results[index] = result
    finally:
        sync.stop.set()
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
        connections.close_all()
    failures = [r for r in results.values() if isinstance(r, WorkerFailure)]
    if failures:
        # The first failure that is not merely a broken barrier is the cause.
        first = next((f for f in failures if "BrokenBarrierError" not in f.text), failures[0])
        raise RuntimeError(f"worker {first.index} failed:\n{first.text}")
    if parent_error:
        raise parent_error
    return [results[i] for i in range(count)], parent_result


def _worker_main(queue, target, index, sync, args):
    from django.db import connections

    connections.close_all()  # the parent's connection state is not ours
    try:
        result = target(index, sync, *args)
    except BaseException:
        result = WorkerFailure(index, traceback.format_exc())
        with contextlib.suppress(Exception):
            sync.barrier.abort()  # do not leave the others waiting
    finally:
        connections.close_all()
    queue.put((index, result))


@dataclass
class Run:
    """What one worker did: ``ops`` in the measured window, ``total`` including the warm-up.

    ``client_cpu`` is this process's CPU time in the window, ``server_cpu`` its
    PostgreSQL backend's (None when the server is not on this machine).
    """

    ops: int
    elapsed: float
    total: int
    client_cpu: float
    server_cpu: float | None
    latencies: list[float] = field(default_factory=list)


def timed_loop(
    op: Callable[[int], object],
    sync: Sync,
    *,
    warmup: float,
    duration: float,
    server_cpu: Callable[[], float] | None = None,
) -> Run:
    """Warm up, wait for every worker, then run ``op(i)`` back to back for ``duration`` seconds."""
    i = 0
    end = time.monotonic() + warmup
    while time.monotonic() < end:
        op(i)
        i += 1
    sync.barrier.wait()
    latencies = []
    cpu0, server0 = time.process_time(), server_cpu() if server_cpu else None
    start = time.monotonic()
    deadline = start + duration
    while True:
        t0 = time.perf_counter()
        op(i)
        latencies.append(time.perf_counter() - t0)
        i += 1
        if time.monotonic() >= deadline:
            break
    elapsed = time.monotonic() - start
    return Run(
        ops=len(latencies),
        elapsed=elapsed,
        total=i,
        client_cpu=time.process_time() - cpu0,
        server_cpu=server_cpu() - server0 if server_cpu else None,
        latencies=latencies,
    )


def backend_cpu(pid: int) -> Callable[[], float] | None:
    """A reader of the CPU seconds used so far by the local PostgreSQL backend ``pid``, if it is local
    (and not behind a pooler, which hands each transaction whichever backend is free)."""
    if pooled():
        return None
    proc = Path(f"/proc/{pid}")
    tick = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    try:
        if (proc / "comm").read_text().strip() != "postgres":
            return None
        read()
    except (OSError, ValueError, IndexError):
        return None
    return read


def throughput(runs: list[Run]) -> float:
    return sum(r.ops / r.elapsed for r in runs)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


# --- service vs raw SQL, shared by the modules ------------------------------------------

MEMBER_COLUMNS = [
    "id",
    "openid",
    "unionid",
    "phone",
    "nickname",
    "avatar_url",
    "gender",
    "invite_code",
    "registration_channel",
    "registered_at",
]


def copy_members(cur, count: int, now) -> None:
    """COPY members 1..count (member m has id m; the data sets key everything else on it)."""
    copy_rows(
        cur,
        "members_member",
        MEMBER_COLUMNS,
        ((m, f"bench-{m}", "", "", "", "", 0, f"B{m:010d}", "bench", now) for m in range(1, count + 1)),
    )


def op_worker(index: int, sync: Sync, mode: str, make_op: Callable, warmup: float, duration: float) -> Run:
    """A worker for ``run_workers``: ``make_op(index, mode)`` gives the operation; a raw-SQL one carries
    ``backend_pid`` of its own connection, a service one runs on Django's."""
    from django.db import connection

    op = make_op(index, mode)
    if mode == "raw":
        pid = op.backend_pid
    else:
        connection.ensure_connection()
        pid = connection.connection.get_backend_pid()
    run = timed_loop(op, sync, warmup=warmup, duration=duration, server_cpu=backend_cpu(pid))
    run.latencies = [percentile(run.latencies, 50), percentile(run.latencies, 99)]  # keep the queue small
    return run


@dataclass
class Measured:
    rate: float  # operations/s
    client_ms: float  # CPU per operation in the worker processes
    server_ms: float | None  # CPU per operation in their PostgreSQL backends (None: server not local)
    p50_ms: float = 0.0  # the worst worker's
    p99_ms: float = 0.0

    @classmethod
    def of(cls, runs: list[Run]) -> Measured:
        ops = sum(r.ops for r in runs)
        servers = [r.server_cpu for r in runs]
        return cls(
            rate=throughput(runs),
            client_ms=sum(r.client_cpu for r in runs) / ops * 1000,
            server_ms=None if None in servers else sum(servers) / ops * 1000,
            p50_ms=max(r.latencies[0] for r in runs) * 1000,
            p99_ms=max(r.latencies[1] for r in runs) * 1000,
        )

    def cpu(self) -> str:
        server = (
            "n/a (server not local, or behind a pooler)"
            if self.server_ms is None
            else f"{self.server_ms:.2f} ms"
        )
        return f"client {self.client_ms:.2f} ms + server {server}"


def measure_on_accounts(
    h: Harness,
    template: str,
    *,
    workers: int,
    mode: str,
    hot: bool,
    tag: str,
    make_op: Callable,
    check: Callable[[list[Run]], str],
    unit: str,
) -> Measured:
    """One run on a fresh copy: ``workers`` processes, each with ``make_op(members, tag)`` over its slice
    of the accounts (or all on account 1 when ``hot``); ``check(runs)`` proves the work on the copy and
    says what it checked."""
    pool = [1] if hot else list(range(1, h.scale.accounts + 1))
    with h.copy_of(template):
        runs, _ = run_workers(
            workers,
            op_worker,
            lambda i: (
                mode,
                make_op(pool if hot else pool[i::workers], tag),
                h.scale.warmup,
                h.scale.duration,
            ),
        )
        checked = check(runs)
    measured = Measured.of(runs)
    print(
        f"  {tag} ({checked}): {measured.rate:,.0f} {unit}/s over {h.scale.duration:g} s; worst worker's "
        f"p50 {measured.p50_ms:.1f} ms, p99 {measured.p99_ms:.1f} ms; CPU per operation {measured.cpu()}",
        flush=True,
    )
    return measured


def compare_service_raw(
    h: Harness, measure: Callable[[str, int], Measured], *, label: str, unit: str
) -> tuple[float, float]:
    """``measure(mode, round)`` for the service and raw SQL, ``repeats`` rounds each, alternating which
    goes first (the machine is shared); notes every round and returns the two medians."""
    results: dict[str, list[Measured]] = {"service": [], "raw": []}
    for round_ in range(h.scale.repeats):
        for mode in ("service", "raw") if round_ % 2 == 0 else ("raw", "service"):
            results[mode].append(measure(mode, round_))
    medians = {}
    for mode, measured in results.items():
        middle = sorted(measured, key=lambda m: m.rate)[len(measured) // 2]
        medians[mode] = statistics.median(m.rate for m in measured)
        h.note(
            f"{label}, {mode}: " + ", ".join(f"{m.rate:,.0f}" for m in measured) + f" {unit}/s "
            f"(median {medians[mode]:,.0f}); CPU per operation {middle.cpu()}"
        )
    return medians["service"], medians["raw"]


# --- the report ----------------------------------------------------------------------


HEADERS = ["figure", "value", "baseline", "ratio", "target", "met"]


def text_table(figures: list[Figure]) -> str:
    rows = [HEADERS] + [f.cells() for f in figures]
    widths = [max(len(r[c]) for r in rows) for c in range(len(HEADERS))]
    lines = [
        "  ".join(
            cell.ljust(w) if c == 0 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(figures: list[Figure]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join(["---"] + ["---:"] * 5) + "|"]
    lines += ["| " + " | ".join(f.cells()) + " |" for f in figures]
    return "\n".join(lines)


def missed_targets(figures: list[Figure]) -> list[str]:
    """One line per missed target: the figure, its ratio against the target, why, and what would close it."""
    return [
        f"**{f.name}**: {f.ratio:.2f}× against {f.target}. "
        + (f.missed or "No explanation recorded: investigate before trusting this row.")
        for f in figures
        if not f.met
    ]


def environment() -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0]
        cur.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name IN "
            "('shared_buffers', 'synchronous_commit', 'fsync', 'max_connections') ORDER BY name"
        )
        pg_settings = ", ".join(f"{n}={_pg_setting(s, u)}" for n, s, u in cur.fetchall())
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or platform.machine(),
    )
    mem = next(
        (line.split()[1] for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), ""
    )
    memory = f", {int(mem) / 1024 / 1024:.1f} GiB RAM" if mem else ""
    return {
        "machine": f"{os.cpu_count()} CPUs ({cpu}){memory}, {platform.system()} {platform.release()}",
        "postgresql": f"{version} ({pg_settings})",
        "code": _git_state(),
    }


def _pg_setting(setting: str, unit: str | None) -> str:
    if unit == "8kB":
        return f"{int(setting) * 8 // 1024}MB"
    return setting + (unit or "")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _git_state() -> str:
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return f"git {head}" + (f" with uncommitted changes in {', '.join(changed)}" if changed else "")


def write_report(
    figures: list[Figure], notes: list[str], *, scale: Scale, command: str, env: dict, partial: bool = False
) -> Path:
    """The report of the run.  A run of some benchmarks (``partial``) updates their rows and missed
    targets in the existing report and adds a dated note naming them; the other rows stay as earlier
    runs wrote them.  A run of all of them writes the whole report."""
    report = POOLED_REPORT if pooled() else REPORT
    report.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    if partial and report.exists():
        run = f"{now:%Y-%m-%d %H:%M} UTC, `{command}` (scale `{scale.name}`), {env['code']}, {env['machine']}"
        report.write_text(merged_report(report.read_text(), figures, notes, run))
        return report
    body = [
        "# Benchmarks" + (" through PgBouncer" if pooled() else ""),
        "",
        "Written by `python -m bench` (`make bench`); see `bench/README.md` for what each",
        "figure measures. Each baseline is measured in the same run as its value.",
        "",
        f"- Date: {now:%Y-%m-%d %H:%M} UTC",
        f"- Command: `{command}` (scale `{scale.name}`)",
        f"- Machine: {env['machine']}",
        f"- PostgreSQL: {env['postgresql']}",
        f"- Code: {env['code']}",
        "",
        markdown_table(figures),
        "",
    ]
    misses = missed_targets(figures)
    if misses:
        body += ["## Targets missed", "", *[f"- {m}" for m in misses], ""]
    if notes:
        body += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    body += kept_sections(report)
    report.write_text("\n".join(body))
    return report


def merged_report(text: str, figures: list[Figure], notes: list[str], run: str) -> str:
    """``text`` (a report) with the rows of ``figures`` replaced in place, or added at the table's end,
    their missed-target lines replaced, and a note of the run."""
    lines = text.splitlines()
    rows = {f.name: "| " + " | ".join(f.cells()) + " |" for f in figures}
    table = [i for i, line in enumerate(lines) if line.startswith("| ") and not line.startswith("| figure |")]
    for i in table:
        name = lines[i][2:].split(" | ", 1)[0].rstrip(" ¹²³⁴⁵⁶⁷⁸⁹⁰")  # a row's footnote mark is not its name
        if name in rows:
            lines[i] = rows.pop(name)
    end = (table[-1] + 1) if table else len(lines)
    lines[end:end] = list(rows.values())
    lines = [line for line in lines if not any(line.startswith(f"- **{f.name}**") for f in figures)]
    misses = missed_targets(figures)
    if misses:
        if "## Targets missed" not in lines:
            lines[end + len(rows) : end + len(rows)] = ["", "## Targets missed", ""]
        at = lines.index("## Targets missed") + 2
        lines[at:at] = [f"- {m}" for m in misses]
    if "## Notes" not in lines:
        lines += ["", "## Notes", ""]
    at = lines.index("## Notes") + 2
    names = ", ".join(f"**{f.name}**" for f in figures)
    lines[at:at] = [f"- {run}: updated {names}.", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


#: Sections of docs/benchmarks.md written by hand from a separate benchmark (``bench/growth.py``, which
#: takes an hour of its own), kept when ``python -m bench`` rewrites the file.
KEPT = ("## Ledger growth",)


def kept_sections(report: Path) -> list[str]:
    lines = report.read_text().splitlines() if report.exists() else []
    starts = [i for i, line in enumerate(lines) if line.startswith(KEPT)]
    return lines[starts[0] :] + [""] if starts else []
