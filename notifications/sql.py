"""The notifications app's SQL: every raw statement of ``notifications.services``, named, one function each.

Table and column names come from the models (``loyalty.rows.Names``) and are put into the text once,
at import (a batch's VALUES list is filled in per call); rows come back as named records.
tests/notifications/test_sql.py checks them against the ORM.
"""

from __future__ import annotations

import json
from collections import namedtuple

from loyalty.locks import Rank, takes
from loyalty.rows import Names, db_cursor
from members.models import Member
from notifications.models import Notification, SubscribeConsent, WechatDelivery

_n = Names(Notification)
_c = Names(SubscribeConsent)
_w = Names(WechatDelivery)
_m = Names(Member)

Claimed = namedtuple("Claimed", "id member_id openid template_id page data attempts")

# One array per column, not a VALUES row per draft: PostgreSQL parses and plans 1,000 rows of
# parameters several times slower than seven arrays.
_INSERT_NOTIFICATIONS = (
    f"INSERT INTO {_n.table} ({_n.member_id}, {_n.kind}, {_n.title}, {_n.body}, {_n.data}, {_n.dedupe_key}, {_n.created_at}) "
    "SELECT m, k, t, b, d::jsonb, key, %s FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], "
    "%s::varchar[], %s::text[], %s::varchar[]) AS u (m, k, t, b, d, key) "
    f"ON CONFLICT ({_n.member_id}, {_n.dedupe_key}) DO NOTHING RETURNING {_n.member_id}, {_n.dedupe_key}"
)

# One statement per batch: number each member's drafts per template and their unspent credits
# (oldest first), pair them, write the deliveries and mark exactly the paired credits spent.
# SKIP LOCKED: a credit another transaction is spending right now is not waited for — at worst
# that member's message goes to the inbox only; a credit is never spent twice (the delivery's
# one-to-one link to it is unique as well).
_SPEND = f"""
WITH d (idx, member_id, kind, dedupe_key, template_id, page, data) AS (VALUES {{values}}),
credit AS (
    SELECT c.{_c.id}, c.{_c.member_id}, c.{_c.template_id} FROM {_c.table} c
    WHERE (c.{_c.member_id}, c.{_c.template_id}) IN (SELECT member_id, template_id FROM d)
      AND c.{_c.result} IN ('accept', 'returned') AND c.{_c.spent_at} IS NULL
    ORDER BY c.{_c.id}
    FOR UPDATE OF c SKIP LOCKED
),
rc AS (SELECT {_c.id} AS id, {_c.member_id} AS member_id, {_c.template_id} AS template_id,
              row_number() OVER (PARTITION BY {_c.member_id}, {_c.template_id} ORDER BY {_c.id}) AS rn FROM credit),
rd AS (SELECT d.*, row_number() OVER (PARTITION BY member_id, template_id ORDER BY idx) AS rn FROM d),
ins AS (
    INSERT INTO {_w.table}
        ({_w.member_id}, {_w.kind}, {_w.dedupe_key}, {_w.template_id}, {_w.page}, {_w.data}, {_w.consent_id}, {_w.status}, {_w.attempts},
         {_w.next_attempt_at}, {_w.errcode}, {_w.error}, {_w.msgid}, {_w.created_at})
    SELECT rd.member_id, rd.kind, rd.dedupe_key, rd.template_id, rd.page, rd.data, rc.id, 'pending', 0,
           %s, NULL, '', '', %s
    FROM rd JOIN rc ON rc.member_id = rd.member_id AND rc.template_id = rd.template_id AND rc.rn = rd.rn
    ON CONFLICT ({_w.member_id}, {_w.dedupe_key}) DO NOTHING
    RETURNING {_w.id}, {_w.consent_id}
),
spent AS (UPDATE {_c.table} c SET {_c.spent_at} = %s FROM ins WHERE c.{_c.id} = ins.{_w.consent_id})
SELECT {_w.id} FROM ins ORDER BY {_w.id}
"""
_SPEND_ROW = "(%s::int, %s::bigint, %s, %s, %s, %s, %s::jsonb)"

_CREDIT_HOLDERS = f"""SELECT DISTINCT {_c.member_id}, {_c.template_id} FROM {_c.table}
               WHERE {_c.member_id} = ANY(%s) AND {_c.template_id} = ANY(%s)
                 AND {_c.result} IN ('accept', 'returned') AND {_c.spent_at} IS NULL"""

_CREDITS = f"""SELECT {_c.template_id}, count(*) FROM {_c.table}
               WHERE {_c.member_id} = %s AND {_c.template_id} = ANY(%s) AND {_c.result} IN ('accept', 'returned')
                 AND {_c.spent_at} IS NULL GROUP BY {_c.template_id}"""

_CLAIM = f"""
WITH due AS (
    SELECT {_w.id} FROM {_w.table}
    WHERE {_w.status} = 'pending' AND {_w.next_attempt_at} <= %s {{only}}
    ORDER BY {_w.next_attempt_at}, {_w.id} LIMIT %s
    FOR UPDATE SKIP LOCKED
)
UPDATE {_w.table} w SET {_w.attempts} = w.{_w.attempts} + 1, {_w.next_attempt_at} = %s
FROM due, {_m.table} m
WHERE w.{_w.id} = due.{_w.id} AND m.{_m.id} = w.{_w.member_id}
RETURNING w.{_w.id}, w.{_w.member_id}, m.{_m.openid}, w.{_w.template_id}, w.{_w.page}, w.{_w.data}, w.{_w.attempts}
"""
_CLAIM_ALL = _CLAIM.format(only="")
_CLAIM_IDS = _CLAIM.format(only=f"AND {_w.id} = ANY(%s)")


def insert_notifications(
    cursor, now, member_ids, kinds, titles, bodies, datas, dedupe_keys
) -> set[tuple[int, str]]:
    """Insert one batch of inbox notifications (columns as arrays) not delivered before; the
    (member, dedupe key) pairs inserted."""
    cursor.execute(_INSERT_NOTIFICATIONS, [now, member_ids, kinds, titles, bodies, datas, dedupe_keys])
    return set(cursor.fetchall())


@takes(Rank.NOTIFICATION)
def spend_credits(cursor, rows: list[tuple], now) -> list[int]:
    """Queue a delivery per row (idx, member, kind, dedupe key, template, page, data) that a credit pairs
    with, spending the credit; the new delivery ids."""
    values = ", ".join([_SPEND_ROW] * len(rows))
    params = [v for row in rows for v in (*row[:6], json.dumps(row[6], ensure_ascii=False))]
    cursor.execute(_SPEND.format(values=values), [*params, now, now, now])
    return [delivery_id for (delivery_id,) in cursor.fetchall()]


def credit_holders(member_ids: list[int], template_ids: list[str]) -> set[tuple[int, str]]:
    """(member, template) pairs with an unspent credit now."""
    with db_cursor() as cursor:
        cursor.execute(_CREDIT_HOLDERS, [member_ids, template_ids])
        return set(cursor.fetchall())


def credits(member_id: int, template_ids: list[str]) -> dict[str, int]:
    """The member's unspent credits per template id (those with any)."""
    with db_cursor() as cursor:
        cursor.execute(_CREDITS, [member_id, template_ids])
        return dict(cursor.fetchall())


@takes(Rank.NOTIFICATION)
def claim(cursor, *, ids: list[int] | None, limit: int, now, lease_until) -> list[Claimed]:
    """Take up to ``limit`` due deliveries (of ``ids`` unless None), their next attempt moved to ``lease_until``."""
    if ids is None:
        cursor.execute(_CLAIM_ALL, [now, limit, lease_until])
    else:
        cursor.execute(_CLAIM_IDS, [now, list(ids), limit, lease_until])
    claimed = [Claimed(*row) for row in cursor.fetchall()]
    # Django has psycopg hand jsonb over as text.
    return [c._replace(data=json.loads(c.data)) if isinstance(c.data, str) else c for c in claimed]
