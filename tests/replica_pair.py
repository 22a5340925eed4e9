"""A PostgreSQL primary and a streaming replica of it, started by the tests in a temporary folder.

Both run the embedded server's binaries (the ``pgserver`` wheel's initdb, pg_ctl, pg_basebackup,
pg_dump, psql), so the replica is made exactly as production makes one: ``pg_basebackup -R`` from the
running primary, then started in standby mode streaming its WAL.  They listen only on Unix sockets in
the folder (no port to collide with the machine's servers, which are left alone).  As root, the
servers run as pgserver's own system user, as the embedded server does (PostgreSQL refuses root).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

DATABASE = "loyalty"
_COLUMN_OPTIONS = re.compile(r"^ALTER TABLE ONLY \S+ ALTER COLUMN \S+ SET \(.*\);$", re.MULTILINE)


def _binaries() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


class ReplicatedPair:
    """``start()`` a primary with ``source``'s schema and data (a Django ``settings_dict``) and a replica
    streaming from it; ``stop()`` both and remove their folder."""

    # Ports only name the two sockets in the folder (nothing listens on TCP).
    primary_port, replica_port = 5432, 5433

    def __init__(self):
        self.bin = _binaries()
        self.base = Path(tempfile.mkdtemp(prefix="loyalty-replica-"))
        self.user = None
        if os.geteuid() == 0:
            self._as_pgserver_user()

    def _as_pgserver_user(self):
        """What pgserver does as root: a system user of its own, who may run the binaries and own the data."""
        import pwd

        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        self.user = "pgserver"
        entry = ensure_user_exists(self.user)
        ensure_prefix_permissions(self.bin)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(self.bin, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(self.bin.parent / "lib", readable)
        ensure_prefix_permissions(self.base)
        os.chown(self.base, entry.pw_uid, pwd.getpwnam(self.user).pw_gid)

    def _run(self, program: str, *args: str, as_server: bool = False, **kwargs):
        done = subprocess.run(
            [str(self.bin / program), *args],
            capture_output=True,
            text=True,
            user=self.user if as_server else None,
            timeout=60,
            **kwargs,
        )
        if done.returncode:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done

    def settings(self, port: int) -> dict:
        """What a Django ``settings_dict`` needs to reach one of the two."""
        return {
            "HOST": str(self.base),
            "PORT": str(port),
            "NAME": DATABASE,
            "USER": "postgres",
            "PASSWORD": "",
        }

    def _server_options(self, port: int) -> str:
        # fsync off: a test server's data need not survive a crash of the machine, and it is faster.
        return f"-p {port} -c listen_addresses='' -c unix_socket_directories='{self.base}' -c fsync=off"

    def _pg_ctl_start(self, name: str, port: int):
        data = self.base / name
        self._run(
            "pg_ctl", "-D", str(data), "-l", str(self.base / f"{name}.log"), "-o", self._server_options(port),
            "-w", "-t", "30", "start", as_server=True,
        )  # fmt: skip

    def start(self, source: dict) -> ReplicatedPair:
        try:
            self._run(
                "initdb", "-D", str(self.base / "primary"), "-U", "postgres", "--auth=trust", "--encoding=utf8",
                "--no-sync", as_server=True,
            )  # fmt: skip
            # Streaming replication's needs (PostgreSQL 16's defaults, written down): WAL for a replica,
            # senders for the backup and the standby; initdb's pg_hba.conf already trusts local replication.
            with open(self.base / "primary" / "postgresql.conf", "a") as conf:
                conf.write("wal_level = replica\nmax_wal_senders = 4\n")
            self._pg_ctl_start("primary", self.primary_port)
            self._load(source)
            self._run(
                "pg_basebackup", "-h", str(self.base), "-p", str(self.primary_port), "-U", "postgres",
                "-D", str(self.base / "replica"), "-R", "-X", "stream", "-c", "fast", as_server=True,
            )  # fmt: skip
            self._pg_ctl_start("replica", self.replica_port)
        except BaseException:
            self.stop()
            raise
        return self

    def _load(self, source: dict):
        """The primary gets the test database's schema and rows (faster than migrating a new one)."""
        self._run("psql", "-h", str(self.base), "-p", str(self.primary_port), "-U", "postgres", "-d", "postgres",
                  "-q", "-c", f"CREATE DATABASE {DATABASE}")  # fmt: skip
        env = {**os.environ, "PGPASSWORD": source.get("PASSWORD") or ""}
        where = [*(["-h", source["HOST"]] if source.get("HOST") else []),
                 *(["-p", str(source["PORT"])] if source.get("PORT") else [])]  # fmt: skip
        dump = self._run(
            "pg_dump", *where, "-U", source.get("USER") or "postgres", "--no-owner", "--no-privileges",
            source["NAME"], env=env,
        ).stdout  # fmt: skip
        # Column attribute options (``ALTER COLUMN … SET (…)``): the project sets none, and a server built
        # with options of its own (one Debian-based image's ``pg_attver``) writes some this one refuses.
        dump = _COLUMN_OPTIONS.sub("", dump)
        self._run("psql", "-h", str(self.base), "-p", str(self.primary_port), "-U", "postgres", "-d", DATABASE,
                  "-q", "-v", "ON_ERROR_STOP=1", input=dump)  # fmt: skip

    def stop(self):
        for name in ("replica", "primary"):
            if (self.base / name / "postmaster.pid").exists():
                with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
                    self._run(
                        "pg_ctl", "-D", str(self.base / name), "-m", "immediate", "-w", "stop", as_server=True
                    )
        shutil.rmtree(self.base, ignore_errors=True)


def wait_until(condition, *, timeout: float = 10.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
