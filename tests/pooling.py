"""Where the tests' connections go: through a PgBouncer in transaction pooling, or straight to PostgreSQL.

tests/conftest.py starts one PgBouncer per test process (``django_db_setup``) and sends every test
through it; ``route`` moves the default connection of every thread (they share one settings dict) and
of the child processes the tests start.
"""

from __future__ import annotations

import contextlib
import os

from loyalty import pgbouncer
from loyalty.pgbouncer import route  # noqa: F401 - the tests route through here


def through_pgbouncer() -> bool:
    """Whether the run goes through a PgBouncer of its own: when pgbouncer is installed (``make test``
    installs it) unless ``TEST_PGBOUNCER=0`` or ``DATABASE_URL`` is a pooler (``DB_POOLER``);
    ``TEST_PGBOUNCER=1`` insists on pgbouncer being installed."""
    wanted = os.environ.get("TEST_PGBOUNCER", "")
    if wanted == "0" or os.environ.get("DB_POOLER") == "transaction":  # or DATABASE_URL is a pooler already
        return False
    if wanted == "1" and pgbouncer.binary() is None:
        raise RuntimeError("TEST_PGBOUNCER=1 but pgbouncer is not installed (make pgbouncer)")
    return pgbouncer.binary() is not None


def here() -> dict:
    """Where the default connection goes now (``route``'s arguments)."""
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    return {"host": db["HOST"], "port": db["PORT"], "pooler": settings.DB_POOLER}


def admin(bouncer: pgbouncer.PgBouncer, command: str) -> list[dict]:
    """A command of PgBouncer's admin console (``SHOW POOLS``, ``SHOW SERVERS``…), its rows as dicts."""
    with contextlib.closing(bouncer.connect("pgbouncer")) as conn:
        conn.autocommit = True  # the console takes no transactions
        with conn.cursor() as cur:
            cur.execute(command)
            names = [c.name for c in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()] if names else []
