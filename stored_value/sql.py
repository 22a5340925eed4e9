"""The stored-value app's SQL: every raw statement of ``stored_value.ledger``, ``.recharges`` and ``.selectors``.

Table and column names come from the models (``loyalty.rows.Names``) and are put into the text once,
at import; rows come back as named records.  The hot statements are prepared once per connection
(``loyalty.prepared``).  tests/stored_value/test_sql.py checks them against the ORM.
"""

from __future__ import annotations

from collections import namedtuple

from django.utils import timezone

from loyalty import prepared
from loyalty.locks import Rank, takes
from loyalty.rows import Names, db_cursor, read_cursor
from members.models import Member
from stored_value.models import (
    RechargeOrder,
    SpendOrder,
    StoredValueAccount,
    StoredValueEntry,
    StoredValuePolicy,
)

_a = Names(StoredValueAccount)
_e = Names(StoredValueEntry)
_p = Names(StoredValuePolicy)
_m = Names(Member)
_r = Names(RechargeOrder)

AccountRow = namedtuple("AccountRow", "id principal bonus frozen spend_order")
KeyedEntry = namedtuple(
    "KeyedEntry", "id request_hash principal_fen bonus_fen principal_after_fen bonus_after_fen"
)
SpendToRefund = namedtuple(
    "SpendToRefund", "kind principal_spent bonus_spent source reference principal_back bonus_back"
)

# The spend order comes with the lock, in the same statement: a spend makes one round trip before it writes.
_LOCK = prepared.Statement(
    "stored_value_lock",
    f"""SELECT {_a.id}, {_a.principal_fen}, {_a.bonus_fen}, {_a.frozen},
              COALESCE((SELECT {_p.spend_order} FROM {_p.table} ORDER BY {_p.id} LIMIT 1), $2)
       FROM {_a.table} WHERE {_a.member_id} = $1 FOR UPDATE""",
)

_CREATE_ACCOUNT = f"""INSERT INTO {_a.table} ({_a.member_id}, {_a.principal_fen}, {_a.bonus_fen}, {_a.frozen}, {_a.frozen_reason}, {_a.created_at})
               SELECT {_m.id}, 0, 0, false, '', %s FROM {_m.table} WHERE {_m.id} = %s
               ON CONFLICT ({_a.member_id}) DO NOTHING"""

_ACCOUNT_ID = f"SELECT {_a.id} FROM {_a.table} WHERE {_a.member_id} = %s"

_CREATE_ACCOUNTS = f"""INSERT INTO {_a.table} ({_a.member_id}, {_a.principal_fen}, {_a.bonus_fen}, {_a.frozen}, {_a.frozen_reason}, {_a.created_at})
               SELECT {_m.id}, 0, 0, false, '', %s FROM {_m.table} WHERE {_m.id} = ANY(%s) ORDER BY {_m.id}
               ON CONFLICT ({_a.member_id}) DO NOTHING"""

_LOCK_ACCOUNTS = f"SELECT {_a.id} FROM {_a.table} WHERE {_a.member_id} = ANY(%s) ORDER BY {_a.id} FOR UPDATE"

_ENTRY_BY_KEY = f"""SELECT {_e.id}, {_e.request_hash}, {_e.principal_fen}, {_e.bonus_fen}, {_e.principal_after_fen}, {_e.bonus_after_fen}
           FROM {_e.table} WHERE {_e.account_id} = %s AND {_e.idempotency_key} = %s"""

_SPEND_TO_REFUND = f"""SELECT e.{_e.kind}, -e.{_e.principal_fen}, -e.{_e.bonus_fen}, e.{_e.source}, e.{_e.reference},
                      COALESCE(SUM(r.{_e.principal_fen}), 0)::bigint, COALESCE(SUM(r.{_e.bonus_fen}), 0)::bigint
               FROM {_e.table} e
               LEFT JOIN {_e.table} r ON r.{_e.reverses_id} = e.{_e.id}
               WHERE e.{_e.id} = %s AND e.{_e.account_id} = %s
               GROUP BY e.{_e.id}"""

_POST = prepared.Statement(
    "stored_value_post",
    f"""WITH e AS (
           INSERT INTO {_e.table}
               ({_e.account_id}, {_e.kind}, {_e.principal_fen}, {_e.bonus_fen}, {_e.principal_after_fen}, {_e.bonus_after_fen}, {_e.source},
                {_e.reference}, {_e.memo}, {_e.idempotency_key}, {_e.request_hash}, {_e.reverses_id}, {_e.recharge_id}, {_e.actor_id}, {_e.created_at})
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING {_e.id}),
       a AS (UPDATE {_a.table} SET {_a.principal_fen} = $5, {_a.bonus_fen} = $6 WHERE {_a.id} = $1)
       SELECT {_e.id} FROM e""",
)


@takes(Rank.STORED_VALUE)
def lock_account(
    cur, member_id: int, default_spend_order: str = SpendOrder.PROPORTIONAL
) -> AccountRow | None:
    """The member's account locked FOR UPDATE, with the merchant's spend order (``default_spend_order``
    without a policy row); None without an account."""
    prepared.execute(cur, _LOCK, [member_id, default_spend_order])
    row = cur.fetchone()
    return None if row is None else AccountRow(*row)


def create_account(cur, member_id: int) -> None:
    """Create the member's empty account unless it exists (nothing when there is no such member).

    Dated by the application's clock (``timezone.now``), as the model's ``auto_now_add`` would be.
    """
    cur.execute(_CREATE_ACCOUNT, [timezone.now(), member_id])


@takes(Rank.STORED_VALUE)
def lock_accounts(cur, member_ids: list[int]) -> None:
    """The members' accounts, created where missing, locked FOR UPDATE in id order (one statement each)."""
    cur.execute(_CREATE_ACCOUNTS, [timezone.now(), member_ids])
    cur.execute(_LOCK_ACCOUNTS, [member_ids])


def account_id(cur, member_id: int) -> int | None:
    cur.execute(_ACCOUNT_ID, [member_id])
    row = cur.fetchone()
    return None if row is None else row[0]


def entry_by_key(cur, account_id: int, key: str) -> KeyedEntry | None:
    """The account's entry posted under ``key`` (a replay's first posting), or None."""
    cur.execute(_ENTRY_BY_KEY, [account_id, key])
    row = cur.fetchone()
    return None if row is None else KeyedEntry(*row)


def spend_to_refund(cur, account_id: int, entry_id: int) -> SpendToRefund | None:
    """An entry to refund: its kind, what it took of each part (positive) and what refunds gave back."""
    cur.execute(_SPEND_TO_REFUND, [entry_id, account_id])
    row = cur.fetchone()
    return None if row is None else SpendToRefund(*row)


def post(cur, params: list) -> int:
    """Write one entry and the account's new balances (``_POST``'s 15 parameters); the entry's id."""
    prepared.execute(cur, _POST, params)
    return cur.fetchone()[0]


# Accounts for members who have none, each opened with one entry (an import's opening balance), in one
# statement; a member with an account already fails it on the account's unique member.
_OPEN_ACCOUNTS = f"""
WITH src AS (
    SELECT * FROM unnest(%(members)s::bigint[], %(principal)s::bigint[], %(bonus)s::bigint[],
                         %(keys)s::varchar[], %(hashes)s::varchar[], %(refs)s::varchar[])
        AS s(member_id, principal, bonus, key, hash, reference)
), acc AS (
    INSERT INTO {_a.table} ({_a.member_id}, {_a.principal_fen}, {_a.bonus_fen}, {_a.frozen}, {_a.frozen_reason}, {_a.created_at})
    SELECT member_id, principal, bonus, false, '', %(now)s FROM src ORDER BY member_id
    RETURNING {_a.id}, {_a.member_id}
), ent AS (
    INSERT INTO {_e.table}
        ({_e.account_id}, {_e.kind}, {_e.principal_fen}, {_e.bonus_fen}, {_e.principal_after_fen}, {_e.bonus_after_fen}, {_e.source},
         {_e.reference}, {_e.memo}, {_e.idempotency_key}, {_e.request_hash}, {_e.actor_id}, {_e.created_at})
    SELECT acc.{_a.id}, %(kind)s, src.principal, src.bonus, src.principal, src.bonus, %(source)s,
           src.reference, %(memo)s, src.key, src.hash, %(actor)s, %(now)s
    FROM src JOIN acc ON acc.{_a.member_id} = src.member_id ORDER BY src.member_id
    RETURNING {_e.id}, {_e.idempotency_key}
)
SELECT {_e.idempotency_key}, {_e.id} FROM ent
"""


@takes(Rank.STORED_VALUE)
def open_accounts(
    cur, *, items: list[tuple], kind: str, source: str, memo: str, actor_id: int, now
) -> dict[str, int]:
    """``items``: (member_id, principal_fen, bonus_fen, key, request_hash, reference), one per member;
    returns {key: entry_id}."""
    if not items:
        return {}
    members, principal, bonus, keys, hashes, refs = (list(column) for column in zip(*items, strict=True))
    cur.execute(
        _OPEN_ACCOUNTS,
        {
            "members": members,
            "principal": principal,
            "bonus": bonus,
            "keys": keys,
            "hashes": hashes,
            "refs": refs,
            "kind": kind,
            "source": source,
            "memo": memo,
            "actor": actor_id,
            "now": now,
        },
    )
    return dict(cur.fetchall())


# --- reads and locks outside the ledger ---------------------------------------------------------

Balance = namedtuple("Balance", "principal_fen bonus_fen frozen")
BalanceAndPending = namedtuple("BalanceAndPending", "balance frozen pending")
LiabilityDay = namedtuple("LiabilityDay", "day principal_fen bonus_fen")

_BALANCE = prepared.Statement(
    "stored_value_balance",
    f"SELECT {_a.principal_fen}, {_a.bonus_fen}, {_a.frozen} FROM {_a.table} WHERE {_a.member_id} = $1::bigint",
)

_BALANCE_AND_PENDING = f"""SELECT COALESCE(a.{_a.principal_fen} + a.{_a.bonus_fen}, 0), COALESCE(a.{_a.frozen}, false),
                      (SELECT COALESCE(SUM({_r.amount_fen} + {_r.bonus_fen}), 0) FROM {_r.table}
                        WHERE {_r.member_id} = %(member)s AND {_r.status} = 'created' AND {_r.created_at} > %(since)s)
               FROM (SELECT %(member)s AS member_id) m
               LEFT JOIN {_a.table} a ON a.{_a.member_id} = m.member_id"""

_LIABILITY_BY_DAY = f"""
            WITH days AS (
                SELECT d::date AS day FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') d
            ), before AS (
                SELECT COALESCE(SUM({_e.principal_fen}), 0) AS principal, COALESCE(SUM({_e.bonus_fen}), 0) AS bonus
                FROM {_e.table} WHERE ({_e.created_at} AT TIME ZONE %(tz)s)::date < %(start)s::date
            ), moves AS (
                SELECT ({_e.created_at} AT TIME ZONE %(tz)s)::date AS day,
                       SUM({_e.principal_fen}) AS principal, SUM({_e.bonus_fen}) AS bonus
                FROM {_e.table}
                WHERE {_e.created_at} >= (%(start)s::date::timestamp AT TIME ZONE %(tz)s)
                  AND {_e.created_at} < ((%(end)s::date + 1)::timestamp AT TIME ZONE %(tz)s)
                GROUP BY 1
            )
            SELECT days.day,
                   before.principal + SUM(COALESCE(moves.principal, 0)) OVER w,
                   before.bonus + SUM(COALESCE(moves.bonus, 0)) OVER w
            FROM days CROSS JOIN before LEFT JOIN moves ON moves.day = days.day
            WINDOW w AS (ORDER BY days.day)
            ORDER BY days.day
            """


def balance(member_id: int) -> Balance | None:
    """The account's two parts and whether it is frozen; None without an account (prepared: checkout's path)."""
    with db_cursor() as cur:
        prepared.execute(cur, _BALANCE, [member_id])
        row = cur.fetchone()
    return None if row is None else Balance(*row)


def balance_and_pending(member_id: int, since) -> BalanceAndPending:
    """The balance, frozen, and the recharges created since ``since`` awaiting payment (with their bonus),
    in one snapshot."""
    with db_cursor() as cur:
        cur.execute(_BALANCE_AND_PENDING, {"member": member_id, "since": since})
        return BalanceAndPending(*cur.fetchone())


def liability_by_day(start, end, tz: str) -> list[LiabilityDay]:
    """Outstanding principal and bonus at the end of each local day (in ``tz``) from ``start`` to ``end``.

    A report's read: from the replica on a replica-fed page (the liability page, the dashboard)."""
    with read_cursor(StoredValueEntry) as cur:
        cur.execute(_LIABILITY_BY_DAY, {"start": start, "end": end, "tz": tz})
        return [LiabilityDay(*row) for row in cur.fetchall()]
