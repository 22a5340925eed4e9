"""The import's own set-based statements: a chunk's rows marked imported, its members' registration times.

``Member.registered_at`` is ``auto_now_add``, so ``bulk_create`` dates every member now; the old
system's date is written after, for the chunk at once.  ``bulk_update`` of a chunk's rows builds a
CASE per row and column in Python (most of a chunk's time, measured): one UPDATE from arrays instead.
"""

import json

from loyalty.rows import Names, db_cursor
from members.models import Member
from migration.models import ImportRow

_m = Names(Member)
_r = Names(ImportRow)

_MARK_IMPORTED = f"""
UPDATE {_r.table} r SET {_r.status} = %(status)s, {_r.member_id} = s.member_id, {_r.created_member} = s.created,
                        {_r.postings} = s.postings::jsonb
FROM unnest(%(ids)s::bigint[], %(members)s::bigint[], %(created)s::boolean[], %(postings)s::text[])
    AS s(id, member_id, created, postings)
WHERE r.{_r.id} = s.id
"""


_INSERT_ROWS = f"""
INSERT INTO {_r.table} ({_r.job_id}, {_r.number}, {_r.status}, {_r.problems}, {_r.data}, {_r.member_id},
                        {_r.created_member}, {_r.postings})
SELECT %(job)s, s.number, s.status, s.problems::jsonb, s.data::jsonb, s.member_id, false, '{{}}'::jsonb
FROM unnest(%(numbers)s::integer[], %(statuses)s::varchar[], %(problems)s::text[], %(data)s::text[],
            %(members)s::bigint[]) AS s(number, status, problems, data, member_id)
"""


def insert_rows(job_id: int, rows: list, *, chunk: int = 10_000) -> None:
    """The dry run's report rows (each with number, status, problems, data, member_id), ``chunk`` per statement
    (``bulk_create`` spent more on building its statement than the database on running it)."""
    with db_cursor() as cur:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            cur.execute(
                _INSERT_ROWS,
                {
                    "job": job_id,
                    "numbers": [r.number for r in part],
                    "statuses": [str(r.status) for r in part],
                    "problems": [json.dumps(r.problems, ensure_ascii=False) for r in part],
                    "data": [json.dumps(r.data, ensure_ascii=False) for r in part],
                    "members": [r.member_id for r in part],
                },
            )


def mark_imported(rows: list[tuple[int, int, bool, dict]], *, status: str) -> None:
    """``rows``: (import row id, member_id, member created, postings)."""
    if not rows:
        return
    ids, members, created, postings = (list(column) for column in zip(*rows, strict=True))
    with db_cursor() as cur:
        cur.execute(
            _MARK_IMPORTED,
            {
                "status": status,
                "ids": ids,
                "members": members,
                "created": created,
                "postings": [json.dumps(p) for p in postings],
            },
        )


_SET_REGISTERED_AT = f"""
UPDATE {_m.table} m SET {_m.registered_at} = s.at
FROM unnest(%(ids)s::bigint[], %(ats)s::timestamptz[]) AS s(id, at)
WHERE m.{_m.id} = s.id
"""


def set_registered_at(pairs: list[tuple[int, object]]) -> None:
    """``pairs``: (member_id, registered_at)."""
    if not pairs:
        return
    ids, ats = (list(column) for column in zip(*pairs, strict=True))
    with db_cursor() as cur:
        cur.execute(_SET_REGISTERED_AT, {"ids": ids, "ats": ats})
