"""The import's own set-based statements: the dry run's report rows, the lookups of members and of keys
posted before, a chunk's new members and its rows marked imported.

Each takes or returns whole columns (arrays, COPY): the ORM's ``bulk_create``, ``bulk_update`` and
``__in`` lookups build a statement per row and value in Python, which was most of an import's time
(bench/README.md, "the import").  ``Member.registered_at`` is ``auto_now_add``; the insert here
writes the old system's date, or now.  tests/migration/test_sql.py checks each against the ORM.
"""

import io
import json

from loyalty import locks
from loyalty.locks import Rank
from loyalty.rows import Names, db_cursor
from members.models import Member
from migration.models import ImportChunk, ImportJob, ImportRow
from points.models import PointsAccount, PointsEntry
from stored_value.models import StoredValueAccount, StoredValueEntry

_m = Names(Member)
_r = Names(ImportRow)
_c = Names(ImportChunk)
_j = Names(ImportJob)
_pa = Names(PointsAccount)
_pe = Names(PointsEntry)
_sa = Names(StoredValueAccount)
_se = Names(StoredValueEntry)

_MARK_IMPORTED = f"""
UPDATE {_r.table} r SET {_r.status} = %(status)s, {_r.member_id} = s.member_id, {_r.created_member} = s.created,
                        {_r.postings} = s.postings::jsonb
FROM unnest(%(ids)s::bigint[], %(members)s::bigint[], %(created)s::boolean[], %(postings)s::text[])
    AS s(id, member_id, created, postings)
WHERE r.{_r.id} = s.id
"""


_COPY_ROWS = (
    f"COPY {_r.table} ({_r.job_id}, {_r.number}, {_r.status}, {_r.problems}, {_r.data}, {_r.member_id}, "
    f"{_r.created_member}, {_r.postings}) FROM STDIN"
)


def _json_field(value) -> str:
    """A JSON value in COPY's text format: JSON writes its control characters as escapes, so only its
    backslashes need doubling."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("\\", "\\\\") if "\\" in text else text


def copy_rows(job_id: int, rows: list, *, chunk: int = 50_000) -> None:
    """The dry run's report rows (each with number, status, problems, data, member_id) by COPY, ``chunk``
    per round trip: the file's rows reach the table without a statement built per row."""
    null = "\\N"
    with db_cursor() as cur:
        for start in range(0, len(rows), chunk):
            lines = [
                f"{job_id}\t{r.number}\t{r.status}\t{_json_field(r.problems)}\t{_json_field(r.data)}\t"
                f"{null if r.member_id is None else r.member_id}\tf\t{{}}\n"
                for r in rows[start : start + chunk]
            ]
            cur.copy_expert(_COPY_ROWS, io.StringIO("".join(lines)))


# The next rows by number, on the (job, number) index: a range, whatever their status (filtering on the
# status here let the planner read every row of the job left to commit by the status index and sort
# them, for each chunk: quadratic in the file).
_CHUNK_ROWS = f"""
SELECT {_r.id}, {_r.number}, {_r.status}, {_r.problems}::text, {_r.data}::text FROM {_r.table}
WHERE {_r.job_id} = %(job)s AND {_r.number} >= %(from)s AND {_r.number} < %(from)s + %(limit)s
ORDER BY {_r.number}
"""


def chunk_rows(job_id: int, from_number: int, statuses: list[str], limit: int) -> tuple[int, list[tuple]]:
    """The rows numbered ``from_number`` to ``from_number + limit - 1`` that have one of ``statuses``:
    (id, number, status, problems, data), the JSON decoded here (the ORM's model instances cost more
    than the chunk's statements); and the number after the last row read (0: no row left)."""
    with db_cursor() as cur:
        cur.execute(_CHUNK_ROWS, {"job": job_id, "from": from_number, "limit": limit})
        found = cur.fetchall()
    if not found:
        return 0, []
    wanted = set(statuses)
    rows = [(i, n, s, json.loads(p), json.loads(d)) for i, n, s, p, d in found if s in wanted]
    return found[-1][1] + 1, rows


_MEMBERS_MATCHING = f"""
SELECT {_m.id}, {_m.openid}, {_m.unionid}, {_m.phone}, {_m.closed_at} IS NOT NULL FROM {_m.table}
WHERE {_m.openid} = ANY(%(openids)s) OR {_m.phone} = ANY(%(phones)s) OR {_m.unionid} = ANY(%(unionids)s)
ORDER BY {_m.id}
"""


def members_matching(*, openids: list[str], unionids: list[str], phones: list[str]) -> list[tuple]:
    """Members with any of these openids, unionids or phones: (id, openid, unionid, phone, closed), in
    one statement on the three indexes (an ``IN`` of thousands of values is built slowly by the ORM)."""
    with db_cursor() as cur:
        cur.execute(_MEMBERS_MATCHING, {"openids": openids, "unionids": unionids, "phones": phones})
        return cur.fetchall()


# New members, each column from an array; a row whose openid or phone a member has already (one created
# since the dry run, or an invite code drawn twice) inserts nothing (ON CONFLICT DO NOTHING) and is not
# returned: the caller posts it one by one, which matches it again.  A unionid is not unique: a row
# whose unionid a member has is left out here by the NOT EXISTS.  The columns the model defaults are
# written as the ORM writes them (empty avatar, no referrer, stores or closure).
_INSERT_MEMBERS = f"""
INSERT INTO {_m.table} ({_m.openid}, {_m.unionid}, {_m.phone}, {_m.nickname}, {_m.avatar_url}, {_m.gender},
                        {_m.birthday}, {_m.invite_code}, {_m.registration_channel}, {_m.registered_at})
SELECT s.openid, s.unionid, s.phone, s.nickname, '', s.gender, s.birthday, s.invite_code, s.channel,
       COALESCE(s.registered_at, %(now)s)
FROM unnest(%(openids)s::varchar[], %(unionids)s::varchar[], %(phones)s::varchar[], %(nicknames)s::varchar[],
            %(genders)s::smallint[], %(birthdays)s::date[], %(codes)s::varchar[], %(channels)s::varchar[],
            %(registered)s::timestamptz[])
    WITH ORDINALITY AS s(openid, unionid, phone, nickname, gender, birthday, invite_code, channel, registered_at, n)
WHERE s.unionid = '' OR NOT EXISTS (SELECT 1 FROM {_m.table} m WHERE m.{_m.unionid} = s.unionid)
ORDER BY s.n
ON CONFLICT DO NOTHING
RETURNING {_m.id}, {_m.openid}
"""


def insert_members(members: list[tuple], *, now) -> dict[str, int]:
    """``members``: (openid, unionid, phone, nickname, gender, birthday, invite_code, channel,
    registered_at or None); returns {openid: member id} of those inserted."""
    if not members:
        return {}
    columns = [list(column) for column in zip(*members, strict=True)]
    names = ("openids", "unionids", "phones", "nicknames", "genders", "birthdays", "codes", "channels")
    params = dict(zip((*names, "registered"), columns, strict=True))
    with db_cursor() as cur:
        cur.execute(_INSERT_MEMBERS, {**params, "now": now})
        return {openid: member_id for member_id, openid in cur.fetchall()}


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


# Each (member, key) pair looked up on the account's member index and the entries' (account, key) index;
# written as a join of sets of keys and members, the planner read every entry of the ledger for each chunk.
_POSTED_KEYS = f"""
SELECT e.{_pe.idempotency_key} FROM unnest(%(points_members)s::bigint[], %(points_keys)s::varchar[]) AS k(member_id, key)
JOIN {_pa.table} a ON a.{_pa.member_id} = k.member_id
JOIN {_pe.table} e ON e.{_pe.account_id} = a.{_pa.id} AND e.{_pe.idempotency_key} = k.key
UNION ALL
SELECT e.{_se.idempotency_key} FROM unnest(%(sv_members)s::bigint[], %(sv_keys)s::varchar[]) AS k(member_id, key)
JOIN {_sa.table} a ON a.{_sa.member_id} = k.member_id
JOIN {_se.table} e ON e.{_se.account_id} = a.{_sa.id} AND e.{_se.idempotency_key} = k.key
"""


def posted_keys(*, points: list[tuple[int, str]], stored_value: list[tuple[int, str]]) -> set[str]:
    """Which of the (member, key) pairs the member's points or stored-value entries carry already (an
    earlier import of the same file posted them)."""
    if not points and not stored_value:
        return set()
    params = {
        "points_members": [m for m, _k in points],
        "points_keys": [k for _m, k in points],
        "sv_members": [m for m, _k in stored_value],
        "sv_keys": [k for _m, k in stored_value],
    }
    with db_cursor() as cur:
        cur.execute(_POSTED_KEYS, params)
        return {key for (key,) in cur.fetchall()}


# --- the commit's chunks -----------------------------------------------------------------------------

_CREATE_CHUNKS = f"""
INSERT INTO {_c.table} ({_c.job_id}, {_c.first_row}, {_c.last_row}, {_c.imported})
SELECT %(job)s, s, LEAST(s + %(size)s - 1, %(last)s), 0 FROM generate_series(2, %(last)s, %(size)s) AS s
"""


def create_chunks(job_id: int, *, row_count: int, size: int) -> None:
    """The job's rows 2 to ``row_count + 1`` as ranges of ``size`` numbers, none done (the ones before
    dropped): what the committers claim, fixed at the commit's start."""
    with db_cursor() as cur:
        cur.execute(f"DELETE FROM {_c.table} WHERE {_c.job_id} = %s", [job_id])
        cur.execute(_CREATE_CHUNKS, {"job": job_id, "size": size, "last": row_count + 1})


# The first chunk no other transaction holds, locked until this one ends (on the partial index of the
# undone ones): two committers never take the same chunk, and a killed one's is free again.
_CLAIM_CHUNK = f"""
SELECT {_c.id}, {_c.first_row}, {_c.last_row} FROM {_c.table}
WHERE {_c.job_id} = %(job)s AND {_c.done_at} IS NULL
ORDER BY {_c.first_row} LIMIT 1 FOR UPDATE SKIP LOCKED
"""


@locks.takes(Rank.DOCUMENT)  # a job's rows; first in the chunk's transaction
def claim_chunk(job_id: int) -> tuple[int, int, int] | None:
    """(chunk id, first row, last row) of an undone chunk of the job no one else holds, or None."""
    with db_cursor() as cur:
        cur.execute(_CLAIM_CHUNK, {"job": job_id})
        return cur.fetchone()


def chunk_done(chunk_id: int, *, imported: int, now) -> None:
    with db_cursor() as cur:
        cur.execute(
            f"UPDATE {_c.table} SET {_c.done_at} = %(now)s, {_c.imported} = %(imported)s WHERE {_c.id} = %(id)s",
            {"id": chunk_id, "imported": imported, "now": now},
        )


def chunks_done(job_id: int) -> tuple[int, int, int]:
    """(rows imported, rows gone through, chunks left) of the job's committed chunks."""
    with db_cursor() as cur:
        cur.execute(
            f"SELECT COALESCE(SUM({_c.imported}) FILTER (WHERE {_c.done_at} IS NOT NULL), 0), "
            f"COALESCE(SUM({_c.last_row} - {_c.first_row} + 1) FILTER (WHERE {_c.done_at} IS NOT NULL), 0), "
            f"COUNT(*) FILTER (WHERE {_c.done_at} IS NULL) FROM {_c.table} WHERE {_c.job_id} = %s",
            [job_id],
        )
        return cur.fetchone()


# The job's figures from its done chunks, never lowered: two committers' updates, each computed from its
# own snapshot, may land in either order.  A short row lock of its own transaction, outside any chunk's.
_JOB_PROGRESS = f"""
UPDATE {_j.table} SET {_j.committed_rows} = GREATEST({_j.committed_rows}, %(imported)s),
                      {_j.next_row} = GREATEST({_j.next_row}, 2 + %(rows)s)
WHERE {_j.id} = %(job)s
"""


def job_progress(job_id: int, *, imported: int, rows: int) -> None:
    with db_cursor() as cur:
        cur.execute(_JOB_PROGRESS, {"job": job_id, "imported": imported, "rows": rows})


_TAG_NAMES = f"""
SELECT DISTINCT jsonb_array_elements_text({_r.data} -> 'tags') FROM {_r.table}
WHERE {_r.job_id} = %(job)s AND {_r.status} = ANY(%(statuses)s) AND {_r.data} ? 'tags'
"""


def tag_names(job_id: int, statuses: list[str]) -> list[str]:
    """Every tag name the job's rows of ``statuses`` carry."""
    with db_cursor() as cur:
        cur.execute(_TAG_NAMES, {"job": job_id, "statuses": statuses})
        return [name for (name,) in cur.fetchall()]
