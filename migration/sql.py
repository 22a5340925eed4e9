"""The import's own set-based statement: the registration times of the members a chunk created.

``Member.registered_at`` is ``auto_now_add``, so ``bulk_create`` dates every member now; the old
system's date is written after, for the chunk at once.
"""

from loyalty.rows import Names, db_cursor
from members.models import Member

_m = Names(Member)

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
