"""The points app's SQL: every raw statement of ``points.ledger``, ``.reminders`` and ``.selectors``.

Table and column names come from the models (``loyalty.rows.Names``) and are put into the text once,
at import; rows come back as named records.  The hot statements are prepared once per connection
(``loyalty.prepared``).  tests/points/test_sql.py checks them against the ORM.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from loyalty import prepared
from loyalty.locks import Rank, takes
from loyalty.rows import Names, db_cursor
from members.models import Member
from members.receiving import receiving_sql
from points.models import (
    PointsAccount,
    PointsAllocation,
    PointsAllocationArchive,
    PointsEntry,
    PointsEntryArchive,
    PointsLot,
    PointsLotArchive,
)

_a = Names(PointsAccount)
_e = Names(PointsEntry)
_l = Names(PointsLot)
_al = Names(PointsAllocation)
_m = Names(Member)
_ea = Names(PointsEntryArchive)
_la = Names(PointsLotArchive)
_ala = Names(PointsAllocationArchive)

AccountRow = namedtuple("AccountRow", "id balance")
KeyedEntry = namedtuple("KeyedEntry", "id request_hash amount balance_after")
OriginalEntry = namedtuple("OriginalEntry", "kind amount source reference lot_id reversed")
SpendLot = namedtuple("SpendLot", "id expires_at earned_at remaining givable")
EarnRow = namedtuple("EarnRow", "entry_id balance")


@dataclass
class Lot:
    """An open lot as a posting sees it; ``remaining`` is lowered in place as the posting allocates."""

    id: int
    remaining: int
    expires_at: datetime | None


# --- the account ------------------------------------------------------------------

_LOCK = prepared.Statement(
    "points_lock", f"SELECT {_a.id}, {_a.balance} FROM {_a.table} WHERE {_a.member_id} = $1 FOR UPDATE"
)

_CREATE_ACCOUNT = f"""INSERT INTO {_a.table} ({_a.member_id}, {_a.balance}, {_a.created_at})
               SELECT {_m.id}, 0, %s FROM {_m.table} WHERE {_m.id} = %s
               ON CONFLICT ({_a.member_id}) DO NOTHING"""

_ACCOUNT_ID = f"SELECT {_a.id} FROM {_a.table} WHERE {_a.member_id} = %s"

_CREATE_ACCOUNTS = f"""INSERT INTO {_a.table} ({_a.member_id}, {_a.balance}, {_a.created_at})
               SELECT {_m.id}, 0, %s FROM {_m.table} WHERE {_m.id} = ANY(%s) ORDER BY {_m.id}
               ON CONFLICT ({_a.member_id}) DO NOTHING"""

_LOCK_ACCOUNTS = f"SELECT {_a.id} FROM {_a.table} WHERE {_a.member_id} = ANY(%s) ORDER BY {_a.id} FOR UPDATE"


@takes(Rank.POINTS)
def lock_account(cur, member_id: int) -> AccountRow | None:
    """The member's account, locked FOR UPDATE, or None when it has none yet."""
    prepared.execute(cur, _LOCK, [member_id])
    row = cur.fetchone()
    return None if row is None else AccountRow(*row)


def create_account(cur, member_id: int) -> None:
    """Create the member's empty account unless it exists (nothing when there is no such member).

    Dated by the application's clock (``timezone.now``), as the model's ``auto_now_add`` would be.
    """
    cur.execute(_CREATE_ACCOUNT, [timezone.now(), member_id])


@takes(Rank.POINTS)
def lock_accounts(cur, member_ids: list[int]) -> None:
    """The members' accounts, created where missing, locked FOR UPDATE in id order (one statement each)."""
    cur.execute(_CREATE_ACCOUNTS, [timezone.now(), member_ids])
    cur.execute(_LOCK_ACCOUNTS, [member_ids])


def account_id(cur, member_id: int) -> int | None:
    cur.execute(_ACCOUNT_ID, [member_id])
    row = cur.fetchone()
    return None if row is None else row[0]


# --- entries ------------------------------------------------------------------------

# A key's first posting may have been archived (``points_archive``): the replay looks there too.
_ENTRY_BY_KEY = (
    f"(SELECT {_e.id}, {_e.request_hash}, {_e.amount}, {_e.balance_after} FROM {_e.table} "
    f"WHERE {_e.account_id} = %(account)s AND {_e.idempotency_key} = %(key)s) UNION ALL "
    f"(SELECT {_ea.id}, {_ea.request_hash}, {_ea.amount}, {_ea.balance_after} FROM {_ea.table} "
    f"WHERE {_ea.account_id} = %(account)s AND {_ea.idempotency_key} = %(key)s) LIMIT 1"
)

_ENTRY_ID_BY_KEY_AND_KIND = f"SELECT {_e.id} FROM {_e.table} WHERE {_e.account_id} = %s AND {_e.idempotency_key} = %s AND {_e.kind} = %s"

_ORIGINAL = f"""SELECT e.{_e.kind}, e.{_e.amount}, e.{_e.source}, e.{_e.reference}, l.{_l.id},
                  COALESCE((SELECT SUM(ABS(r.{_e.amount})) FROM {_e.table} r WHERE r.{_e.reverses_id} = e.{_e.id}), 0)::bigint
           FROM {_e.table} e LEFT JOIN {_l.table} l ON l.{_l.entry_id} = e.{_e.id}
           WHERE e.{_e.id} = %s AND e.{_e.account_id} = %s"""


def entry_by_key(cur, account_id: int, key: str) -> KeyedEntry | None:
    """The account's entry posted under ``key`` (a replay's first posting), or None."""
    cur.execute(_ENTRY_BY_KEY, {"account": account_id, "key": key})
    row = cur.fetchone()
    return None if row is None else KeyedEntry(*row)


def member_entry_by_key(member_id: int, key: str) -> KeyedEntry | None:
    """The member's entry posted under ``key``, live or archived, or None."""
    with db_cursor() as cur:
        account = account_id(cur, member_id)
        return None if account is None else entry_by_key(cur, account, key)


def entry_id_by_key(cur, account_id: int, key: str, kind: str) -> int | None:
    cur.execute(_ENTRY_ID_BY_KEY_AND_KIND, [account_id, key, kind])
    row = cur.fetchone()
    return None if row is None else row[0]


def original_entry(cur, account_id: int, entry_id: int) -> OriginalEntry | None:
    """An entry to reverse: its kind, amount, source, reference, its lot (an earn's) and how much is reversed."""
    cur.execute(_ORIGINAL, [entry_id, account_id])
    row = cur.fetchone()
    return None if row is None else OriginalEntry(*row)


# --- lots ---------------------------------------------------------------------------

# The order lots are spent in, for ORDER BY: the first to expire first, never-expiring last, then the
# earliest earned.  ``points.ledger.spending_order`` says the same in Python (tests/points/test_spending_order.py).
SPENDING_ORDER = f"{_l.expires_at} ASC NULLS LAST, {_l.earned_at}, {_l.id}"

_OPEN_LOTS = (
    f"SELECT {_l.id}, {_l.remaining}, {_l.expires_at} FROM {_l.table} WHERE {_l.account_id} = %s AND {_l.remaining} > 0 "
    f"ORDER BY {SPENDING_ORDER}"
)

_LOTS_TO_SPEND = prepared.Statement(
    "points_lots_to_spend",
    f"""SELECT {_l.id}, {_l.remaining}, {_l.expires_at} FROM (
           SELECT {_l.id}, {_l.remaining}, {_l.expires_at}, {_l.earned_at}, {_l.expires_at} <= $2 AS due,
                  SUM(CASE WHEN {_l.expires_at} <= $2 THEN 0 ELSE {_l.remaining} END)
                      OVER (ORDER BY {SPENDING_ORDER}) AS upto
           FROM {_l.table} WHERE {_l.account_id} = $1 AND {_l.remaining} > 0) t
       WHERE due OR upto - {_l.remaining} < $3
       ORDER BY {SPENDING_ORDER}""",
)

# What a spend took from each lot, less what earlier reversals gave back (their negative
# allocations; their positive ones repaid a debt).
_SPEND_LOTS = f"""SELECT al.{_al.lot_id}, l.{_l.expires_at}, l.{_l.earned_at}, l.{_l.remaining},
                  SUM(CASE WHEN al.{_al.entry_id} = %s THEN al.{_al.amount} WHEN al.{_al.amount} < 0 THEN al.{_al.amount} ELSE 0 END)::bigint
           FROM {_al.table} al JOIN {_l.table} l ON l.{_l.id} = al.{_al.lot_id}
           WHERE al.{_al.entry_id} = %s OR al.{_al.entry_id} IN (SELECT {_e.id} FROM {_e.table} WHERE {_e.reverses_id} = %s)
           GROUP BY al.{_al.lot_id}, l.{_l.expires_at}, l.{_l.earned_at}, l.{_l.remaining}"""


def open_lots(cur, account_id: int) -> list[Lot]:
    """The account's lots with points left, in spending order."""
    cur.execute(_OPEN_LOTS, [account_id])
    return [Lot(*row) for row in cur.fetchall()]


def lots_to_spend(cur, account_id: int, now: datetime, amount: int) -> list[Lot]:
    """The lots past due and, in spending order, just enough others to cover ``amount``."""
    prepared.execute(cur, _LOTS_TO_SPEND, [account_id, now, amount])
    return [Lot(*row) for row in cur.fetchall()]


def spend_lots(cur, spend_id: int) -> list[SpendLot]:
    """Each lot a spend took from, with what of it can still be given back (``givable``)."""
    cur.execute(_SPEND_LOTS, [spend_id, spend_id, spend_id])
    return [SpendLot(*row) for row in cur.fetchall()]


# --- postings -------------------------------------------------------------------------

# Up to this many allocations are listed as parameters, one prepared statement per count: its plan
# knows the rows.  More (a spend over many small lots) travel as two arrays, whose row count a generic
# plan cannot know (it assumes 10), so PostgreSQL re-plans that statement at every use.
LISTED_ALLOCATIONS = 4


@functools.cache
def post_statement(allocations: int, new_lot: bool, repaid: bool) -> prepared.Statement:
    """The posting statement of one shape (each shape is prepared, and planned, once per connection).

    ``allocations``: how many are listed as parameters, or -1 for arrays.
    """
    ctes = [
        f"""e AS (INSERT INTO {_e.table} ({_e.account_id}, {_e.kind}, {_e.amount}, {_e.balance_after}, {_e.source}, {_e.reference}, {_e.memo},
                 {_e.idempotency_key}, {_e.request_hash}, {_e.reverses_id}, {_e.actor_id}, {_e.created_at})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint, $11::integer, $12) RETURNING {_e.id})""",
        f"a AS (UPDATE {_a.table} SET {_a.balance} = $4 WHERE {_a.id} = $1)",
    ]
    n = 12
    if allocations:
        if allocations < 0:
            ctes.append(
                f"t AS (SELECT * FROM unnest(${n + 1}::bigint[], ${n + 2}::bigint[]) AS t (lot_id, amount))"
            )
            n += 2
        else:
            listed = [f"(${n + 2 * k + 1}::bigint, ${n + 2 * k + 2}::bigint)" for k in range(allocations)]
            ctes.append(f"t (lot_id, amount) AS (VALUES {', '.join(listed)})")
            n += 2 * allocations
        ctes += [
            f"al AS (INSERT INTO {_al.table} ({_al.entry_id}, {_al.lot_id}, {_al.amount}) "
            f"SELECT e.{_e.id}, t.lot_id, t.amount FROM e, t)",
            f"lu AS (UPDATE {_l.table} l SET {_l.remaining} = l.{_l.remaining} - n.amount "
            f"FROM (SELECT lot_id, SUM(amount)::bigint AS amount FROM t GROUP BY lot_id) n WHERE l.{_l.id} = n.lot_id)",
        ]
    if new_lot:
        ctes.append(
            f"nl AS (INSERT INTO {_l.table} ({_l.account_id}, {_l.entry_id}, {_l.amount}, {_l.remaining}, "
            f"{_l.source}, {_l.earned_at}, {_l.expires_at}) "
            f"SELECT $1, e.{_e.id}, ${n + 1}::bigint, ${n + 2}::bigint, ${n + 3}::varchar, ${n + 4}::timestamptz, "
            f"${n + 5}::timestamptz FROM e RETURNING {_l.id})"
        )
        n += 5
        if repaid:
            ctes.append(
                f"nla AS (INSERT INTO {_al.table} ({_al.entry_id}, {_al.lot_id}, {_al.amount}) "
                f"SELECT e.{_e.id}, nl.{_l.id}, ${n + 1}::bigint FROM e, nl)"
            )
    name = "points_post" + "".join(
        f"_{flag}"
        for flag, on in (
            ("al_many" if allocations < 0 else f"al{allocations}", allocations),
            ("lot", new_lot),
            ("repaid", repaid),
        )
        if on
    )
    return prepared.Statement(name, "WITH " + ",\n".join(ctes) + f" SELECT {_e.id} FROM e")


def post(cur, statement: prepared.Statement, params: list) -> int:
    """Run a posting statement of ``post_statement``; the new entry's id."""
    prepared.execute(cur, statement, params)
    return cur.fetchone()[0]


# $2 is the amount; the balance before the earn is a.balance - $2, and the debt it repays
# min(amount, max(-before, 0)) = LEAST($2, GREATEST($2 - a.balance, 0)).
_EARN = prepared.Statement(
    "points_earn",
    f"""WITH a AS (
           UPDATE {_a.table} SET {_a.balance} = {_a.balance} + $2 WHERE {_a.member_id} = $1
           RETURNING {_a.id}, {_a.balance}, LEAST($2, GREATEST($2 - {_a.balance}, 0)) AS repaid
       ), e AS (
           INSERT INTO {_e.table} ({_e.account_id}, {_e.kind}, {_e.amount}, {_e.balance_after}, {_e.source}, {_e.reference}, {_e.memo},
                                           {_e.idempotency_key}, {_e.request_hash}, {_e.created_at})
           SELECT a.{_a.id}, 'earn', $2, a.{_a.balance}, $3::varchar, $4::varchar, $5::varchar, $6::varchar, $7::varchar,
                  $8::timestamptz
           FROM a RETURNING {_e.id}
       ), nl AS (
           INSERT INTO {_l.table} ({_l.account_id}, {_l.entry_id}, {_l.amount}, {_l.remaining}, {_l.source}, {_l.earned_at}, {_l.expires_at})
           SELECT a.{_a.id}, e.{_e.id}, $2, $2 - a.repaid, $9::varchar, $10::timestamptz, $11::timestamptz FROM a, e RETURNING {_l.id}
       ), nla AS (
           INSERT INTO {_al.table} ({_al.entry_id}, {_al.lot_id}, {_al.amount})
           SELECT e.{_e.id}, nl.{_l.id}, a.repaid FROM a, e, nl WHERE a.repaid > 0
       )
       SELECT e.{_e.id}, a.{_a.balance} FROM a, e""",
)


@takes(Rank.POINTS)
def earn(cur, params: list) -> EarnRow | None:
    """The one-statement earn (lock, entry, balance, lot, debt repayment); None when the member has no account."""
    prepared.execute(cur, _EARN, params)
    row = cur.fetchone()
    return None if row is None else EarnRow(*row)


# --- opening balances of new accounts (an import), set-based ------------------------------------

# Accounts for members who have none, each with its earn entries (balance_after running in the
# order given) and their lots, in one statement; a member with an account already fails it on the
# account's unique member (the caller's savepoint rolls back).  What ``_EARN`` writes per lot, for
# many members at once.
_OPEN_ACCOUNTS = f"""
WITH src AS (
    SELECT * FROM unnest(%(members)s::bigint[], %(amounts)s::bigint[], %(expires)s::timestamptz[],
                         %(keys)s::varchar[], %(hashes)s::varchar[], %(refs)s::varchar[])
        WITH ORDINALITY AS s(member_id, amount, expires_at, key, hash, reference, n)
), per AS (
    SELECT member_id, SUM(amount)::bigint AS total FROM src GROUP BY member_id
), acc AS (
    INSERT INTO {_a.table} ({_a.member_id}, {_a.balance}, {_a.created_at})
    SELECT member_id, total, %(now)s FROM per ORDER BY member_id RETURNING {_a.id}, {_a.member_id}
), ent AS (
    INSERT INTO {_e.table} ({_e.account_id}, {_e.kind}, {_e.amount}, {_e.balance_after}, {_e.source}, {_e.reference},
                            {_e.memo}, {_e.idempotency_key}, {_e.request_hash}, {_e.created_at})
    SELECT acc.{_a.id}, 'earn', src.amount,
           SUM(src.amount) OVER (PARTITION BY src.member_id ORDER BY src.n)::bigint,
           %(source)s, src.reference, '', src.key, src.hash, %(now)s
    FROM src JOIN acc ON acc.{_a.member_id} = src.member_id ORDER BY src.n
    RETURNING {_e.id}, {_e.account_id}, {_e.idempotency_key}, {_e.amount}
), lots AS (
    INSERT INTO {_l.table} ({_l.account_id}, {_l.entry_id}, {_l.amount}, {_l.remaining}, {_l.source}, {_l.earned_at}, {_l.expires_at})
    SELECT ent.{_e.account_id}, ent.{_e.id}, ent.{_e.amount}, ent.{_e.amount}, %(source)s, %(now)s, src.expires_at
    FROM ent JOIN acc ON acc.{_a.id} = ent.{_e.account_id}
    JOIN src ON src.member_id = acc.{_a.member_id} AND src.key = ent.{_e.idempotency_key}
)
SELECT ent.{_e.idempotency_key}, ent.{_e.id} FROM ent
"""


@takes(Rank.POINTS)
def open_accounts(cur, *, lots: list[tuple], source: str, now: datetime) -> dict[str, int]:
    """``lots``: (member_id, amount, expires_at, key, request_hash, reference), a member's in order;
    returns {key: entry_id}."""
    if not lots:
        return {}
    members, amounts, expires, keys, hashes, refs = (list(column) for column in zip(*lots, strict=True))
    cur.execute(
        _OPEN_ACCOUNTS,
        {
            "members": members,
            "amounts": amounts,
            "expires": expires,
            "keys": keys,
            "hashes": hashes,
            "refs": refs,
            "source": source,
            "now": now,
        },
    )
    return dict(cur.fetchall())


# --- the expiry job ---------------------------------------------------------------------

# The next chunk: accounts after the last one with a lot past due, probed one by one (in id order,
# stopping at the chunk's size) on the open-lots index, index only.  A scalar subquery with LIMIT, not
# EXISTS: the planner turns EXISTS into a join that starts at the first account rather than at
# ``after``, so each chunk would read the lots of every account before it (bench/README.md).
_PICK_CHUNK_SQL = f"""
SELECT a.{_a.id} FROM {_a.table} a
WHERE a.{_a.id} > %s AND (
    SELECT true FROM {_l.table} l
    WHERE l.{_l.account_id} = a.{_a.id} AND l.{_l.remaining} > 0 AND l.{_l.expires_at} <= %s LIMIT 1)
ORDER BY a.{_a.id} LIMIT %s
FOR UPDATE SKIP LOCKED
"""


# Every table is reached through ``ids`` (the chunk's locked accounts) on an index: the account's
# primary key and the lots' index by account, so a chunk reads only its own accounts' rows.  Joined
# only to the CTEs, whose rows the planner cannot estimate, it hashed whole tables in every chunk.
_EXPIRE_CHUNK_SQL = f"""
WITH due AS (
    SELECT l.{_l.id}, l.{_l.account_id}, l.{_l.remaining} FROM {_l.table} l
    WHERE l.{_l.account_id} = ANY(%(ids)s) AND l.{_l.remaining} > 0 AND l.{_l.expires_at} <= %(now)s
), per AS (
    SELECT {_l.account_id} AS account_id, SUM({_l.remaining})::bigint AS total FROM due GROUP BY {_l.account_id}
), acc AS (
    UPDATE {_a.table} a SET {_a.balance} = a.{_a.balance} - per.total
    FROM per WHERE a.{_a.id} = per.account_id AND a.{_a.id} = ANY(%(ids)s) RETURNING a.{_a.id}, a.{_a.balance}
), ent AS (
    INSERT INTO {_e.table} ({_e.account_id}, {_e.kind}, {_e.amount}, {_e.balance_after}, {_e.source}, {_e.reference}, {_e.memo},
                                    {_e.idempotency_key}, {_e.request_hash}, {_e.created_at})
    SELECT per.account_id, 'expire', -per.total, acc.{_a.balance}, 'expiry', '', '',
           %(key)s || per.account_id, '', %(now)s
    FROM per JOIN acc ON acc.{_a.id} = per.account_id
    RETURNING {_e.id}, {_e.account_id}
), alloc AS (
    INSERT INTO {_al.table} ({_al.entry_id}, {_al.lot_id}, {_al.amount})
    SELECT ent.{_e.id}, due.{_l.id}, due.{_l.remaining} FROM due JOIN ent ON ent.{_e.account_id} = due.{_l.account_id}
), lots AS (
    UPDATE {_l.table} l SET {_l.remaining} = 0 FROM due
    WHERE l.{_l.id} = due.{_l.id} AND l.{_l.account_id} = ANY(%(ids)s) AND l.{_l.remaining} > 0 AND l.{_l.expires_at} <= %(now)s
)
SELECT count(*) FROM ent
"""


@takes(Rank.POINTS)
def pick_expiry_chunk(cur, after: int, now: datetime, size: int) -> list[int]:
    """Lock (SKIP LOCKED) and return the ids of up to ``size`` accounts after ``after`` with a lot past due."""
    cur.execute(_PICK_CHUNK_SQL, [after, now, size])
    return [account_id for (account_id,) in cur.fetchall()]


def expire_chunk(cur, ids: list[int], now: datetime, key_prefix: str) -> int:
    """Expire every lot past due of the locked accounts ``ids``; the number of expire entries written."""
    cur.execute(_EXPIRE_CHUNK_SQL, {"ids": ids, "now": now, "key": key_prefix})
    return cur.fetchone()[0]


# --- reads outside the ledger ------------------------------------------------------------

ExpiringPoints = namedtuple("ExpiringPoints", "account_id member_id points expires_at")

_EXPIRING = f"""SELECT l.{_l.account_id}, a.{_a.member_id}, SUM(l.{_l.remaining})::bigint, MIN(l.{_l.expires_at})
                   FROM {_l.table} l JOIN {_a.table} a ON a.{_a.id} = l.{_l.account_id}
                   JOIN {_m.table} m ON m.{_m.id} = a.{_a.member_id}
                   WHERE l.{_l.remaining} > 0 AND l.{_l.expires_at} > %s AND l.{_l.expires_at} <= %s AND l.{_l.account_id} > %s
                     AND {receiving_sql("m")}
                   GROUP BY l.{_l.account_id}, a.{_a.member_id} ORDER BY l.{_l.account_id} LIMIT %s"""

_USABLE_BALANCE = prepared.Statement(
    "points_usable_balance",
    f"""SELECT a.{_a.balance} - COALESCE((SELECT SUM(l.{_l.remaining}) FROM {_l.table} l
                                     WHERE l.{_l.account_id} = a.{_a.id} AND l.{_l.remaining} > 0
                                       AND l.{_l.expires_at} <= $1::timestamptz), 0)::bigint
       FROM {_a.table} a WHERE a.{_a.member_id} = $2::bigint""",
)


def expiring(start: datetime, end: datetime, after: int, limit: int) -> list[ExpiringPoints]:
    """Per receiving member's account after ``after``: the points of lots expiring in (start, end], the first when."""
    with db_cursor() as cur:
        cur.execute(_EXPIRING, [start, end, after, limit])
        return [ExpiringPoints(*row) for row in cur.fetchall()]


def usable_balance(member_id: int, now: datetime) -> int | None:
    """The balance less the lots past due not expired yet; None without an account (prepared: checkout's path)."""
    with db_cursor() as cur:
        prepared.execute(cur, _USABLE_BALANCE, [now, member_id])
        row = cur.fetchone()
    return None if row is None else row[0]


# --- the archive (points.ledger.points_archive; docs/scaling.md) ---------------------------------------

_ENTRY_COLUMNS = ", ".join(
    [_e.id, _e.account_id, _e.kind, _e.amount, _e.balance_after, _e.source, _e.reference, _e.memo]
    + [_e.idempotency_key, _e.request_hash, _e.reverses_id, _e.actor_id, _e.created_at]
)
_LOT_COLUMNS = ", ".join(
    [_l.id, _l.account_id, _l.entry_id, _l.amount, _l.remaining, _l.source, _l.earned_at, _l.expires_at]
)
_ALLOCATION_COLUMNS = ", ".join([_al.id, _al.entry_id, _al.lot_id, _al.amount])

_PICK_ARCHIVE_CHUNK = f"""SELECT {_a.id} FROM {_a.table} WHERE {_a.id} > %s ORDER BY {_a.id} LIMIT %s
                          FOR UPDATE SKIP LOCKED"""

# Per account, the longest prefix of its entries (in id order) that can leave together: every entry in
# it is older than ``before``; no later entry depends on one in it (``reach``: the last entry that
# allocates from an entry's lot, or reverses it; an open lot reaches for ever); and the latest entry
# stays.  The running maximum of ``reach`` is at most an entry's own id exactly where the prefix may end.
_ARCHIVE_CUTS = f"""
WITH ent AS (
    SELECT e.{_e.id} AS id, e.{_e.account_id} AS account_id, e.{_e.created_at} AS created_at,
           GREATEST(
               e.{_e.id},
               CASE WHEN l.{_l.id} IS NULL THEN e.{_e.id}
                    WHEN l.{_l.remaining} > 0 THEN 9223372036854775807
                    ELSE COALESCE((SELECT MAX(al.{_al.entry_id}) FROM {_al.table} al WHERE al.{_al.lot_id} = l.{_l.id}), e.{_e.id})
               END,
               COALESCE((SELECT MAX(r.{_e.id}) FROM {_e.table} r WHERE r.{_e.reverses_id} = e.{_e.id}), e.{_e.id})
           ) AS reach
    FROM {_e.table} e LEFT JOIN {_l.table} l ON l.{_l.entry_id} = e.{_e.id}
    WHERE e.{_e.account_id} = ANY(%(ids)s)
), run AS (
    SELECT id, account_id, MAX(reach) OVER w AS reach, MAX(created_at) OVER w AS latest,
           MAX(id) OVER (PARTITION BY account_id) AS last_id
    FROM ent WINDOW w AS (PARTITION BY account_id ORDER BY id)
)
SELECT account_id, MAX(id) FROM run WHERE reach <= id AND latest < %(before)s AND id < last_id
GROUP BY account_id ORDER BY account_id
"""

# ``cuts``: (account, last entry id to move) as two arrays.  Lots go with the entry that earned them,
# allocations with the entry that made them (whose lots are never later than it).
_COPY_TO_ARCHIVE = f"""
WITH cut AS (SELECT * FROM unnest(%(accounts)s::bigint[], %(cuts)s::bigint[]) AS c (account_id, cut)),
e AS (
    INSERT INTO {_ea.table} ({_ENTRY_COLUMNS}, {_ea.archived_at})
    SELECT {", ".join("e." + c for c in _ENTRY_COLUMNS.split(", "))}, %(now)s
    FROM {_e.table} e JOIN cut ON e.{_e.account_id} = cut.account_id AND e.{_e.id} <= cut.cut RETURNING 1
), l AS (
    INSERT INTO {_la.table} ({_LOT_COLUMNS}, {_la.archived_at})
    SELECT {", ".join("l." + c for c in _LOT_COLUMNS.split(", "))}, %(now)s
    FROM {_l.table} l JOIN cut ON l.{_l.account_id} = cut.account_id AND l.{_l.entry_id} <= cut.cut RETURNING 1
), al AS (
    INSERT INTO {_ala.table} ({_ALLOCATION_COLUMNS}, {_ala.archived_at})
    SELECT {", ".join("al." + c for c in _ALLOCATION_COLUMNS.split(", "))}, %(now)s
    FROM {_al.table} al JOIN {_e.table} e ON e.{_e.id} = al.{_al.entry_id}
    JOIN cut ON e.{_e.account_id} = cut.account_id AND e.{_e.id} <= cut.cut RETURNING 1
)
SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM l), (SELECT count(*) FROM al)
"""

# A second statement, so that the live tables' triggers see the archived copies they check against.
_DELETE_ARCHIVED = f"""
WITH cut AS (SELECT * FROM unnest(%(accounts)s::bigint[], %(cuts)s::bigint[]) AS c (account_id, cut)),
al AS (
    DELETE FROM {_al.table} al USING {_e.table} e, cut
    WHERE e.{_e.id} = al.{_al.entry_id} AND e.{_e.account_id} = cut.account_id AND e.{_e.id} <= cut.cut RETURNING 1
), l AS (
    DELETE FROM {_l.table} l USING cut
    WHERE l.{_l.account_id} = cut.account_id AND l.{_l.entry_id} <= cut.cut RETURNING 1
), e AS (
    DELETE FROM {_e.table} e USING cut
    WHERE e.{_e.account_id} = cut.account_id AND e.{_e.id} <= cut.cut RETURNING 1
)
SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM l), (SELECT count(*) FROM al)
"""


@takes(Rank.POINTS)
def pick_archive_chunk(cur, after: int, size: int) -> list[int]:
    """Lock (SKIP LOCKED) and return the ids of up to ``size`` accounts after ``after``."""
    cur.execute(_PICK_ARCHIVE_CHUNK, [after, size])
    return [account for (account,) in cur.fetchall()]


def archive_chunk(cur, ids: list[int], before: datetime, now: datetime) -> tuple[int, int, int]:
    """Move the locked accounts' settled history older than ``before`` to the archive: (entries, lots, allocations)."""
    cur.execute(_ARCHIVE_CUTS, {"ids": ids, "before": before})
    cuts = cur.fetchall()
    if not cuts:
        return (0, 0, 0)
    params = {"accounts": [a for a, _ in cuts], "cuts": [c for _, c in cuts], "now": now}
    cur.execute(_COPY_TO_ARCHIVE, params)
    copied = cur.fetchone()
    cur.execute(_DELETE_ARCHIVED, params)
    deleted = cur.fetchone()
    if copied != deleted:  # a row copied is a row deleted: else roll the chunk back
        raise RuntimeError(f"archive: copied {copied} but deleted {deleted}")
    return tuple(copied)
