"""The stores app's SQL: a store by its code, the first read of every till call that names one.

Table and column names come from the model (``loyalty.rows.Names``); prepared once per connection.
"""

from __future__ import annotations

from collections import namedtuple

from loyalty import prepared
from loyalty.rows import Names, db_cursor
from stores.models import Store

_s = Names(Store)

StoreRow = namedtuple("StoreRow", "id code name status")

_BY_CODE = prepared.Statement(
    "stores_store_by_code",
    f"SELECT {_s.id}, {_s.code}, {_s.name}, {_s.status} FROM {_s.table} WHERE {_s.code} = $1::varchar",
)


def store_by_code(code: str) -> StoreRow | None:
    with db_cursor() as cur:
        prepared.execute(cur, _BY_CODE, [code])
        row = cur.fetchone()
    return None if row is None else StoreRow(*row)
