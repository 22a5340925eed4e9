"""The points mall's SQL: every raw statement of ``mall.services``, named, one function each.

Table and column names come from the models (``loyalty.rows.Names``) and are put into the text once,
at import; rows come back as named records.  The redemption's hot statements are prepared once per
connection (``loyalty.prepared``).  tests/mall/test_sql.py checks them against the ORM.
"""

from __future__ import annotations

from collections import namedtuple

from django.utils import timezone

from loyalty import prepared
from loyalty.locks import Rank, takes
from loyalty.rows import Names, db_cursor
from mall.models import MallItem, Redemption, RedemptionEvent, ShippingAddress, VirtualCode

_i = Names(MallItem)
_r = Names(Redemption)
_ev = Names(RedemptionEvent)
_a = Names(ShippingAddress)
_vc = Names(VirtualCode)

ITEM_FIELDS = [
    "id", "name", "kind", "points", "cash_fen", "stock", "coupon_template_id", "per_member_limit", "period",
    "per_period_limit", "min_tier_level", "required_card_type_ids", "on_sale_from", "on_sale_until",
]  # fmt: skip
ADDRESS_FIELDS = ["id", "recipient", "phone", "province", "city", "district", "detail"]

ItemFields = namedtuple("ItemFields", ITEM_FIELDS)
AddressFields = namedtuple("AddressFields", ADDRESS_FIELDS)
Decision = namedtuple("Decision", "replay_id replay_hash item address")
Counts = namedtuple("Counts", "replay_id replay_hash lifetime day week month")

# The replay, the item and the address in one round trip ($1 member, $2 key, $3 item, $4 address).
_DECIDE = prepared.Statement(
    "mall_decide",
    f"""SELECT r.{_r.id}, r.{_r.request_hash},
              {", ".join(f"i.{getattr(_i, name)}" for name in ITEM_FIELDS)},
              {", ".join(f"a.{getattr(_a, name)}" for name in ADDRESS_FIELDS)}
       FROM (SELECT 1) one
       LEFT JOIN {_r.table} r ON r.{_r.member_id} = $1::bigint AND r.{_r.idempotency_key} = $2::varchar
       LEFT JOIN {_i.table} i ON i.{_i.id} = $3::bigint AND i.{_i.is_active}
       LEFT JOIN {_a.table} a ON a.{_a.id} = $4::bigint AND a.{_a.member_id} = $1::bigint""",
)

# For an item with limits, after the advisory lock was granted, in a statement of its own (so it sees what
# the previous holder committed): the replay again and the member's redemptions of the item not cancelled.
_COUNTS = f"""
SELECT (SELECT {_r.id} FROM {_r.table} WHERE {_r.member_id} = %(member)s AND {_r.idempotency_key} = %(key)s),
       (SELECT {_r.request_hash} FROM {_r.table} WHERE {_r.member_id} = %(member)s AND {_r.idempotency_key} = %(key)s),
       count(*), count(*) FILTER (WHERE {_r.created_at} >= %(day)s), count(*) FILTER (WHERE {_r.created_at} >= %(week)s),
       count(*) FILTER (WHERE {_r.created_at} >= %(month)s)
FROM {_r.table} WHERE {_r.item_id} = %(item)s AND {_r.member_id} = %(member)s AND {_r.status} <> 'cancelled'
"""

# Runs last in a redemption: the stock, the redemption and its event in one statement, so the hot item
# row is locked for one round trip and the commit.
_TAKE = prepared.Statement(
    "mall_take",
    f"""WITH stock AS (
           UPDATE {_i.table} SET {_i.stock} = {_i.stock} - 1, {_i.sold_count} = {_i.sold_count} + 1
           WHERE {_i.id} = $1 AND {_i.stock} > 0 RETURNING {_i.id}
       ), r AS (
           INSERT INTO {_r.table} ({_r.no}, {_r.member_id}, {_r.item_id}, {_r.kind}, {_r.points}, {_r.cash_fen}, {_r.status}, {_r.idempotency_key},
               {_r.request_hash}, {_r.points_entry_id}, {_r.out_trade_no}, {_r.recipient}, {_r.phone}, {_r.address}, {_r.carrier}, {_r.tracking_no},
               {_r.cancel_reason}, {_r.created_at}, {_r.paid_at}, {_r.fulfilled_at})
           SELECT $2::varchar, $3::bigint, {_i.id}, $4::varchar, $5::integer, $6::bigint, $7::varchar, $8::varchar,
               $9::varchar, $10::bigint, '', $11::varchar, $12::varchar, $13::varchar, '', '', '',
               $14::timestamptz, $15::timestamptz, $16::timestamptz
           FROM stock RETURNING {_r.id}
       ), e AS (
           INSERT INTO {_ev.table} ({_ev.redemption_id}, {_ev.kind}, {_ev.note}, {_ev.created_at})
           SELECT {_r.id}, $7::varchar, '', $14::timestamptz FROM r
       )
       SELECT {_r.id} FROM r""",
)

_ASSIGN_CODE = f"""
UPDATE {_vc.table} SET {_vc.redemption_id} = %(redemption)s, {_vc.assigned_at} = %(now)s
WHERE {_vc.id} = (SELECT {_vc.id} FROM {_vc.table} WHERE {_vc.item_id} = %(item)s AND {_vc.redemption_id} IS NULL
            ORDER BY {_vc.id} LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING {_vc.id}
"""

_GIVE_BACK_STOCK = f"UPDATE {_i.table} SET {_i.stock} = {_i.stock} + 1, {_i.sold_count} = {_i.sold_count} - 1 WHERE {_i.id} = %s"
_FREE_CODES = f"UPDATE {_vc.table} SET {_vc.redemption_id} = NULL, {_vc.assigned_at} = NULL WHERE {_vc.redemption_id} = %s"

_AUTO_COMPLETE = f"""
WITH due AS (
    SELECT {_r.id} FROM {_r.table} WHERE {_r.status} = 'shipped' AND {_r.shipped_at} < %(cutoff)s
    ORDER BY {_r.id} LIMIT %(chunk)s FOR UPDATE SKIP LOCKED
), done AS (
    UPDATE {_r.table} r SET {_r.status} = 'completed', {_r.completed_at} = %(now)s FROM due WHERE r.{_r.id} = due.{_r.id}
    RETURNING r.{_r.id}
), e AS (
    INSERT INTO {_ev.table} ({_ev.redemption_id}, {_ev.kind}, {_ev.note}, {_ev.created_at})
    SELECT {_r.id}, 'completed', 'auto', %(now)s FROM done
)
SELECT count(*) FROM done
"""

_RESTOCK = f"UPDATE {_i.table} SET {_i.stock} = {_i.stock} + %s WHERE {_i.id} = %s AND {_i.stock} + %s >= 0 RETURNING {_i.stock}"

_IMPORT_CODES = f"""WITH ins AS (
                   INSERT INTO {_vc.table} ({_vc.item_id}, {_vc.code}, {_vc.uploaded_at})
                   SELECT %s, c, %s FROM unnest(%s::text[]) AS c
                   ON CONFLICT ({_vc.item_id}, {_vc.code}) DO NOTHING RETURNING 1)
               UPDATE {_i.table} SET {_i.stock} = {_i.stock} + (SELECT count(*) FROM ins) WHERE {_i.id} = %s
               RETURNING (SELECT count(*) FROM ins)"""

_ITEM_END = 2 + len(ITEM_FIELDS)

# Physical units another app sold join the shipping queue (``redemptions_record_sold_elsewhere``): the
# redemptions not recorded yet (their key unique per member) as paid, their events, and the item's count
# raised by as many, in one statement; then each key's redemption, recorded now or before.  Nothing is
# written unless the item is physical.  $1 item, $2 numbers, $3 keys, $4 members, $5 recipients, $6 phones,
# $7 addresses (the arrays aligned), $8 now, $9 the events' note.
_SOLD_ELSEWHERE = prepared.Statement(
    "mall_sold_elsewhere",
    f"""WITH item AS (
           SELECT {_i.id} FROM {_i.table} WHERE {_i.id} = $1::bigint AND {_i.kind} = 'physical'
       ), ins AS (
           INSERT INTO {_r.table} ({_r.no}, {_r.member_id}, {_r.item_id}, {_r.kind}, {_r.points}, {_r.cash_fen}, {_r.status},
               {_r.idempotency_key}, {_r.request_hash}, {_r.points_entry_id}, {_r.out_trade_no}, {_r.recipient}, {_r.phone},
               {_r.address}, {_r.carrier}, {_r.tracking_no}, {_r.cancel_reason}, {_r.created_at}, {_r.paid_at}, {_r.fulfilled_at})
           SELECT s.no, s.member, $1::bigint, 'physical', 0, 0, 'paid', s.key, '', NULL, '', left(s.recipient, 40),
               left(s.phone, 20), left(s.address, 200), '', '', '', $8::timestamptz, $8::timestamptz, NULL
           FROM unnest($2::varchar[], $3::varchar[], $4::bigint[], $5::varchar[], $6::varchar[], $7::varchar[])
                WITH ORDINALITY AS s(no, key, member, recipient, phone, address, n)
           WHERE EXISTS (SELECT 1 FROM item)
           ORDER BY s.n
           ON CONFLICT ({_r.member_id}, {_r.idempotency_key}) DO NOTHING
           RETURNING {_r.id}, {_r.idempotency_key}
       ), counted AS (
           UPDATE {_i.table} SET {_i.sold_count} = {_i.sold_count} + (SELECT count(*) FROM ins)
           WHERE {_i.id} = (SELECT {_i.id} FROM item) RETURNING {_i.id}
       ), events AS (
           INSERT INTO {_ev.table} ({_ev.redemption_id}, {_ev.kind}, {_ev.note}, {_ev.created_at})
           SELECT {_r.id}, 'paid', $9::varchar, $8::timestamptz FROM ins ORDER BY {_r.id}
       )
       SELECT EXISTS (SELECT 1 FROM counted),
              (SELECT array_agg({_r.idempotency_key}) FROM ins), (SELECT array_agg({_r.id}) FROM ins),
              (SELECT array_agg({_r.idempotency_key}) FROM {_r.table}
               WHERE {_r.item_id} = $1::bigint AND {_r.idempotency_key} = ANY($3::varchar[])),
              (SELECT array_agg({_r.id}) FROM {_r.table}
               WHERE {_r.item_id} = $1::bigint AND {_r.idempotency_key} = ANY($3::varchar[]))""",
)


def decide(cur, member_id: int, key: str, item_id: int, address_id: int | None) -> Decision:
    """A redemption's first read: its replay (by key), the item if on the shelf, the member's address."""
    prepared.execute(cur, _DECIDE, [member_id, key, item_id, address_id])
    row = cur.fetchone()
    item = ItemFields._make(row[2:_ITEM_END])
    address = AddressFields._make(row[_ITEM_END:])
    return Decision(
        row[0], row[1], None if item.id is None else item, None if address.id is None else address
    )


def counts(cur, params: dict) -> Counts:
    """The replay again, and the member's redemptions of the item not cancelled: lifetime and since the
    ``day``, ``week`` and ``month`` starts in ``params``."""
    cur.execute(_COUNTS, params)
    return Counts(*cur.fetchone())


@takes(Rank.MALL_ITEM)
def take(cur, params: list) -> int | None:
    """Take one from stock and insert the redemption and its event (``_TAKE``'s 16 parameters); its id, or
    None when sold out."""
    prepared.execute(cur, _TAKE, params)
    row = cur.fetchone()
    return None if row is None else row[0]


@takes(Rank.MALL_ITEM)
def record_sold_elsewhere(cur, *, item_id: int, rows: list[dict], now, note: str) -> dict[str, int] | None:
    """``_SOLD_ELSEWHERE``: each row's ``key`` → its redemption id (rows: ``no``, ``key``, ``member_id``,
    ``recipient``, ``phone``, ``address``), or None when the item is not physical (nothing written)."""
    prepared.execute(
        cur,
        _SOLD_ELSEWHERE,
        [item_id, *([row[name] for row in rows] for name in ("no", "key", "member_id", "recipient", "phone", "address")),
         now, note],
    )  # fmt: skip
    physical, new_keys, new_ids, old_keys, old_ids = cur.fetchone()
    if not physical:
        return None
    return {
        **dict(zip(old_keys or [], old_ids or [], strict=True)),
        **dict(zip(new_keys or [], new_ids or [], strict=True)),
    }


@takes(Rank.VIRTUAL_CODE)
def assign_code(cur, redemption_id: int, item_id: int, now) -> int | None:
    """Reserve a free code of the item for the redemption; its id, or None when none is left."""
    cur.execute(_ASSIGN_CODE, {"redemption": redemption_id, "item": item_id, "now": now})
    row = cur.fetchone()
    return None if row is None else row[0]


@takes(Rank.MALL_ITEM)
def give_back(redemption_id: int, item_id: int) -> None:
    """Return a cancelled redemption's unit to stock and free its code."""
    with db_cursor() as cur:
        cur.execute(_GIVE_BACK_STOCK, [item_id])
        cur.execute(_FREE_CODES, [redemption_id])


@takes(Rank.DOCUMENT)
def auto_complete(cur, cutoff, chunk: int, now) -> int:
    """Complete up to ``chunk`` redemptions shipped before ``cutoff`` (with their events); how many."""
    cur.execute(_AUTO_COMPLETE, {"cutoff": cutoff, "chunk": chunk, "now": now})
    return cur.fetchone()[0]


@takes(Rank.MALL_ITEM)
def restock(item_id: int, delta: int) -> int | None:
    """Add ``delta`` to the item's stock unless it would go below zero; the stock now, or None."""
    with db_cursor() as cur:
        cur.execute(_RESTOCK, [delta, item_id, delta])
        row = cur.fetchone()
    return None if row is None else row[0]


def import_codes(cur, item_id: int, codes: list[str]) -> int:
    """Insert the codes not uploaded yet and add as many to stock; how many were new.

    Dated by the application's clock (``timezone.now``), as the model's ``auto_now_add`` would be.
    """
    cur.execute(_IMPORT_CODES, [item_id, timezone.now(), codes, item_id])
    return cur.fetchone()[0]
