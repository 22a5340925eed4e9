"""A PgBouncer of our own in front of a PostgreSQL server, for the tests and the benchmarks.

Debian's ``pgbouncer`` (``make pgbouncer`` installs it) runs in transaction pooling, the mode most
deployments past one web node use, listening on a Unix socket in a directory of its own: its clients
reach it with ``host=<that directory>`` and ``port`` (the socket's name), any database name (``*``
forwards each to the server's database of that name) and the server's user.  Authentication stops at
PgBouncer (``trust`` for the one user); it logs in to the server with the URL's user and password.

Production runs a configured PgBouncer (docker-compose.yml, docs/pgbouncer.md); nothing here is
imported by the application.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

PORT = 6432  # only names the socket file: .s.PGSQL.6432 in the runner's own directory
DEBIAN_BINARY = "/usr/sbin/pgbouncer"


def binary() -> str | None:
    """The pgbouncer program, or None when it is not installed."""
    return shutil.which("pgbouncer") or (DEBIAN_BINARY if os.access(DEBIAN_BINARY, os.X_OK) else None)


class PgBouncer:
    """One pgbouncer process in transaction pooling in front of ``server`` (host, port, user, password).

    ``pool_size`` server connections at most per database (clients beyond it wait for a transaction to
    end); server connections idle for ``idle_seconds`` are closed, so a pool left over by a finished
    test does not keep the server's connection slots.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int | str | None,
        user: str,
        password: str = "",
        pool_size: int = 50,
        idle_seconds: int = 10,
        max_clients: int = 1000,
    ):
        # No host: libpq's default socket directory (Debian's), never PgBouncer's own.
        self.server = {
            "host": host or "/var/run/postgresql",
            "port": str(port or 5432),
            "user": user,
            "password": password or "",
        }
        self.pool_size, self.idle_seconds, self.max_clients = pool_size, idle_seconds, max_clients
        self.dir: Path | None = None
        self.process: subprocess.Popen | None = None

    # --- where clients connect ----------------------------------------------------------------------

    @property
    def host(self) -> str:
        return str(self.dir)

    port = PORT

    def connect(self, dbname: str, **kwargs):
        """A psycopg2 connection through this PgBouncer."""
        return psycopg2.connect(
            host=self.host, port=self.port, user=self.server["user"], dbname=dbname, **kwargs
        )

    # --- life ---------------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> PgBouncer:
        program = binary()
        if program is None:
            raise RuntimeError("pgbouncer is not installed (make pgbouncer, or apt-get install pgbouncer)")
        self.dir = Path(tempfile.mkdtemp(prefix="loyalty-pgbouncer-"))
        (self.dir / "users.txt").write_text(f'"{self.server["user"]}" ""\n')
        (self.dir / "pgbouncer.ini").write_text(self._config())
        args = [program]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            user = _unprivileged_user(self.server["host"])
            os.chmod(self.dir, 0o755)
            for path in (self.dir, *self.dir.iterdir()):
                os.chown(path, user.pw_uid, user.pw_gid)
            args += ["-u", user.pw_name]
        log = open(self.dir / "pgbouncer.log", "ab")  # noqa: SIM115 - its stderr: the child writes it for its life
        self.process = subprocess.Popen([*args, str(self.dir / "pgbouncer.ini")], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while not (self.dir / f".s.PGSQL.{self.port}").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = (self.dir / "pgbouncer.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"pgbouncer did not start:\n{output}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop it (its server connections close) and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # immediate shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _config(self) -> str:
        s = self.server
        target = " ".join(f"{key}={_quoted(value)}" for key, value in s.items() if value)
        return f"""\
[databases]
* = {target}

[pgbouncer]
pool_mode = transaction
listen_addr =
listen_port = {self.port}
unix_socket_dir = {self.dir}
auth_type = trust
auth_file = {self.dir / "users.txt"}
admin_users = {s["user"]}
default_pool_size = {self.pool_size}
max_client_conn = {self.max_clients}
server_idle_timeout = {self.idle_seconds}
server_lifetime = 3600
query_wait_timeout = 60
log_connections = 0
log_disconnections = 0
"""


def route(*, host: str, port, pooler: str) -> None:
    """Send Django's default connection to ``host``/``port`` with ``DB_POOLER=pooler`` (open ones are
    closed), in this process and in the processes it starts later (workers, servers, beats)."""
    from django.conf import settings
    from django.db import connection, connections

    connections.close_all()
    where = {"HOST": host, "PORT": str(port or ""), "DISABLE_SERVER_SIDE_CURSORS": pooler == "transaction"}
    connection.settings_dict.update(where)
    for alias in connections:  # a mirror of the primary (the suite's replica alias) goes where it goes
        if connections[alias].settings_dict.get("TEST", {}).get("MIRROR") == connection.alias:
            connections[alias].settings_dict.update(where)
    settings.DB_POOLER = pooler
    os.environ["DB_POOLER"] = pooler


def _quoted(value: str) -> str:
    """A libpq connection-string value: quoted when it holds a space, a quote or a backslash."""
    if value and not any(c in value for c in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _unprivileged_user(host: str) -> pwd.struct_passwd:
    """Who runs PgBouncer when we are root: the owner of the server's socket directory (the embedded
    server's is private to its user), else the user Debian's package runs it as."""
    with contextlib.suppress(OSError, KeyError):
        owner = os.stat(host).st_uid if host.startswith("/") else 0
        if owner != 0:
            return pwd.getpwuid(owner)
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and neither a postgres nor a nobody user exists for pgbouncer")
