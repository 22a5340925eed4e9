"""The members app's SQL: the raw statements of ``members.receiving`` and ``members.closure``.

Table and column names come from the models (``loyalty.rows.Names``); the statements are written once.
tests/members/test_sql.py checks them against the ORM.
"""

from __future__ import annotations

import functools
from collections import namedtuple

from loyalty import prepared
from loyalty.locks import Rank, takes
from loyalty.rows import Names, db_cursor
from members.models import Member, MemberCode

_m = Names(Member)
_c = Names(MemberCode)


@functools.cache
def _lock_receiving_sql(condition: str) -> str:
    return f"SELECT m.{_m.id} FROM {_m.table} m WHERE m.{_m.id} = ANY(%s) AND {condition} ORDER BY m.{_m.id} FOR SHARE"


@takes(Rank.MEMBER)
def lock_members(member_ids: list[int], condition: str) -> set[int]:
    """Of ``member_ids``, those whose row (aliased ``m``) meets ``condition``, locked FOR SHARE in id order."""
    with db_cursor() as cur:
        cur.execute(_lock_receiving_sql(condition), [member_ids])
        return {member_id for (member_id,) in cur.fetchall()}


_BIND_CODE = f"""
    UPDATE {_c.table} SET {_c.order_no} = %(order_no)s, {_c.bound_at} = %(now)s
     WHERE {_c.code} = %(code)s
       AND ({_c.order_no} = %(order_no)s
            OR ({_c.order_no} = '' AND {_c.replaced_at} IS NULL AND {_c.expires_at} > %(now)s))
    RETURNING {_c.member_id}"""


def bind_member_code(*, code: str, order_no: str, now) -> int | None:
    """Bind a live, unbound code (or one bound to this very order) to ``order_no``: its member, else None.

    One conditional UPDATE, so two orders racing for one code are decided by its row lock."""
    with db_cursor() as cur:
        cur.execute(_BIND_CODE, {"code": code, "order_no": order_no, "now": now})
        row = cur.fetchone()
    return None if row is None else row[0]


CodeRow = namedtuple(
    "CodeRow",
    "id member_id expires_at replaced_at order_no closed_at nickname phone registered_at",
)

_CODE_ROW = prepared.Statement(
    "member_code_row",
    f"""SELECT c.{_c.id}, c.{_c.member_id}, c.{_c.expires_at}, c.{_c.replaced_at}, c.{_c.order_no},
               m.{_m.closed_at}, m.{_m.nickname}, m.{_m.phone}, m.{_m.registered_at}
          FROM {_c.table} c JOIN {_m.table} m ON m.{_m.id} = c.{_c.member_id}
         WHERE c.{_c.code} = $1::varchar""",
)


def member_code_row(code: str) -> CodeRow | None:
    """A code with the member fields the till shows, in one statement (prepared: every resolution asks)."""
    with db_cursor() as cur:
        prepared.execute(cur, _CODE_ROW, [code])
        row = cur.fetchone()
    return None if row is None else CodeRow(*row)
