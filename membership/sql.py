"""The membership app's SQL: the raw statements of ``membership.tiers``, ``.benefits`` and ``.birthdays``.

Table and column names come from the models (``loyalty.rows.Names``) and are put into the text once,
at import; rows come back as named records (or model instances).  tests/membership/test_sql.py checks
them against the ORM.
"""

from __future__ import annotations

import json
from collections import namedtuple

from django.db import connection
from django.utils import timezone

from loyalty import prepared
from loyalty.rows import Names, db_cursor, lock_row  # noqa: F401 (db_cursor: the callers' cursor)
from members.models import Member
from members.receiving import receiving_sql
from membership.models import GrowthEntry, Membership, MembershipCard, Tier, TierChange

_ms = Names(Membership)
_g = Names(GrowthEntry)
_t = Names(Tier)
_tc = Names(TierChange)
_mc = Names(MembershipCard)
_m = Names(Member)

LevelAndCards = namedtuple("LevelAndCards", "receiving level card_type_ids")
RecalcChunk = namedtuple("RecalcChunk", "last count changes")
TierChangeRow = namedtuple("TierChangeRow", "id member_id from_level to_level")
BirthdayMember = namedtuple("BirthdayMember", "member_id level")
KeyedGrowth = namedtuple("KeyedGrowth", "id kind amount paid_fen order_no")

# --- the membership row -----------------------------------------------------------------------

_CREATE_MEMBERSHIP = (
    f"INSERT INTO {_ms.table} "
    f"({_ms.member_id}, {_ms.tier_level}, {_ms.growth_total}, {_ms.paid_total_fen}, {_ms.completed_orders}) "
    f"VALUES (%s, 0, 0, 0, 0) ON CONFLICT ({_ms.member_id}) DO NOTHING"
)

_MEMBERSHIP_FIELDS = Membership._meta.concrete_fields
_TRY_LOCK = (
    f"SELECT {', '.join(f.column for f in _MEMBERSHIP_FIELDS)} FROM {_ms.table} "
    f"WHERE {_ms.member_id} = %s FOR UPDATE SKIP LOCKED"
)


def lock_membership(member_id: int) -> Membership | None:
    """The member's membership locked FOR UPDATE, or None when it has none yet."""
    return lock_row(Membership, "member_id", member_id)


def create_membership(member_id: int) -> None:
    """Create the member's entry-tier membership unless it exists."""
    with connection.cursor() as cur:
        cur.execute(_CREATE_MEMBERSHIP, [member_id])


def try_lock_membership(member_id: int) -> Membership | None:
    """The membership locked FOR UPDATE SKIP LOCKED, or None (held elsewhere, or none yet).

    Never waits, so it may be taken out of the lock order (``loyalty.locks``)."""
    with connection.cursor() as cur:
        cur.execute(_TRY_LOCK, [member_id])
        row = cur.fetchone()
    if row is None:
        return None
    return Membership.from_db(connection.alias, [f.attname for f in _MEMBERSHIP_FIELDS], list(row))


# --- growth -----------------------------------------------------------------------------------

_WINDOW_GROWTH = (
    f"SELECT COALESCE(SUM({_g.amount}), 0) FROM {_g.table} "
    f"WHERE {_g.member_id} = %s AND {_g.counts_at} > %s AND {_g.counts_at} <= %s"
)

_INSERT_GROWTH = f"""INSERT INTO {_g.table}
                    ({_g.member_id}, {_g.kind}, {_g.amount}, {_g.paid_fen}, {_g.order_no}, {_g.idempotency_key}, {_g.counts_at}, {_g.created_at})
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT ({_g.member_id}, {_g.idempotency_key}) DO NOTHING RETURNING {_g.id}"""

_GROWTH_BY_KEY = (
    f"SELECT {_g.id}, {_g.kind}, {_g.amount}, {_g.paid_fen}, {_g.order_no} FROM {_g.table} "
    f"WHERE {_g.member_id} = %s AND {_g.idempotency_key} = %s"
)

_SAVE_TOTALS = f"""UPDATE {_ms.table}
                SET {_ms.growth_total} = %s, {_ms.paid_total_fen} = %s, {_ms.completed_orders} = %s WHERE {_ms.id} = %s
                RETURNING (SELECT COALESCE(SUM({_g.amount}), 0) FROM {_g.table}
                           WHERE {_g.member_id} = %s AND {_g.counts_at} > %s AND {_g.counts_at} <= %s)"""


def window_growth(member_id: int, start, end) -> int:
    """The sum of the member's growth counted in (start, end]."""
    with connection.cursor() as cur:
        cur.execute(_WINDOW_GROWTH, [member_id, start, end])
        return cur.fetchone()[0]


def insert_growth(
    *, member_id: int, kind: str, amount: int, paid_fen: int, order_no: str, idempotency_key: str, counts_at
) -> int | None:
    """Append a growth entry; its id, or None when the key was used before (the unique index decides).

    Dated by the application's clock (``timezone.now``), as the model's ``auto_now_add`` would be.
    """
    with connection.cursor() as cur:
        cur.execute(
            _INSERT_GROWTH,
            [member_id, kind, amount, paid_fen, order_no, idempotency_key, counts_at, timezone.now()],
        )
        row = cur.fetchone()
    return None if row is None else row[0]


def growth_by_key(cur, member_id: int, key: str) -> KeyedGrowth | None:
    """The member's growth entry posted under ``key`` (a replay's first posting), or None."""
    cur.execute(_GROWTH_BY_KEY, [member_id, key])
    row = cur.fetchone()
    return None if row is None else KeyedGrowth(*row)


def save_totals(
    *,
    membership_id: int,
    member_id: int,
    growth_total: int,
    paid_total_fen: int,
    completed_orders: int,
    start,
    end,
) -> int:
    """Write the membership's totals; the growth counted in (start, end], read in the same statement."""
    with connection.cursor() as cur:
        cur.execute(
            _SAVE_TOTALS,
            [growth_total, paid_total_fen, completed_orders, membership_id, member_id, start, end],
        )
        return cur.fetchone()[0]


# --- benefits ---------------------------------------------------------------------------------

# Prepared (loyalty.prepared): checkout asks on every request, and planning three subqueries cost the
# server more than running them.
_LEVEL_AND_CARDS = prepared.Statement(
    "member_level_and_cards",
    f"""SELECT (SELECT {receiving_sql("m")} FROM {_m.table} m WHERE m.{_m.id} = $1::bigint),
              COALESCE((SELECT {_ms.tier_level} FROM {_ms.table} WHERE {_ms.member_id} = $1::bigint), 0),
              ARRAY(SELECT {_mc.card_type_id} FROM {_mc.table}
                    WHERE {_mc.member_id} = $1::bigint AND {_mc.status} = $2::varchar AND {_mc.valid_from} <= $3::timestamptz
                      AND ({_mc.valid_until} IS NULL OR {_mc.valid_until} > $3::timestamptz)
                    ORDER BY {_mc.card_type_id})""",
)


def level_and_cards(member_id: int, active_status: str, at) -> LevelAndCards:
    """Whether the member may receive (None: no such member), their tier level and their valid cards' types."""
    with connection.cursor() as cur:
        prepared.execute(cur, _LEVEL_AND_CARDS, [member_id, active_status, at])
        return LevelAndCards(*cur.fetchone())


# --- the nightly recalculation ----------------------------------------------------------------

# One statement per chunk of memberships, in member-id ranges, so the growth read is one index
# range scan per chunk.  The new level: up to what the window's growth reaches, or down by one
# existing level when the growth no longer holds the current one and the member is not
# protected (``membership.tiers.nightly_level`` and ``protected_until_after`` say it in Python;
# tests/membership/test_tier_rules.py proves the two agree).  Rows are not locked to be read
# (most do not change): the UPDATE re-checks each changing row against what was decided on
# (level, protection, cached growth) once it holds its lock, so a member whose order completed
# meanwhile is left as the order made them (and the order already upgraded them when due)
# instead of being overwritten with a stale decision.
_RECALC = f"""
WITH bounds AS (
    SELECT MAX({_ms.member_id}) AS hi, COUNT(*) AS n FROM (
        SELECT {_ms.member_id} FROM {_ms.table} WHERE {_ms.member_id} > %(after)s ORDER BY {_ms.member_id} LIMIT %(limit)s
    ) ids
), chunk AS (
    SELECT ms.{_ms.id}, ms.{_ms.member_id}, ms.{_ms.tier_level}, ms.{_ms.protected_until}, ms.{_ms.growth_total}
      FROM {_ms.table} ms JOIN {_m.table} m ON m.{_m.id} = ms.{_ms.member_id}
     WHERE ms.{_ms.member_id} > %(after)s AND ms.{_ms.member_id} <= (SELECT hi FROM bounds) AND {receiving_sql("m")}
), growth AS (
    SELECT e.{_g.member_id}, SUM(e.{_g.amount}) AS g
      FROM {_g.table} e
     WHERE e.{_g.member_id} > %(after)s AND e.{_g.member_id} <= (SELECT hi FROM bounds)
       AND e.{_g.counts_at} > %(window_start)s AND e.{_g.counts_at} <= %(now)s
     GROUP BY e.{_g.member_id}
), tiers AS MATERIALIZED (
    SELECT {_t.level}, {_t.growth_threshold} FROM {_t.table}
), decided AS MATERIALIZED (
    SELECT c.*, GREATEST(COALESCE(g.g, 0), 0)::bigint AS wg,
           COALESCE((SELECT MAX(t.{_t.level}) FROM tiers t
                      WHERE t.{_t.growth_threshold} <= GREATEST(COALESCE(g.g, 0), 0)), 0) AS qualifies,
           COALESCE((SELECT MAX(t.{_t.level}) FROM tiers t WHERE t.{_t.level} < c.{_ms.tier_level}), 0) AS one_down
      FROM chunk c LEFT JOIN growth g ON g.{_g.member_id} = c.{_ms.member_id}
), target AS (
    SELECT d.*,
           CASE
             WHEN d.qualifies > d.{_ms.tier_level} THEN d.qualifies
             WHEN d.qualifies < d.{_ms.tier_level}
                  AND (d.{_ms.protected_until} IS NULL OR d.{_ms.protected_until} <= %(now)s)
               THEN GREATEST(d.qualifies, d.one_down)
             ELSE d.{_ms.tier_level}
           END AS new_level
      FROM decided d
), changed AS (
    UPDATE {_ms.table} m
       SET {_ms.tier_level} = t.new_level,
           {_ms.tier_changed_at} = %(now)s,
           {_ms.protected_until} = %(now)s + CASE WHEN t.new_level > t.{_ms.tier_level}
                                            THEN %(protect)s ELSE %(period)s END * interval '1 day'
      FROM target t
     WHERE m.{_ms.id} = t.{_ms.id} AND t.new_level <> t.{_ms.tier_level}
       AND m.{_ms.tier_level} = t.{_ms.tier_level} AND m.{_ms.growth_total} = t.{_ms.growth_total}
       AND m.{_ms.protected_until} IS NOT DISTINCT FROM t.{_ms.protected_until}
 RETURNING m.{_ms.member_id}, t.{_ms.tier_level} AS old_level, t.new_level, t.wg
), history AS (
    INSERT INTO {_tc.table} ({_tc.member_id}, {_tc.from_level}, {_tc.to_level}, {_tc.reason}, {_tc.window_growth}, {_tc.note}, {_tc.created_at})
    SELECT {_ms.member_id}, old_level, new_level,
           CASE WHEN new_level > old_level THEN 'nightly_up' ELSE 'nightly_down' END, wg, '', %(now)s
      FROM changed
    RETURNING {_tc.id}, {_tc.member_id}, {_tc.from_level}, {_tc.to_level}
)
SELECT (SELECT hi FROM bounds), (SELECT n FROM bounds),
       (SELECT json_agg(json_build_array({_tc.id}, {_tc.member_id}, {_tc.from_level}, {_tc.to_level}) ORDER BY {_tc.id}) FROM history)
"""


def recalc_chunk(cur, params: dict) -> RecalcChunk:
    """Recalculate the tiers of the next chunk of memberships after ``params["after"]`` (see ``_RECALC``).

    ``last`` is None when no membership is left; ``changes`` the tier changes written.
    """
    cur.execute(_RECALC, params)
    last, count, rows = cur.fetchone()
    if isinstance(rows, str):  # json arrives decoded from psycopg2; as text from other drivers
        rows = json.loads(rows)
    return RecalcChunk(last, count, [TierChangeRow(*row) for row in rows or []])


# --- birthdays --------------------------------------------------------------------------------

_BIRTHDAYS = f"""
SELECT m.{_m.id}, COALESCE(ms.{_ms.tier_level}, 0)
  FROM {_m.table} m LEFT JOIN {_ms.table} ms ON ms.{_ms.member_id} = m.{_m.id}
 WHERE m.{_m.birthday} IS NOT NULL AND m.{_m.id} > %(after)s AND {receiving_sql("m")}
   AND EXTRACT(MONTH FROM m.{_m.birthday}) = %(month)s
   AND (%(day)s::int IS NULL OR EXTRACT(DAY FROM m.{_m.birthday}) = ANY(%(days)s::int[]))
 ORDER BY m.{_m.id}
 LIMIT %(limit)s
"""


def birthdays(
    *, after: int, month: int, day: int | None, days: list[int], limit: int
) -> list[BirthdayMember]:
    """Receiving members after ``after`` whose birthday is in ``month`` (on one of ``days`` unless ``day`` is
    None), with their tier level (0 without a membership), by id."""
    with connection.cursor() as cur:
        cur.execute(_BIRTHDAYS, {"after": after, "month": month, "day": day, "days": days, "limit": limit})
        return [BirthdayMember(*row) for row in cur.fetchall()]
