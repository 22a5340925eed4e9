"""What the apps' SQL modules share: a model's names for SQL text, one row locked FOR UPDATE, the cursor.

``lock_row`` is the hot paths' lock, without the ORM's query building.
"""

from __future__ import annotations

import functools

from django.db import connection, connections, router


def db_cursor():
    """Django's cursor on the default connection: the handle code outside the SQL modules passes to them.

    One cursor serves every statement of a transaction (Django wraps each cursor it opens).
    """
    return connection.cursor()


def read_cursor(model):
    """A cursor on the connection the router reads ``model`` from: the replica on a replica-fed page
    (``loyalty.db_router``), else the primary.  For the raw reads of reports; never for a write."""
    return connections[router.db_for_read(model)].cursor()


def lock_row(model, attname: str, value):
    """The ``model`` row whose field ``attname`` is ``value``, locked until the transaction ends, or None.

    Values are converted as the ORM would: Django reads jsonb as text and decodes it in the field.
    """
    fields, lock_sql = _lock_sql(model, attname)
    with connection.cursor() as cur:
        cur.execute(lock_sql, [value])
        row = cur.fetchone()
    if row is None:
        return None
    values = [
        f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
        for f, v in zip(fields, row, strict=True)
    ]
    return model.from_db(connection.alias, [f.attname for f in fields], values)


@functools.cache
def _lock_sql(model, attname: str) -> tuple[list, str]:
    """The fields read and the statement of ``lock_row``, written once per model and field."""
    fields = model._meta.concrete_fields
    column = next(f.column for f in fields if f.attname == attname)
    return fields, (
        f"SELECT {', '.join(f.column for f in fields)} FROM {model._meta.db_table} WHERE {column} = %s FOR UPDATE"
    )


class Names:
    """A model's table (``.table``) and its columns by attribute name (``.account_id``), for SQL text.

    Raw statements are written with these, built once at import, so a renamed table or column is
    renamed in them too.
    """

    def __init__(self, model):
        self.table = model._meta.db_table
        for f in model._meta.concrete_fields:
            setattr(self, f.attname, f.column)
