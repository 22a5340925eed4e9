"""The coupons app's SQL: every raw statement of ``coupons.services``, named, one function each.

Table and column names come from the models (``loyalty.rows.Names``) and are put into the text once,
at import; rows come back as named records.  tests/coupons/test_sql.py checks them against the ORM.
"""

from __future__ import annotations

import functools
from collections import namedtuple

from coupons.models import BulkIssue, BulkIssueTarget, Coupon, CouponEvent, CouponTemplate
from loyalty import prepared
from loyalty.locks import Rank, takes
from loyalty.rows import Names, db_cursor  # noqa: F401 (the services' cursor)
from members.models import Member
from members.receiving import receiving_sql

_t = Names(CouponTemplate)
_c = Names(Coupon)
_ev = Names(CouponEvent)
_bt = Names(BulkIssueTarget)
_b = Names(BulkIssue)
_m = Names(Member)

IssueOutcome = namedtuple("IssueOutcome", "held replay coupon_id receiving")
ExpiringCoupons = namedtuple("ExpiringCoupons", "member_id count soonest")
BulkTarget = namedtuple("BulkTarget", "id member_id under_limit")

# --- stock ------------------------------------------------------------------------------------

_TAKE_ONE = f"""UPDATE {_t.table} SET {_t.issued_count} = {_t.issued_count} + 1
                   WHERE {_t.id} = %s AND {_t.issued_count} < {_t.total_stock}"""

# FOR UPDATE re-reads the row after a concurrent update commits, so n is what is left now.
_TAKE_UP_TO = f"""WITH t AS (SELECT {_t.id}, LEAST(%s, {_t.total_stock} - {_t.issued_count}) AS n
                          FROM {_t.table} WHERE {_t.id} = %s FOR UPDATE)
               UPDATE {_t.table} c SET {_t.issued_count} = c.{_t.issued_count} + t.n
               FROM t WHERE c.{_t.id} = t.{_t.id} AND t.n > 0 RETURNING t.n"""


_LOCK_TEMPLATES = f"SELECT {_t.id} FROM {_t.table} WHERE {_t.id} = ANY(%s) ORDER BY {_t.id} FOR NO KEY UPDATE"


@takes(Rank.COUPON_TEMPLATE)
def lock_templates(cur, template_ids: list[int]) -> None:
    """The templates' rows locked as taking from their stock locks them, in id order."""
    cur.execute(_LOCK_TEMPLATES, [template_ids])


@takes(Rank.COUPON_TEMPLATE)
def take_one(cur, template_id: int) -> int:
    """Take one from the template's stock by a conditional UPDATE; 1, or 0 when sold out."""
    cur.execute(_TAKE_ONE, [template_id])
    return cur.rowcount


@takes(Rank.COUPON_TEMPLATE)
def take_up_to(cur, template_id: int, count: int) -> int:
    """Take up to ``count`` from the template's stock; how many were taken."""
    cur.execute(_TAKE_UP_TO, [count, template_id])
    row = cur.fetchone()
    return row[0] if row else 0


# --- claiming ---------------------------------------------------------------------------------

# Raw: on a hot template the ORM's query compilation is a large share of a claim (bench/README.md).
_CLAIMABLE_TEMPLATE = f"SELECT * FROM {_t.table} WHERE {_t.id} = %s AND {_t.is_active} AND {_t.claimable}"


def claimable_template(template_id: int) -> CouponTemplate | None:
    """The template if it is active and claimable in the claim centre, else None (no lock)."""
    return next(iter(CouponTemplate.objects.raw(_CLAIMABLE_TEMPLATE, [template_id])), None)


# --- issuing ----------------------------------------------------------------------------------

# Runs after the advisory lock was granted, in a statement of its own: a statement's snapshot is
# taken when it starts, so only a later statement sees what the previous lock holder committed.
# ``who``: the member, if they may receive, locked FOR SHARE (a closure waits, or is waited for and
# then seen: the lock re-reads the row once it is granted).
_ISSUE = f"""
WITH who AS (
    SELECT m.{_m.id} FROM {_m.table} m WHERE m.{_m.id} = %(member)s AND {receiving_sql("m")} FOR SHARE
), mine AS (
    SELECT count(*) AS held, max({_c.id}) FILTER (WHERE {_c.issue_key} = %(key)s) AS replay
    FROM {_c.table} WHERE {_c.template_id} = %(template)s AND {_c.member_id} = %(member)s
), stock AS (
    UPDATE {_t.table} SET {_t.issued_count} = {_t.issued_count} + 1
    WHERE {_t.id} = %(template)s AND {_t.issued_count} < {_t.total_stock} AND EXISTS (SELECT 1 FROM who)
      AND (SELECT held FROM mine) < %(limit)s AND (SELECT replay FROM mine) IS NULL
    RETURNING {_t.id}
), new AS (
    INSERT INTO {_c.table} ({_c.template_id}, {_c.member_id}, {_c.code}, {_c.status}, {_c.source}, {_c.issue_key},
                                {_c.valid_from}, {_c.valid_until}, {_c.order_no}, {_c.issued_at})
    SELECT {_t.id}, %(member)s, %(code)s, 'available', %(source)s, %(key)s, %(valid_from)s, %(valid_until)s, '', %(now)s
    FROM stock RETURNING {_c.id}
), event AS (
    INSERT INTO {_ev.table} ({_ev.coupon_id}, {_ev.kind}, {_ev.order_no}, {_ev.reason}, {_ev.created_at})
    SELECT {_c.id}, 'issued', '', %(source)s, %(now)s FROM new
)
SELECT (SELECT held FROM mine), (SELECT replay FROM mine), (SELECT {_c.id} FROM new), EXISTS (SELECT 1 FROM who)
"""


def issue(cur, params: dict) -> IssueOutcome:
    """Issue one coupon if the member may receive, is under the limit and stock is left (see ``_ISSUE``)."""
    cur.execute(_ISSUE, params)
    return IssueOutcome(*cur.fetchone())


# --- jobs -------------------------------------------------------------------------------------

_EXPIRE = f"""
WITH due AS (
    SELECT {_c.id} FROM {_c.table}
    WHERE {_c.status} = 'available' AND {_c.valid_until} <= %(now)s
    ORDER BY {_c.id} LIMIT %(chunk)s FOR UPDATE SKIP LOCKED
), changed AS (
    UPDATE {_c.table} c SET {_c.status} = 'expired' FROM due WHERE c.{_c.id} = due.{_c.id} RETURNING c.{_c.id}
)
INSERT INTO {_ev.table} ({_ev.coupon_id}, {_ev.kind}, {_ev.order_no}, {_ev.reason}, {_ev.created_at})
SELECT {_c.id}, 'expired', '', '', %(now)s FROM changed
"""

# A lock past its ``locked_until`` is released only when no registered holder still has it open.
_RELEASE = f"""
WITH stale AS (
    SELECT c.{_c.id}, c.{_c.order_no} FROM {_c.table} c
    WHERE c.{_c.status} = 'locked' AND c.{_c.locked_until} <= %(now)s{{held}}
    ORDER BY c.{_c.id} LIMIT %(chunk)s FOR UPDATE OF c SKIP LOCKED
), changed AS (
    UPDATE {_c.table} c
    SET {_c.status} = CASE WHEN c.{_c.valid_until} <= %(now)s THEN 'expired' ELSE 'available' END,
        {_c.order_no} = '', {_c.locked_until} = NULL
    FROM stale WHERE c.{_c.id} = stale.{_c.id} RETURNING c.{_c.id}, stale.{_c.order_no}
)
INSERT INTO {_ev.table} ({_ev.coupon_id}, {_ev.kind}, {_ev.order_no}, {_ev.reason}, {_ev.created_at})
SELECT {_c.id}, 'released', {_c.order_no}, 'lock expired', %(now)s FROM changed
"""

_EXPIRING = f"""SELECT c.{_c.member_id}, count(*), MIN(c.{_c.valid_until})
                   FROM {_c.table} c JOIN {_m.table} m ON m.{_m.id} = c.{_c.member_id}
                   WHERE c.{_c.status} = 'available' AND c.{_c.valid_until} > %s AND c.{_c.valid_until} <= %s
                     AND c.{_c.member_id} > %s AND {receiving_sql("m")}
                   GROUP BY c.{_c.member_id} ORDER BY c.{_c.member_id} LIMIT %s"""


@takes(Rank.COUPON)
def expire_due(cur, now, chunk: int) -> int:
    """Expire up to ``chunk`` available coupons past their validity (each with its event); how many."""
    cur.execute(_EXPIRE, {"now": now, "chunk": chunk})
    return cur.rowcount


@functools.cache
def _release_sql(open_holders: tuple[str, ...]) -> str:
    return _RELEASE.format(held="".join(f"\n      AND NOT EXISTS ({sql})" for sql in open_holders))


@takes(Rank.COUPON)
def release_stale(cur, now, chunk: int, open_holders: tuple[str, ...]) -> int:
    """Release up to ``chunk`` locks past ``locked_until`` that no ``open_holders`` SQL still holds; how many."""
    cur.execute(_release_sql(open_holders), {"now": now, "chunk": chunk})
    return cur.rowcount


def expiring(cur, start, end, after: int, chunk: int) -> list[ExpiringCoupons]:
    """Per receiving member after ``after``: how many available coupons expire in (start, end], the first when."""
    cur.execute(_EXPIRING, [start, end, after, chunk])
    return [ExpiringCoupons(*row) for row in cur.fetchall()]


# --- bulk issue -------------------------------------------------------------------------------

_BULK_CHUNK = f"""
WITH chunk AS (
    SELECT t.{_bt.id}, t.{_bt.member_id},
           (SELECT count(*) FROM {_c.table} c
             WHERE c.{_c.member_id} = t.{_bt.member_id} AND c.{_c.template_id} = %(template)s) AS held
    FROM {_bt.table} t
    WHERE t.{_bt.bulk_issue_id} = %(bulk)s AND t.{_bt.result} = 'pending'
    ORDER BY t.{_bt.id} LIMIT %(chunk)s FOR UPDATE SKIP LOCKED
)
SELECT {_bt.id}, {_bt.member_id}, held < %(limit)s FROM chunk ORDER BY {_bt.id}
"""

_UNDER_LIMIT = f"""SELECT m FROM unnest(%s::int[]) m WHERE (SELECT count(*) FROM {_c.table} c
                   WHERE c.{_c.member_id} = m AND c.{_c.template_id} = %s) < %s"""

_BULK_INSERT = f"""WITH new AS (
                           INSERT INTO {_c.table} ({_c.template_id}, {_c.member_id}, {_c.code}, {_c.status}, {_c.source}, {_c.issue_key},
                                                       {_c.valid_from}, {_c.valid_until}, {_c.order_no}, {_c.issued_at})
                           SELECT %s, m, code, 'available', 'bulk', %s, %s, %s, '', %s
                           FROM unnest(%s::int[], %s::text[]) AS n(m, code)
                           RETURNING {_c.id})
                       INSERT INTO {_ev.table} ({_ev.coupon_id}, {_ev.kind}, {_ev.order_no}, {_ev.reason}, {_ev.created_at})
                       SELECT {_c.id}, 'issued', '', 'bulk', %s FROM new"""

_MARK_TARGETS = f"""UPDATE {_bt.table} t SET {_bt.result} = r.result
                   FROM unnest(%s::int[], %s::text[]) AS r(id, result) WHERE t.{_bt.id} = r.id"""

_COUNT_PROCESSED = f"UPDATE {_b.table} SET {_b.processed} = {_b.processed} + %s, {_b.issued} = {_b.issued} + %s WHERE {_b.id} = %s"


@takes(Rank.DOCUMENT)
def bulk_chunk(cur, *, template_id: int, bulk_id: int, chunk: int, limit: int) -> list[BulkTarget]:
    """Lock (SKIP LOCKED) up to ``chunk`` pending targets, each with whether its member is under ``limit``."""
    cur.execute(_BULK_CHUNK, {"template": template_id, "bulk": bulk_id, "chunk": chunk, "limit": limit})
    return [BulkTarget(*row) for row in cur.fetchall()]


def under_limit(cur, member_ids: list[int], template_id: int, limit: int) -> set[int]:
    """Those of ``member_ids`` holding fewer than ``limit`` coupons of the template."""
    cur.execute(_UNDER_LIMIT, [member_ids, template_id, limit])
    return {member_id for (member_id,) in cur.fetchall()}


def bulk_insert(
    cur, *, template_id: int, issue_key: str, valid_from, valid_until, now, member_ids, codes
) -> None:
    """Insert one coupon per member (``codes`` alongside) with its ``issued`` event."""
    cur.execute(_BULK_INSERT, [template_id, issue_key, valid_from, valid_until, now, member_ids, codes, now])


def mark_targets(cur, target_ids: list[int], results: list[str]) -> None:
    cur.execute(_MARK_TARGETS, [target_ids, results])


def count_processed(cur, bulk_id: int, processed: int, issued: int) -> None:
    cur.execute(_COUNT_PROCESSED, [processed, issued, bulk_id])


UsableCoupon = namedtuple(
    "UsableCoupon",
    "id valid_until name kind threshold_fen amount_off_fen percent_off max_discount_fen gift_sku",
)

_USABLE = prepared.Statement(
    "coupons_usable_with_templates",
    f"""SELECT c.{_c.id}, c.{_c.valid_until}, t.{_t.name}, t.{_t.kind}, t.{_t.threshold_fen}, t.{_t.amount_off_fen},
               t.{_t.percent_off}, t.{_t.max_discount_fen}, t.{_t.gift_sku}
          FROM {_c.table} c JOIN {_t.table} t ON t.{_t.id} = c.{_c.template_id}
         WHERE c.{_c.member_id} = $1::bigint AND c.{_c.status} = 'available'
           AND c.{_c.valid_from} <= $2::timestamptz AND c.{_c.valid_until} > $2::timestamptz
         ORDER BY c.{_c.valid_until}, c.{_c.id} LIMIT $3::int""",
)


def usable_with_templates(member_id: int, now, limit: int) -> list[UsableCoupon]:
    """A member's coupons usable at ``now`` with what their templates say, soonest to expire first."""
    with db_cursor() as cur:
        prepared.execute(cur, _USABLE, [member_id, now, limit])
        return [UsableCoupon(*row) for row in cur.fetchall()]
