"""The members app's SQL: the raw statements of ``members.receiving`` and ``members.closure``.

Table and column names come from the models (``loyalty.rows.Names``); the statements are written once.
tests/members/test_sql.py checks them against the ORM.
"""

from __future__ import annotations

import functools

from loyalty.locks import Rank, takes
from loyalty.rows import Names, db_cursor
from members.models import Member

_m = Names(Member)


@functools.cache
def _lock_receiving_sql(condition: str) -> str:
    return f"SELECT m.{_m.id} FROM {_m.table} m WHERE m.{_m.id} = ANY(%s) AND {condition} ORDER BY m.{_m.id} FOR SHARE"


@takes(Rank.MEMBER)
def lock_members(member_ids: list[int], condition: str) -> set[int]:
    """Of ``member_ids``, those whose row (aliased ``m``) meets ``condition``, locked FOR SHARE in id order."""
    with db_cursor() as cur:
        cur.execute(_lock_receiving_sql(condition), [member_ids])
        return {member_id for (member_id,) in cur.fetchall()}
