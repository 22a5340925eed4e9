"""The analytics app's SQL: the member portrait's purchases, segments' conditions, RFM's scoring and
the report tables.

Table and column names come from the models (``loyalty.rows.Names``) and are put into the text once,
at import; rows come back as named records.  What a purchase is, and what it paid, is ``facts.py``'s.
The segments', reports' and RFM's rules are explained in ``analytics.segments``, ``analytics.reports``
and ``analytics.rfm``, which use these statements.  tests/analytics/test_sql.py checks them against
the ORM.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import date, datetime

from django.db.models import QuerySet

from analytics.facts import PAID_FEN, PURCHASE_WHERE
from analytics.models import (
    AttributionDaily,
    CouponDaily,
    DailyMetrics,
    MemberTagging,
    MonthlyMetrics,
    ReportRun,
    RfmScore,
    RunStatus,
)
from coupons.models import Coupon, CouponEvent
from growth.attribution import BARGAIN_CHANNEL_PREFIX, GROUP_BUY_CHANNEL_PREFIX
from growth.models import Bargain, BargainActivity, Group, GroupBuyActivity, GroupMember
from loyalty.locks import Rank, takes
from loyalty.rows import Names, db_cursor, read_cursor
from members.models import Member
from members.receiving import receiving_sql
from membership.models import Membership, MembershipCard
from orders.models import Order
from points.models import PointsAccount, PointsEntry
from stored_value.models import RechargeOrder, StoredValueAccount, StoredValueEntry
from stores.models import Staff, StaffAssignment, Store

_o = Names(Order)
_m = Names(Member)
_pe = Names(PointsEntry)
_c = Names(Coupon)
_sve = Names(StoredValueEntry)
_mc = Names(MembershipCard)
_ms = Names(Membership)
_pa = Names(PointsAccount)
_sva = Names(StoredValueAccount)
_mt = Names(MemberTagging)
_rs = Names(RfmScore)
_rr = Names(ReportRun)
_dm = Names(DailyMetrics)
_mm = Names(MonthlyMetrics)
_ad = Names(AttributionDaily)
_cd = Names(CouponDaily)

Purchase = namedtuple("Purchase", "order_no status completed_at paid_fen goods_fen counts")
PurchaseTotals = namedtuple("PurchaseTotals", "purchases paid_fen")
RfmResult = namedtuple("RfmResult", "scored r_cuts f_cuts m_cuts")

# --- the member portrait ------------------------------------------------------------------------

_MEMBER_PURCHASES = f"""
            SELECT o.{_o.order_no}, o.{_o.status}, o.{_o.completed_at}, {PAID_FEN} AS paid, o.{_o.goods_fen},
                   o.{_o.completed_at} IS NOT NULL AND {PURCHASE_WHERE} AS counts
            FROM {_o.table} o WHERE o.{_o.member_id} = %s ORDER BY o.{_o.id} DESC LIMIT %s
            """


_MEMBER_PURCHASE_TOTALS = f"""
            SELECT count(*), COALESCE(sum({PAID_FEN}), 0)
            FROM {_o.table} o WHERE o.{_o.member_id} = %s AND {PURCHASE_WHERE}
            """


def member_purchase_totals(member_id: int) -> PurchaseTotals:
    """How many purchases the member made and what they paid in all (``facts.py``'s definition)."""
    with db_cursor() as cur:
        cur.execute(_MEMBER_PURCHASE_TOTALS, [member_id])
        count, paid = cur.fetchone()
        return PurchaseTotals(int(count), int(paid))


def member_purchases(member_id: int, limit: int) -> list[Purchase]:
    """The member's latest orders, newest first: what each paid and whether it counts as a purchase."""
    with db_cursor() as cur:
        cur.execute(_MEMBER_PURCHASES, [member_id, limit])
        return [Purchase(*row) for row in cur.fetchall()]


# --- segments (analytics.segments) ------------------------------------------------------------------

# A segment is one condition on the member rows of ``Member.objects``, which the table's own name
# aliases.  Each leaf is a join-free correlated subquery on the facts it needs, so PostgreSQL plans
# the whole segment as one query; each ``%s`` takes one of the leaf's values, in order.
_M = _m.table
_MEMBER_ID = f"{_M}.{_m.id}"

_LAST_PURCHASE = (
    f"(SELECT max(o.{_o.completed_at}) FROM {_o.table} o"
    f" WHERE o.{_o.member_id} = {_MEMBER_ID} AND {PURCHASE_WHERE})"
)

# The leaves that test the member against the rule's values (their ``%s``: see each).
SEGMENT_TESTS = {
    # Tier levels; no membership row is level 0.
    "tier": (
        f"(COALESCE((SELECT ms.{_ms.tier_level} FROM {_ms.table} ms WHERE ms.{_ms.member_id} = {_MEMBER_ID}), 0)"
        " = ANY(%s))"
    ),
    # Card type ids, now, now: holds a card of one of them valid now.
    "card": (
        f"EXISTS (SELECT 1 FROM {_mc.table} c WHERE c.{_mc.member_id} = {_MEMBER_ID}"
        f" AND c.{_mc.card_type_id} = ANY(%s) AND c.{_mc.status} = 'active' AND c.{_mc.valid_from} <= %s"
        f" AND (c.{_mc.valid_until} IS NULL OR c.{_mc.valid_until} > %s))"
    ),
    # RFM segment codes (the table holds only the latest run's scores).
    "rfm_segment": (
        f"EXISTS (SELECT 1 FROM {_rs.table} r WHERE r.{_rs.member_id} = {_MEMBER_ID} AND r.{_rs.segment} = ANY(%s))"
    ),
    # An instant: the last purchase before it (so at least one purchase), or on or after it.
    "last_purchase_before": f"({_LAST_PURCHASE} < %s)",
    "last_purchase_after": f"({_LAST_PURCHASE} >= %s)",
    # Months 1-12.
    "birthday_month": f"(extract(month FROM {_M}.{_m.birthday})::int = ANY(%s))",
    # Channel names.
    "registration_channel": f"({_M}.{_m.registration_channel} = ANY(%s))",
    # Tag ids: has any of them.
    "tag": (
        f"EXISTS (SELECT 1 FROM {_mt.table} t WHERE t.{_mt.member_id} = {_MEMBER_ID} AND t.{_mt.tag_id} = ANY(%s))"
    ),
}

# The leaves that measure the member, compared with the rule's min and/or max (``segment_between``).
SEGMENT_MEASURES = {
    # Purchases, lifetime.
    "order_count": (
        f"(SELECT count(*) FROM {_o.table} o WHERE o.{_o.member_id} = {_MEMBER_ID} AND {PURCHASE_WHERE})"
    ),
    # Points; no account is 0.
    "points_balance": (
        f"COALESCE((SELECT a.{_pa.balance} FROM {_pa.table} a WHERE a.{_pa.member_id} = {_MEMBER_ID}), 0)"
    ),
    # Fen, principal + bonus; no account is 0.
    "stored_value_balance": (
        f"COALESCE((SELECT a.{_sva.principal_fen} + a.{_sva.bonus_fen} FROM {_sva.table} a"
        f" WHERE a.{_sva.member_id} = {_MEMBER_ID}), 0)"
    ),
}

_SEGMENT_OPS = {"and": " AND ", "or": " OR "}


def segment_between(field: str, *, low: bool, high: bool) -> str:
    """The measure ``field`` at least one ``%s`` (``low``) and/or at most another (``high``)."""
    measure = SEGMENT_MEASURES[field]
    parts = []
    if low:
        parts.append(f"{measure} >= %s")
    if high:
        parts.append(f"{measure} <= %s")
    return "(" + " AND ".join(parts) + ")"


def segment_group(op: str, parts: list[str]) -> str:
    """The conditions ``parts`` joined by ``op`` (``"and"`` or ``"or"``)."""
    return "(" + _SEGMENT_OPS[op].join(parts) + ")"


def segment_where(condition: str) -> str:
    """A segment's whole condition: ``condition``, and only members who may receive (never a closed account)."""
    return f"({receiving_sql(_M)} AND {condition})"


def segment_members(where: str, params: list) -> QuerySet[Member]:
    """The members for whom ``where`` (``segment_where``) holds, as a Member queryset (one SQL WHERE)."""
    return Member.objects.extra(where=[where], params=params)  # noqa: S610 - compiled SQL, values are params


# --- RFM (analytics.rfm) ----------------------------------------------------------------------------

# A score of RFM_HIGH or more is "high" (at or above the middle quintile).
RFM_HIGH = 3

_SEGMENT = f"""
CASE
  WHEN r >= {RFM_HIGH} AND f >= {RFM_HIGH} AND m >= {RFM_HIGH} THEN 'important_value'
  WHEN r >= {RFM_HIGH} AND f <  {RFM_HIGH} AND m >= {RFM_HIGH} THEN 'important_develop'
  WHEN r <  {RFM_HIGH} AND f >= {RFM_HIGH} AND m >= {RFM_HIGH} THEN 'important_keep'
  WHEN r <  {RFM_HIGH} AND f <  {RFM_HIGH} AND m >= {RFM_HIGH} THEN 'important_retain'
  WHEN r >= {RFM_HIGH} AND f >= {RFM_HIGH} THEN 'general_value'
  WHEN r >= {RFM_HIGH} THEN 'general_develop'
  WHEN f >= {RFM_HIGH} THEN 'general_keep'
  ELSE 'general_retain'
END"""


_RFM_SCORES_DELETE = f"DELETE FROM {_rs.table}"

# Recency is computed in the aggregate itself: a CTE of its own would be one more copy of every
# scored member's facts, which at scale spills to disk (bench/README.md).
_RFM_SCORES_INSERT = f"""
WITH facts AS MATERIALIZED (
    SELECT o.{_o.member_id} AS member_id,
           max(o.{_o.completed_at}) AS last_at,
           count(*) AS frequency,
           sum({PAID_FEN})::bigint AS monetary,
           floor(extract(epoch FROM (%(as_of)s - max(o.{_o.completed_at}))) / 86400)::int AS recency
    FROM {_o.table} o
    WHERE {PURCHASE_WHERE}
      AND o.{_o.completed_at} >= %(since)s AND o.{_o.completed_at} < %(as_of)s
    GROUP BY o.{_o.member_id}
), cuts AS (
    SELECT percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY recency) AS r_cuts,
           percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY frequency) AS f_cuts,
           percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY monetary) AS m_cuts
    FROM facts
), scored AS (
    SELECT s.*, {_SEGMENT} AS segment FROM (
        SELECT me.*,
               5 - (c.r_cuts[1] < me.recency)::int - (c.r_cuts[2] < me.recency)::int
                 - (c.r_cuts[3] < me.recency)::int - (c.r_cuts[4] < me.recency)::int AS r,
               1 + (c.f_cuts[1] < me.frequency)::int + (c.f_cuts[2] < me.frequency)::int
                 + (c.f_cuts[3] < me.frequency)::int + (c.f_cuts[4] < me.frequency)::int AS f,
               1 + (c.m_cuts[1] < me.monetary)::int + (c.m_cuts[2] < me.monetary)::int
                 + (c.m_cuts[3] < me.monetary)::int + (c.m_cuts[4] < me.monetary)::int AS m
        FROM facts me CROSS JOIN cuts c
        -- A fence: pulled up, the subquery's r, f and m would be copied into the segment CASE and
        -- evaluated there some twenty times per member instead of once.
        OFFSET 0
    ) s
), written AS (
    -- Runs to completion although nothing reads it (PostgreSQL's rule for data-modifying CTEs);
    -- without RETURNING: one row per fact, so the facts give the count.
    INSERT INTO {_rs.table}
        ({_rs.member_id}, {_rs.run_id}, {_rs.last_purchase_at}, {_rs.recency_days}, {_rs.frequency},
         {_rs.monetary_fen}, {_rs.r_score}, {_rs.f_score}, {_rs.m_score}, {_rs.segment})
    SELECT member_id, %(run)s, last_at, recency, frequency, monetary, r, f, m, segment FROM scored
)
SELECT (SELECT count(*) FROM facts), c.r_cuts, c.f_cuts, c.m_cuts FROM cuts c
"""


def rfm_scores_delete(cur) -> None:
    """Delete every score (the table holds only the latest run's)."""
    cur.execute(_RFM_SCORES_DELETE)


def rfm_scores_insert(cur, *, run_id: int, since: datetime, as_of: datetime) -> RfmResult:
    """Score every member with a purchase in ``[since, as_of)`` under ``run_id``; how many, and the cuts.

    The cut points are None when nobody was scored.
    """
    cur.execute(_RFM_SCORES_INSERT, {"since": since, "as_of": as_of, "run": run_id})
    return RfmResult(*cur.fetchone())


# --- the report tables (analytics.reports) -----------------------------------------------------------

# The merchant-local days start..end as a half-open range of instants.
_BOUNDS = """
    (%(start)s::date::timestamp AT TIME ZONE %(tz)s) AS t0,
    ((%(end)s::date + 1)::timestamp AT TIME ZONE %(tz)s) AS t1
"""

_LOCK_REPORT_RUN = f"SELECT 1 FROM {_rr.table} WHERE {_rr.id} = %s FOR UPDATE"
_REPORT_RUNS_FAIL_ABANDONED = f"""UPDATE {_rr.table} SET {_rr.status} = %s, {_rr.finished_at} = %s
               WHERE {_rr.id} IN (SELECT {_rr.id} FROM {_rr.table} WHERE {_rr.status} = %s AND {_rr.id} <> %s
                            FOR UPDATE SKIP LOCKED)"""

_DAILY_DELETE = f"DELETE FROM {_dm.table} WHERE {_dm.day} BETWEEN %(start)s AND %(end)s"
_DAILY_INSERT = f"""
INSERT INTO {_dm.table}
    ({_dm.day}, {_dm.purchases}, {_dm.buyers}, {_dm.sales_fen}, {_dm.new_members}, {_dm.points_earned},
     {_dm.points_spent}, {_dm.points_expired}, {_dm.coupons_issued}, {_dm.coupons_used}, {_dm.bonus_issued_fen},
     {_dm.bonus_forfeited_fen}, {_dm.is_member_day}, {_dm.computed_at})
WITH b AS (SELECT {_BOUNDS}),
days AS (SELECT d::date AS day FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') d),
p AS (
    SELECT (o.{_o.completed_at} AT TIME ZONE %(tz)s)::date AS day, count(*) AS n,
           count(DISTINCT o.{_o.member_id}) AS buyers, sum({PAID_FEN})::bigint AS paid
    FROM {_o.table} o, b
    WHERE {PURCHASE_WHERE} AND o.{_o.completed_at} >= b.t0 AND o.{_o.completed_at} < b.t1 GROUP BY 1
), nm AS (
    SELECT (m.{_m.registered_at} AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
    FROM {_m.table} m, b WHERE m.{_m.registered_at} >= b.t0 AND m.{_m.registered_at} < b.t1 GROUP BY 1
), pts AS (
    SELECT (e.{_pe.created_at} AT TIME ZONE %(tz)s)::date AS day,
           COALESCE(sum(e.{_pe.amount}) FILTER (WHERE e.{_pe.kind} = 'earn'), 0) AS earned,
           COALESCE(-sum(e.{_pe.amount}) FILTER (WHERE e.{_pe.kind} = 'spend'), 0) AS spent,
           COALESCE(-sum(e.{_pe.amount}) FILTER (WHERE e.{_pe.kind} = 'expire'), 0) AS expired
    FROM {_pe.table} e, b WHERE e.{_pe.created_at} >= b.t0 AND e.{_pe.created_at} < b.t1 GROUP BY 1
), ci AS (
    SELECT (c.{_c.issued_at} AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
    FROM {_c.table} c, b WHERE c.{_c.issued_at} >= b.t0 AND c.{_c.issued_at} < b.t1 GROUP BY 1
), cu AS (
    SELECT (c.{_c.used_at} AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
    FROM {_c.table} c, b
    WHERE c.{_c.status} = 'used' AND c.{_c.used_at} >= b.t0 AND c.{_c.used_at} < b.t1 GROUP BY 1
), sv AS (
    SELECT (e.{_sve.created_at} AT TIME ZONE %(tz)s)::date AS day,
           COALESCE(sum(e.{_sve.bonus_fen}) FILTER (WHERE e.{_sve.kind} = 'bonus'), 0) AS bonus,
           COALESCE(-sum(e.{_sve.bonus_fen}) FILTER (WHERE e.{_sve.kind} = 'recharge_refund'), 0) AS forfeited
    FROM {_sve.table} e, b WHERE e.{_sve.created_at} >= b.t0 AND e.{_sve.created_at} < b.t1 GROUP BY 1
)
SELECT days.day, COALESCE(p.n, 0), COALESCE(p.buyers, 0), COALESCE(p.paid, 0), COALESCE(nm.n, 0),
       COALESCE(pts.earned, 0), COALESCE(pts.spent, 0), COALESCE(pts.expired, 0),
       COALESCE(ci.n, 0), COALESCE(cu.n, 0),
       COALESCE(sv.bonus, 0), COALESCE(sv.forfeited, 0), days.day = ANY(%(member_days)s::date[]), %(now)s
FROM days
LEFT JOIN p ON p.day = days.day LEFT JOIN nm ON nm.day = days.day LEFT JOIN pts ON pts.day = days.day
LEFT JOIN ci ON ci.day = days.day LEFT JOIN cu ON cu.day = days.day LEFT JOIN sv ON sv.day = days.day
"""

_ATTRIBUTION_DELETE = f"DELETE FROM {_ad.table} WHERE {_ad.day} BETWEEN %(start)s AND %(end)s"
_ATTRIBUTION_INSERT = f"""
INSERT INTO {_ad.table} ({_ad.day}, {_ad.kind}, {_ad.key}, {_ad.count})
WITH b AS (SELECT {_BOUNDS})
SELECT (m.{_m.registered_at} AT TIME ZONE %(tz)s)::date, 'registration', m.{_m.registration_channel}, count(*)
FROM {_m.table} m, b WHERE m.{_m.registered_at} >= b.t0 AND m.{_m.registered_at} < b.t1 GROUP BY 1, 3
UNION ALL
SELECT (c.{_mc.created_at} AT TIME ZONE %(tz)s)::date, 'card_channel', c.{_mc.channel}, count(*)
FROM {_mc.table} c, b WHERE c.{_mc.created_at} >= b.t0 AND c.{_mc.created_at} < b.t1 GROUP BY 1, 3
UNION ALL
SELECT (c.{_mc.created_at} AT TIME ZONE %(tz)s)::date, 'card_staff', c.{_mc.staff}, count(*)
FROM {_mc.table} c, b WHERE c.{_mc.created_at} >= b.t0 AND c.{_mc.created_at} < b.t1 AND c.{_mc.staff} <> ''
GROUP BY 1, 3
"""

_COUPON_DAILY_DELETE = f"DELETE FROM {_cd.table} WHERE {_cd.day} BETWEEN %(start)s AND %(end)s"
_COUPON_DAILY_INSERT = f"""
INSERT INTO {_cd.table} ({_cd.day}, {_cd.template_id}, {_cd.issued}, {_cd.used})
WITH b AS (SELECT {_BOUNDS}),
ev AS (
    SELECT (c.{_c.issued_at} AT TIME ZONE %(tz)s)::date AS day, c.{_c.template_id} AS template_id,
           1 AS issued, 0 AS used
    FROM {_c.table} c, b WHERE c.{_c.issued_at} >= b.t0 AND c.{_c.issued_at} < b.t1
    UNION ALL
    SELECT (c.{_c.used_at} AT TIME ZONE %(tz)s)::date, c.{_c.template_id}, 0, 1
    FROM {_c.table} c, b WHERE c.{_c.status} = 'used' AND c.{_c.used_at} >= b.t0 AND c.{_c.used_at} < b.t1
)
SELECT day, template_id, sum(issued), sum(used) FROM ev GROUP BY 1, 2
"""

_MONTHLY_DELETE = f"DELETE FROM {_mm.table}"
# All months at once: a cohort's 90 days reach into later months, and a month's
# repeat buyers depend only on that month, so the whole table is one statement.
_MONTHLY_INSERT = f"""
INSERT INTO {_mm.table}
    ({_mm.month}, {_mm.buyers}, {_mm.repeat_buyers}, {_mm.active_members}, {_mm.cohort_size},
     {_mm.cohort_30}, {_mm.cohort_60}, {_mm.cohort_90}, {_mm.computed_at})
WITH p AS MATERIALIZED (
    SELECT o.{_o.id} AS id, o.{_o.member_id} AS member_id, o.{_o.completed_at} AS completed_at,
           date_trunc('month', o.{_o.completed_at} AT TIME ZONE %(tz)s)::date AS month
    FROM {_o.table} o WHERE {PURCHASE_WHERE}
), per_month AS (
    SELECT month, member_id, count(*) AS n FROM p GROUP BY 1, 2
), months AS (
    SELECT month, count(*) AS buyers, count(*) FILTER (WHERE n >= 2) AS repeat_buyers FROM per_month GROUP BY 1
), ranked AS (
    SELECT member_id, completed_at,
           row_number() OVER (PARTITION BY member_id ORDER BY completed_at, id) AS rn
    FROM p
), firsts AS (
    SELECT member_id, min(completed_at) FILTER (WHERE rn = 1) AS first_at,
           min(completed_at) FILTER (WHERE rn = 2) AS again_at
    FROM ranked WHERE rn <= 2 GROUP BY 1
), cohorts AS (
    SELECT date_trunc('month', first_at AT TIME ZONE %(tz)s)::date AS month,
           count(*) AS size,
           count(*) FILTER (WHERE again_at <= first_at + interval '30 days') AS d30,
           count(*) FILTER (WHERE again_at <= first_at + interval '60 days') AS d60,
           count(*) FILTER (WHERE again_at <= first_at + interval '90 days') AS d90
    FROM firsts
    GROUP BY 1
)
SELECT COALESCE(months.month, cohorts.month), COALESCE(buyers, 0), COALESCE(repeat_buyers, 0),
       COALESCE(buyers, 0), COALESCE(size, 0), COALESCE(d30, 0), COALESCE(d60, 0), COALESCE(d90, 0), %(now)s
FROM months FULL JOIN cohorts ON cohorts.month = months.month
"""


@takes(Rank.DOCUMENT)
def lock_report_run(cur, run_id: int) -> None:
    """Hold the refresh's own run row until the transaction ends (how a live refresh is told apart)."""
    cur.execute(_LOCK_REPORT_RUN, [run_id])


def report_runs_fail_abandoned(cur, *, run_id: int, now: datetime) -> None:
    """Mark failed every other run still "running" whose row nobody holds (SKIP LOCKED)."""
    cur.execute(_REPORT_RUNS_FAIL_ABANDONED, [RunStatus.FAILED, now, RunStatus.RUNNING, run_id])


def daily_delete(cur, *, start: date, end: date) -> None:
    cur.execute(_DAILY_DELETE, {"start": start, "end": end})


def daily_insert(cur, *, start: date, end: date, tz: str, now: datetime, member_days: list[date]) -> None:
    """One row per local day of ``start..end`` (``tz``), zeros included; ``member_days`` are flagged."""
    cur.execute(_DAILY_INSERT, {"start": start, "end": end, "tz": tz, "now": now, "member_days": member_days})


def attribution_delete(cur, *, start: date, end: date) -> None:
    cur.execute(_ATTRIBUTION_DELETE, {"start": start, "end": end})


def attribution_insert(cur, *, start: date, end: date, tz: str) -> None:
    """Registrations per local day and channel; cards claimed per day by channel and by staff."""
    cur.execute(_ATTRIBUTION_INSERT, {"start": start, "end": end, "tz": tz})


def coupon_daily_delete(cur, *, start: date, end: date) -> None:
    cur.execute(_COUPON_DAILY_DELETE, {"start": start, "end": end})


def coupon_daily_insert(cur, *, start: date, end: date, tz: str) -> None:
    """Coupons issued and used (still used) per local day and template."""
    cur.execute(_COUPON_DAILY_INSERT, {"start": start, "end": end, "tz": tz})


def monthly_delete(cur) -> None:
    cur.execute(_MONTHLY_DELETE)


def monthly_insert(cur, *, tz: str, now: datetime) -> None:
    """Every month with a purchase or a cohort: buyers, repeat buyers, cohort sizes and returns."""
    cur.execute(_MONTHLY_INSERT, {"tz": tz, "now": now})


# --- stores and staff (analytics.selectors.store_figures / staff_figures) -----------------------------

# What happened at each store (or was brought by each staff member) between two local dates, read live
# from the facts (no report table: the figures are small, one row per store or staff member).
#   new members: registrations with the store (``registration_store``) / the staff member who brought them;
#   orders, sales: purchases (``facts.py``: completed, not refunded in full) completed in the range, and
#     what they paid net of refunds;
#   recharges: credited (or since refunded) recharges credited in the range, principal net of refunds;
#   coupons used: redeemed at the counter (``used`` events with the store and no order) in the range,
#     and the coupons of the store's purchases completed in the range (the order's store and staff);
#   cards: cards issued in the range with the store; the staff member by the card's staff tag = 工号.
# ``stores`` (an array of store ids, or NULL for every store) limits the facts counted.

_st = Names(Store)
_sf = Names(Staff)
_sa = Names(StaffAssignment)
_ro = Names(RechargeOrder)
_ce = Names(CouponEvent)

StoreFigures = namedtuple(
    "StoreFigures",
    "id code name new_members orders sales_fen recharges recharge_fen coupons_used cards_claimed cards_sold",
)
_IN_STORES = "(%(stores)s::bigint[] IS NULL OR {col} = ANY(%(stores)s::bigint[]))"


def _figures_sql(by: str) -> str:
    member_key = _m.registration_store_id if by == "store" else _m.registration_staff_id
    fact_key = _o.store_id if by == "store" else _o.staff_id
    recharge_key = _ro.store_id if by == "store" else _ro.staff_id
    event_key = _ce.store_id if by == "store" else _ce.staff_id
    card_key = f"c.{_mc.store_id}" if by == "store" else f"sf.{_sf.id}"
    card_join = "" if by == "store" else f"JOIN {_sf.table} sf ON sf.{_sf.code} = c.{_mc.staff}"
    if by == "store":
        rows = f"""SELECT s.{_st.id}, s.{_st.code}, s.{_st.name} FROM {_st.table} s
                   WHERE {_IN_STORES.format(col=f"s.{_st.id}")}"""
    else:  # the staff of the stores asked for, and anyone else who brought something there
        rows = f"""SELECT s.{_sf.id}, s.{_sf.code}, s.{_sf.name} FROM {_sf.table} s
                   WHERE EXISTS (SELECT 1 FROM {_sa.table} a WHERE a.{_sa.staff_id} = s.{_sf.id}
                                 AND {_IN_STORES.format(col=f"a.{_sa.store_id}")})
                      OR s.{_sf.id} IN (SELECT k FROM m UNION SELECT k FROM p UNION SELECT k FROM r
                                        UNION SELECT k FROM cu UNION SELECT k FROM cd)"""
    return f"""
WITH b AS (SELECT {_BOUNDS}),
m AS (
    SELECT m.{member_key} AS k, count(*) AS n FROM {_m.table} m, b
    WHERE m.{_m.registered_at} >= b.t0 AND m.{_m.registered_at} < b.t1 AND m.{member_key} IS NOT NULL
      AND {_IN_STORES.format(col=f"m.{_m.registration_store_id}")}
    GROUP BY 1
),
p AS (
    SELECT o.{fact_key} AS k, count(*) AS n, sum({PAID_FEN}) AS paid FROM {_o.table} o, b
    WHERE {PURCHASE_WHERE} AND o.{_o.completed_at} >= b.t0 AND o.{_o.completed_at} < b.t1
      AND o.{fact_key} IS NOT NULL AND {_IN_STORES.format(col=f"o.{_o.store_id}")}
    GROUP BY 1
),
r AS (
    SELECT r.{recharge_key} AS k, count(*) AS n, sum(r.{_ro.amount_fen} - r.{_ro.refunded_fen}) AS fen
    FROM {_ro.table} r, b
    WHERE r.{_ro.status} IN ('credited', 'refunded') AND r.{_ro.credited_at} >= b.t0
      AND r.{_ro.credited_at} < b.t1 AND r.{recharge_key} IS NOT NULL
      AND {_IN_STORES.format(col=f"r.{_ro.store_id}")}
    GROUP BY 1
),
cu AS (
    SELECT k, sum(n) AS n FROM (
        SELECT e.{event_key} AS k, count(*) AS n FROM {_ce.table} e, b
        WHERE e.{_ce.kind} = 'used' AND e.{_ce.order_no} = '' AND e.{event_key} IS NOT NULL
          AND e.{_ce.created_at} >= b.t0 AND e.{_ce.created_at} < b.t1
          AND {_IN_STORES.format(col=f"e.{_ce.store_id}")}
        GROUP BY 1
        UNION ALL
        SELECT o.{fact_key}, sum(jsonb_array_length(o.{_o.coupon_ids})) FROM {_o.table} o, b
        WHERE {PURCHASE_WHERE} AND o.{_o.completed_at} >= b.t0 AND o.{_o.completed_at} < b.t1
          AND o.{fact_key} IS NOT NULL AND {_IN_STORES.format(col=f"o.{_o.store_id}")}
        GROUP BY 1
    ) used GROUP BY k
),
cd AS (
    SELECT {card_key} AS k,
           count(*) FILTER (WHERE c.{_mc.source} IN ('claim', 'trial', 'condition')) AS claimed,
           count(*) FILTER (WHERE c.{_mc.source} = 'purchase') AS sold
    FROM {_mc.table} c CROSS JOIN b {card_join}
    WHERE c.{_mc.created_at} >= b.t0 AND c.{_mc.created_at} < b.t1 AND {card_key} IS NOT NULL
      AND {_IN_STORES.format(col=f"c.{_mc.store_id}")}
    GROUP BY 1
)
SELECT s.*, COALESCE(m.n, 0), COALESCE(p.n, 0), COALESCE(p.paid, 0), COALESCE(r.n, 0), COALESCE(r.fen, 0),
       COALESCE(cu.n, 0), COALESCE(cd.claimed, 0), COALESCE(cd.sold, 0)
FROM ({rows}) s(id, code, name)
LEFT JOIN m ON m.k = s.id LEFT JOIN p ON p.k = s.id LEFT JOIN r ON r.k = s.id
LEFT JOIN cu ON cu.k = s.id LEFT JOIN cd ON cd.k = s.id
ORDER BY s.code
"""


_STORE_FIGURES = _figures_sql("store")
_STAFF_FIGURES = _figures_sql("staff")


def store_figures(*, start: date, end: date, tz: str, store_ids) -> list[StoreFigures]:
    """Each store's figures from ``start`` to ``end`` (local days, both included); ``store_ids`` None: all."""
    return _figures(_STORE_FIGURES, start=start, end=end, tz=tz, store_ids=store_ids)


def staff_figures(*, start: date, end: date, tz: str, store_ids) -> list[StoreFigures]:
    """Each staff member's figures (what they brought or served) at ``store_ids`` (None: every store)."""
    return _figures(_STAFF_FIGURES, start=start, end=end, tz=tz, store_ids=store_ids)


def _figures(statement: str, *, start, end, tz, store_ids) -> list[StoreFigures]:
    params = {"start": start, "end": end, "tz": tz, "stores": None if store_ids is None else list(store_ids)}
    with read_cursor(Order) as cur:
        cur.execute(statement, params)
        return [StoreFigures(*(int(v) if isinstance(v, int) else v for v in row)) for row in cur.fetchall()]


# --- growth tools (analytics.selectors.growth_activities / growth_sharers) ----------------------------

# 拼团 and 砍价 between two local dates, read live from growth's tables (no report table: one row per
# activity, one per sharer and activity).
#   groups opened / completed / failed: groups whose leader's payment arrived, that filled, that failed,
#     in the range (each by the time it happened);
#   bargains started / bought: bargains started in the range; bought (paid) in the range;
#   units sold, sales: places fulfilled in a completed group (status completed: a place refunded since is
#     not counted) and bargains bought, by the time of completion or payment; sales what they paid;
#   new members: members registered in the range from the activity's shares (its registration channel,
#     ``growth.attribution``); a sharer is the referrer who brought them.
# An activity is listed when its window meets the range or it has a figure in it.

_ga = Names(GroupBuyActivity)
_gg = Names(Group)
_gp = Names(GroupMember)
_ba = Names(BargainActivity)
_bg = Names(Bargain)

GrowthActivity = namedtuple(
    "GrowthActivity",
    "kind id name groups_opened groups_completed groups_failed bargains_started bargains_bought units sales_fen "
    "new_members",
)
GrowthSharer = namedtuple("GrowthSharer", "referrer_id nickname kind activity_id activity_name new_members")

_IN_RANGE = "{col} >= b.t0 AND {col} < b.t1"
_GROWTH_NEW_MEMBERS = f"""
nm AS (
    SELECT m.{_m.registration_channel} AS channel, m.{_m.referrer_id} AS referrer, count(*) AS n
    FROM {_m.table} m, b
    WHERE {_IN_RANGE.format(col=f"m.{_m.registered_at}")}
      AND (m.{_m.registration_channel} LIKE '{GROUP_BUY_CHANNEL_PREFIX}%%'
           OR m.{_m.registration_channel} LIKE '{BARGAIN_CHANNEL_PREFIX}%%')
    GROUP BY 1, 2
),
acts AS (
    SELECT 'group_buy' AS kind, a.{_ga.id} AS id, a.{_ga.name} AS name, a.{_ga.starts_at} AS starts_at,
           a.{_ga.ends_at} AS ends_at, '{GROUP_BUY_CHANNEL_PREFIX}' || a.{_ga.id} AS channel
    FROM {_ga.table} a
    UNION ALL
    SELECT 'bargain', a.{_ba.id}, a.{_ba.name}, a.{_ba.starts_at}, a.{_ba.ends_at},
           '{BARGAIN_CHANNEL_PREFIX}' || a.{_ba.id}
    FROM {_ba.table} a
)"""

_GROWTH_ACTIVITIES = f"""
WITH b AS (SELECT {_BOUNDS}), {_GROWTH_NEW_MEMBERS},
g AS (
    SELECT g.{_gg.activity_id} AS id,
           count(*) FILTER (WHERE {_IN_RANGE.format(col=f"g.{_gg.opened_at}")}) AS opened,
           count(*) FILTER (WHERE g.{_gg.state} = 'complete' AND {_IN_RANGE.format(col=f"g.{_gg.completed_at}")}) AS completed,
           count(*) FILTER (WHERE g.{_gg.state} = 'failed' AND {_IN_RANGE.format(col=f"g.{_gg.failed_at}")}) AS failed
    FROM {_gg.table} g, b
    WHERE g.{_gg.opened_at} < b.t1
      AND (g.{_gg.opened_at} >= b.t0 OR g.{_gg.completed_at} >= b.t0 OR g.{_gg.failed_at} >= b.t0)
    GROUP BY 1
),
gs AS (
    SELECT p.{_gp.activity_id} AS id, count(*) AS units, sum(p.{_gp.amount_fen})::bigint AS fen
    FROM {_gp.table} p, b
    WHERE p.{_gp.status} = 'completed' AND {_IN_RANGE.format(col=f"p.{_gp.completed_at}")}
    GROUP BY 1
),
bg AS (
    SELECT x.{_bg.activity_id} AS id,
           count(*) FILTER (WHERE {_IN_RANGE.format(col=f"x.{_bg.created_at}")}) AS started,
           count(*) FILTER (WHERE x.{_bg.state} = 'paid' AND {_IN_RANGE.format(col=f"x.{_bg.paid_at}")}) AS bought,
           (sum(x.{_bg.paid_fen}) FILTER (WHERE x.{_bg.state} = 'paid' AND {_IN_RANGE.format(col=f"x.{_bg.paid_at}")}))::bigint AS fen
    FROM {_bg.table} x, b
    WHERE x.{_bg.created_at} < b.t1 AND (x.{_bg.created_at} >= b.t0 OR x.{_bg.paid_at} >= b.t0)
    GROUP BY 1
),
n AS (SELECT channel, sum(n)::bigint AS n FROM nm GROUP BY 1)
SELECT a.kind, a.id, a.name,
       CASE WHEN a.kind = 'group_buy' THEN COALESCE(g.opened, 0) END,
       CASE WHEN a.kind = 'group_buy' THEN COALESCE(g.completed, 0) END,
       CASE WHEN a.kind = 'group_buy' THEN COALESCE(g.failed, 0) END,
       CASE WHEN a.kind = 'bargain' THEN COALESCE(bg.started, 0) END,
       CASE WHEN a.kind = 'bargain' THEN COALESCE(bg.bought, 0) END,
       CASE WHEN a.kind = 'group_buy' THEN COALESCE(gs.units, 0) ELSE COALESCE(bg.bought, 0) END,
       CASE WHEN a.kind = 'group_buy' THEN COALESCE(gs.fen, 0) ELSE COALESCE(bg.fen, 0) END,
       COALESCE(n.n, 0)
FROM acts a CROSS JOIN b
LEFT JOIN g ON a.kind = 'group_buy' AND g.id = a.id
LEFT JOIN gs ON a.kind = 'group_buy' AND gs.id = a.id
LEFT JOIN bg ON a.kind = 'bargain' AND bg.id = a.id
LEFT JOIN n ON n.channel = a.channel
WHERE (a.starts_at < b.t1 AND a.ends_at > b.t0) OR g.id IS NOT NULL OR gs.id IS NOT NULL OR bg.id IS NOT NULL
   OR n.channel IS NOT NULL
ORDER BY a.starts_at DESC, a.kind, a.id DESC
"""

_GROWTH_SHARERS = f"""
WITH b AS (SELECT {_BOUNDS}), {_GROWTH_NEW_MEMBERS}
SELECT nm.referrer, r.{_m.nickname}, a.kind, a.id, a.name, nm.n
FROM nm JOIN acts a ON a.channel = nm.channel JOIN {_m.table} r ON r.{_m.id} = nm.referrer
ORDER BY sum(nm.n) OVER (PARTITION BY nm.referrer) DESC, nm.referrer, nm.n DESC, a.kind, a.id
LIMIT %(limit)s
"""


def growth_activities(*, start: date, end: date, tz: str) -> list[GrowthActivity]:
    """Each 拼团 and 砍价 activity's figures from ``start`` to ``end`` (local days, both included)."""
    with read_cursor(Group) as cur:
        cur.execute(_GROWTH_ACTIVITIES, {"start": start, "end": end, "tz": tz})
        return [GrowthActivity._make(row) for row in cur.fetchall()]


def growth_sharers(*, start: date, end: date, tz: str, limit: int | None) -> list[GrowthSharer]:
    """New members each sharer brought from each activity's shares, the sharers who brought most first."""
    with read_cursor(Member) as cur:
        cur.execute(_GROWTH_SHARERS, {"start": start, "end": end, "tz": tz, "limit": limit})
        return [GrowthSharer._make(row) for row in cur.fetchall()]
