"""拼团's SQL: the hot path of a payment into a group — the place and the group locked, a unit taken, the
group completed, its places fulfilled — in a few named statements, one function each.

Each statement replaces several ORM statements and their model instances (bench/README.md,
``growth.group_joins``).  Table and column names come from the models (``loyalty.rows.Names``) and are
put into the text once, at import; rows come back as named records; the statements are prepared once
per connection (``loyalty.prepared``).  The lock order is the services' (``loyalty.locks``): the place
(DOCUMENT), the group (GROWTH_GROUP), the activity's units (GROWTH_STOCK), each taken by a statement of its
own, so no statement takes two of them in an order the planner picks.
tests/growth/test_sql.py checks them against the ORM.
"""

from __future__ import annotations

from collections import namedtuple

from growth.models import Group, GroupBuyActivity, GroupEvent, GroupMember
from loyalty import prepared
from loyalty.locks import Rank, takes
from loyalty.rows import Names
from mall.models import MallItem
from members.models import Member
from members.receiving import receiving_sql

_p = Names(GroupMember)
_g = Names(Group)
_a = Names(GroupBuyActivity)
_i = Names(MallItem)
_e = Names(GroupEvent)
_m = Names(Member)

PLACE_FIELDS = ["id", "group_id", "member_id", "activity_id", "role", "status", "amount_fen"]
ACTIVITY_FIELDS = ["is_active", "ends_at", "group_size", "time_limit_minutes", "name"]
Place = namedtuple(
    "Place", [*PLACE_FIELDS, *ACTIVITY_FIELDS, "item_id", "item_kind", "coupon_template_id", "receiving"]
)
LockedGroup = namedtuple("LockedGroup", "id state deadline joined_count size")
Joined = namedtuple("Joined", "taken state places")
GroupPlace = namedtuple("GroupPlace", "id member_id recipient phone address")

# The place locked (only its row: the activity's is the hot one), with what deciding its payment needs of
# its activity, its item and its member ($1 place).
_LOCK_PLACE = prepared.Statement(
    "growth_lock_place",
    f"""SELECT {", ".join(f"p.{getattr(_p, name)}" for name in PLACE_FIELDS)},
              {", ".join(f"a.{getattr(_a, name)}" for name in ACTIVITY_FIELDS)},
              i.{_i.id}, i.{_i.kind}, i.{_i.coupon_template_id},
              (SELECT {receiving_sql("m")} FROM {_m.table} m WHERE m.{_m.id} = p.{_p.member_id})
       FROM {_p.table} p
       JOIN {_a.table} a ON a.{_a.id} = p.{_p.activity_id}
       JOIN {_i.table} i ON i.{_i.id} = a.{_a.item_id}
       WHERE p.{_p.id} = $1::bigint
       FOR UPDATE OF p""",
)

_LOCK_GROUP = prepared.Statement(
    "growth_lock_group",
    f"""SELECT {_g.id}, {_g.state}, {_g.deadline}, {_g.joined_count}, {_g.size}
       FROM {_g.table} WHERE {_g.id} = $1::bigint FOR UPDATE""",
)

# With the group locked and open: a unit taken (a conditional UPDATE of the hot row: never oversold), and
# only then the place joined, the group's count (and, when that fills it, its completion) and the events
# "joined" and "completed".  Answers whether the unit was taken, the group's state after, and, when it is
# complete, its paid places in id order for fulfilment (the snapshot still shows this place unpaid, so it
# is named by id).  $1 activity, $2 group, $3 place, $4 now, $5 the payment's number.
_JOIN = prepared.Statement(
    "growth_join",
    f"""WITH unit AS (
           UPDATE {_a.table} SET {_a.sold_count} = {_a.sold_count} + 1
           WHERE {_a.id} = $1::bigint AND {_a.sold_count} < {_a.stock_total} RETURNING {_a.id}
       ), grp AS (
           UPDATE {_g.table} SET {_g.joined_count} = {_g.joined_count} + 1,
               {_g.state} = CASE WHEN {_g.joined_count} + 1 >= {_g.size} THEN 'complete' ELSE {_g.state} END,
               {_g.completed_at} = CASE WHEN {_g.joined_count} + 1 >= {_g.size} THEN $4::timestamptz
                                   ELSE {_g.completed_at} END
           WHERE {_g.id} = $2::bigint AND EXISTS (SELECT 1 FROM unit)
           RETURNING {_g.id}, {_g.state}
       ), place AS (
           UPDATE {_p.table} SET {_p.status} = 'joined', {_p.paid_at} = $4::timestamptz
           WHERE {_p.id} = $3::bigint AND EXISTS (SELECT 1 FROM grp) RETURNING {_p.id}
       ), events AS (
           INSERT INTO {_e.table} ({_e.group_id}, {_e.place_id}, {_e.kind}, {_e.note}, {_e.created_at})
           SELECT g.{_g.id}, k.place, k.kind, k.note, $4::timestamptz
           FROM grp g CROSS JOIN LATERAL (VALUES (1, $3::bigint, 'joined', $5::varchar),
                                                 (2, NULL::bigint, 'completed', '')) AS k(n, place, kind, note)
           WHERE k.n = 1 OR g.{_g.state} = 'complete'
           ORDER BY k.n
       )
       SELECT EXISTS (SELECT 1 FROM unit), (SELECT {_g.state} FROM grp),
              (SELECT array_agg(ARRAY[p.{_p.id}::text, p.{_p.member_id}::text, p.{_p.recipient}, p.{_p.phone},
                                      p.{_p.address}] ORDER BY p.{_p.id})
               FROM {_p.table} p
               WHERE p.{_p.group_id} = $2::bigint AND (p.{_p.status} = 'joined' OR p.{_p.id} = $3::bigint)
                 AND EXISTS (SELECT 1 FROM grp WHERE {_g.state} = 'complete'))""",
)

# A complete group's fulfilled places: completed, with their coupon or redemption, and an event "fulfilled"
# each, in place order ($1 group, $2 now, $3 places, $4 coupons, $5 redemptions; the arrays aligned).
_COMPLETE = prepared.Statement(
    "growth_complete",
    f"""WITH done AS (
           UPDATE {_p.table} p SET {_p.status} = 'completed', {_p.completed_at} = $2::timestamptz,
               {_p.coupon_id} = s.coupon, {_p.redemption_id} = s.redemption
           FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS s(place, coupon, redemption)
           WHERE p.{_p.id} = s.place AND p.{_p.group_id} = $1::bigint AND p.{_p.status} = 'joined'
           RETURNING p.{_p.id}
       )
       INSERT INTO {_e.table} ({_e.group_id}, {_e.place_id}, {_e.kind}, {_e.note}, {_e.created_at})
       SELECT $1::bigint, {_p.id}, 'fulfilled', '', $2::timestamptz FROM done ORDER BY {_p.id}""",
)


@takes(Rank.DOCUMENT)
def lock_place(cur, place_id: int) -> Place | None:
    """The place, locked until the transaction ends, with its activity's, item's and member's facts."""
    prepared.execute(cur, _LOCK_PLACE, [place_id])
    row = cur.fetchone()
    return None if row is None else Place._make(row)


@takes(Rank.GROWTH_GROUP)
def lock_group(cur, group_id: int) -> LockedGroup:
    """The group, locked until the transaction ends: the payments into it are decided one at a time."""
    prepared.execute(cur, _LOCK_GROUP, [group_id])
    return LockedGroup._make(cur.fetchone())


@takes(Rank.GROWTH_STOCK)
def join(cur, *, activity_id: int, group_id: int, place_id: int, now, out_trade_no: str) -> Joined:
    """Take a unit and join the place to its locked, open group (``_JOIN``); nothing is written when no
    unit is left (``taken`` False).  ``places``: the complete group's paid places, else empty."""
    prepared.execute(cur, _JOIN, [activity_id, group_id, place_id, now, out_trade_no])
    taken, state, places = cur.fetchone()
    return Joined(
        taken,
        state,
        [GroupPlace(int(p[0]), int(p[1]), p[2], p[3], p[4]) for p in places or []],
    )


def complete(cur, *, group_id: int, now, fulfilled: list[tuple[int, int | None, int | None]]) -> None:
    """Mark the places (place id, coupon id, redemption id) fulfilled, with their events."""
    prepared.execute(
        cur,
        _COMPLETE,
        [
            group_id,
            now,
            [place for place, _c, _r in fulfilled],
            [coupon for _p, coupon, _r in fulfilled],
            [redemption for _p, _c, redemption in fulfilled],
        ],
    )
