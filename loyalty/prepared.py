"""Server-side prepared statements and a lean transaction for the ledgers' hot paths.

psycopg2 puts the parameters into the SQL text on the client, so PostgreSQL
parses, analyses and plans every statement it receives anew.  For a posting
(a lock, a lot query and one multi-CTE write) that planning was a large part
of the server's CPU per posting (bench/README.md).  A statement run through
``execute`` is PREPAREd once per connection and EXECUTEd after that: the
server plans it once (it keeps a generic plan when that is no worse) and
re-plans by itself when a table it reads changes.

PREPARE is not transactional: a statement prepared in a transaction that
rolls back stays prepared, so the record kept here per connection stays true.
A new connection (Django reconnects after ``CONN_MAX_AGE`` or an error)
starts with an empty record.

Behind a pooler in transaction mode (``DB_POOLER=transaction``: PgBouncer) a
client connection is not a server session: each transaction may run on
another one, where the statement was never prepared (and a PREPARE would
leave it behind for whoever gets that session next).  ``execute`` then sends
the same statement as plain SQL with its parameters, planned every time.
PgBouncer 1.21 and later can keep protocol-level prepared statements in that
mode, but psycopg2 never sends those, and Debian 12 ships 1.18.

``atomic_cursor`` is ``transaction.atomic()`` plus a cursor, minus Django's
bookkeeping when it is the outermost block (see there).
"""

from __future__ import annotations

import contextlib
import re
import weakref
from dataclasses import dataclass, field

import psycopg2
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

# psycopg2 connection -> names prepared on it; weak, so a closed connection's record goes with it.
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Statement:
    """``sql`` numbers its parameters ``$1``…``$n`` (cast them where PostgreSQL cannot infer the type)."""

    name: str
    sql: str
    execute_sql: str = field(init=False, repr=False)
    # The statement without PREPARE: ``sql`` with %s for $n (literal % doubled), and which parameter each %s takes.
    plain_sql: str = field(init=False, repr=False)
    plain_order: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self):
        arity = max((int(n) for n in re.findall(r"\$(\d+)", self.sql)), default=0)
        args = "(" + ", ".join(["%s"] * arity) + ")" if arity else ""
        object.__setattr__(self, "execute_sql", f"EXECUTE {self.name}{args}")
        object.__setattr__(self, "plain_sql", re.sub(r"\$\d+", "%s", self.sql.replace("%", "%%")))
        object.__setattr__(self, "plain_order", tuple(int(n) - 1 for n in re.findall(r"\$(\d+)", self.sql)))


def preparing() -> bool:
    """Whether statements are PREPAREd per connection: not behind a transaction pooler (module doc)."""
    return settings.DB_POOLER != "transaction"


def execute(cur, statement: Statement, params: list | tuple = ()) -> None:
    """Run ``statement`` with ``params`` on ``cur``, preparing it first if need be (or plain, see the module doc).

    ``cur`` is Django's cursor or psycopg2's own: either one's ``connection`` is psycopg2's.
    """
    if not preparing():
        cur.execute(statement.plain_sql, [params[i] for i in statement.plain_order])
        return
    raw = cur.connection
    names = _prepared.get(raw)
    if names is None:
        names = _prepared[raw] = set()
    if statement.name not in names:
        cur.execute(f"PREPARE {statement.name} AS {statement.sql}")
        names.add(statement.name)
    cur.execute(statement.execute_sql, params)


@contextlib.contextmanager
def atomic_cursor(*, savepoint: bool = True):
    """A cursor in a transaction: the caller's (in a savepoint unless ``savepoint=False``) or its own.

    Inside a ``transaction.atomic`` block (or while queries are logged or
    wrapped) this is ``transaction.atomic(savepoint=savepoint)`` and Django's
    cursor.  Outside one (a posting called on its own: the ledger API views,
    jobs, the bench) it does what the outermost ``atomic`` does — BEGIN, then
    COMMIT, or ROLLBACK on any exception — on Django's connection, without the
    bookkeeping (commit hooks, savepoint ids, autocommit switches through
    Django, a cursor wrapper per statement) that cost a posting about as much
    client CPU as its SQL did (bench/README.md).  Errors are Django's either way.

    Only for code that runs nothing but SQL on this cursor inside the block:
    Django still believes the connection is in autocommit, so the ORM,
    ``transaction.atomic`` or ``on_commit`` inside it would misbehave.
    """
    conn = connections[DEFAULT_DB_ALIAS]
    if not conn.in_atomic_block:
        conn.close_if_health_check_failed()
        conn.ensure_connection()
    # Django's own way inside the caller's transaction, under a transaction managed by hand, and
    # whenever someone watches the queries (DEBUG, assertNumQueries, an execute wrapper): the
    # lean way's statements would not pass through Django's cursor wrapper, so they would not see them.
    if conn.in_atomic_block or not conn.autocommit or conn.queries_logged or conn.execute_wrappers:
        with transaction.atomic(savepoint=savepoint), conn.cursor() as cur:
            yield cur
        return
    raw = conn.connection
    with conn.wrap_database_errors:
        cur = raw.cursor()
        raw.autocommit = False  # psycopg2 sends BEGIN with the first statement
        try:
            yield cur
            raw.commit()
        except BaseException:
            try:
                raw.rollback()
            except psycopg2.Error:
                conn.close()  # the connection is broken: Django opens a new one next time
            raise
        finally:
            if not raw.closed:
                raw.autocommit = True
