"""Server-side prepared statements for the ledgers' hot paths.

psycopg2 puts the parameters into the SQL text on the client, so PostgreSQL
parses, analyses and plans every statement it receives anew.  For a posting
(a lock, a lot query and one multi-CTE write) that planning was a large part
of the server's CPU per posting, which at 16 connections on two cores is
what limits postings per second (bench/README.md).  A statement run through
``execute`` is PREPAREd once per connection and EXECUTEd after that: the
server plans it once (it keeps a generic plan when that is no worse) and
re-plans by itself when a table it reads changes.

PREPARE is not transactional: a statement prepared in a transaction that
rolls back stays prepared, so the record kept here per connection stays true.
A new connection (Django reconnects after ``CONN_MAX_AGE`` or an error)
starts with an empty record.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field

# psycopg2 connection -> names prepared on it; weak, so a closed connection's record goes with it.
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Statement:
    """``sql`` numbers its parameters ``$1``…``$n`` (cast them where PostgreSQL cannot infer the type)."""

    name: str
    sql: str
    execute_sql: str = field(init=False, repr=False)

    def __post_init__(self):
        arity = max((int(n) for n in re.findall(r"\$(\d+)", self.sql)), default=0)
        args = "(" + ", ".join(["%s"] * arity) + ")" if arity else ""
        object.__setattr__(self, "execute_sql", f"EXECUTE {self.name}{args}")


def execute(cur, statement: Statement, params: list | tuple = ()) -> None:
    """Run ``statement`` with ``params`` on Django's cursor ``cur``, preparing it first if need be."""
    raw = cur.db.connection
    names = _prepared.get(raw)
    if names is None:
        names = _prepared[raw] = set()
    if statement.name not in names:
        cur.execute(f"PREPARE {statement.name} AS {statement.sql}")
        names.add(statement.name)
    cur.execute(statement.execute_sql, params)
