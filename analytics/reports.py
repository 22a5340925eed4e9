"""The report tables, rebuilt by set-based SQL (one statement per table) for a range of merchant-local days.

Days and months are the merchant's (``settings.TIME_ZONE``): a purchase
completed at 2026-01-31 23:30 Asia/Shanghai belongs to January whatever UTC
says.  A refresh replaces the rows of its range (DELETE + INSERT in one
transaction), so it is idempotent and a killed refresh leaves the old rows.

Definitions (see ``facts.py`` for what a purchase is):

* daily: purchases, distinct buyers, net paid; members registered; points
  issued (earn entries), redeemed (spend) and expired (expire), reversals not
  counted; coupons issued (``issued_at``) and used (``used_at``, still used);
  stored-value bonus credited (``bonus`` entries) and forfeited by recharge
  refunds (bonus breakage); whether a member day ran that day.
* monthly 复购率: of the members who purchased in the month, those with two
  or more purchases in that month.  Active members: purchased in the month.
* cohort of month M: members whose first purchase ever was in M; "again
  within N days": a later purchase within N×24 h of that first one.
* attribution: members registered per day and ``registration_channel``;
  cards claimed per day by claim channel and by staff.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from analytics.facts import PAID_FEN, PURCHASE_WHERE
from analytics.models import DailyMetrics, ReportRun, RunStatus
from analytics.selectors import first_activity_day, local_today
from membership.member_days import occurs_on
from membership.models import MemberDay

_BOUNDS = """
    (%(start)s::date::timestamp AT TIME ZONE %(tz)s) AS t0,
    ((%(end)s::date + 1)::timestamp AT TIME ZONE %(tz)s) AS t1
"""

DAILY_SQL = f"""
INSERT INTO analytics_dailymetrics
    (day, purchases, buyers, sales_fen, new_members, points_earned, points_spent, points_expired,
     coupons_issued, coupons_used, bonus_issued_fen, bonus_forfeited_fen, is_member_day, computed_at)
WITH b AS (SELECT {_BOUNDS}),
days AS (SELECT d::date AS day FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') d),
p AS (
    SELECT (o.completed_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n,
           count(DISTINCT o.member_id) AS buyers, sum({PAID_FEN})::bigint AS paid
    FROM orders_order o, b
    WHERE {PURCHASE_WHERE} AND o.completed_at >= b.t0 AND o.completed_at < b.t1 GROUP BY 1
), nm AS (
    SELECT (m.registered_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
    FROM members_member m, b WHERE m.registered_at >= b.t0 AND m.registered_at < b.t1 GROUP BY 1
), pts AS (
    SELECT (e.created_at AT TIME ZONE %(tz)s)::date AS day,
           COALESCE(sum(e.amount) FILTER (WHERE e.kind = 'earn'), 0) AS earned,
           COALESCE(-sum(e.amount) FILTER (WHERE e.kind = 'spend'), 0) AS spent,
           COALESCE(-sum(e.amount) FILTER (WHERE e.kind = 'expire'), 0) AS expired
    FROM points_pointsentry e, b WHERE e.created_at >= b.t0 AND e.created_at < b.t1 GROUP BY 1
), ci AS (
    SELECT (c.issued_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
    FROM coupons_coupon c, b WHERE c.issued_at >= b.t0 AND c.issued_at < b.t1 GROUP BY 1
), cu AS (
    SELECT (c.used_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
    FROM coupons_coupon c, b WHERE c.status = 'used' AND c.used_at >= b.t0 AND c.used_at < b.t1 GROUP BY 1
), sv AS (
    SELECT (e.created_at AT TIME ZONE %(tz)s)::date AS day,
           COALESCE(sum(e.bonus_fen) FILTER (WHERE e.kind = 'bonus'), 0) AS bonus,
           COALESCE(-sum(e.bonus_fen) FILTER (WHERE e.kind = 'recharge_refund'), 0) AS forfeited
    FROM stored_value_storedvalueentry e, b WHERE e.created_at >= b.t0 AND e.created_at < b.t1 GROUP BY 1
)
SELECT days.day, COALESCE(p.n, 0), COALESCE(p.buyers, 0), COALESCE(p.paid, 0), COALESCE(nm.n, 0),
       COALESCE(pts.earned, 0), COALESCE(pts.spent, 0), COALESCE(pts.expired, 0),
       COALESCE(ci.n, 0), COALESCE(cu.n, 0),
       COALESCE(sv.bonus, 0), COALESCE(sv.forfeited, 0), days.day = ANY(%(member_days)s::date[]), %(now)s
FROM days
LEFT JOIN p ON p.day = days.day LEFT JOIN nm ON nm.day = days.day LEFT JOIN pts ON pts.day = days.day
LEFT JOIN ci ON ci.day = days.day LEFT JOIN cu ON cu.day = days.day LEFT JOIN sv ON sv.day = days.day
"""

ATTRIBUTION_SQL = f"""
INSERT INTO analytics_attributiondaily (day, kind, key, count)
WITH b AS (SELECT {_BOUNDS})
SELECT (m.registered_at AT TIME ZONE %(tz)s)::date, 'registration', m.registration_channel, count(*)
FROM members_member m, b WHERE m.registered_at >= b.t0 AND m.registered_at < b.t1 GROUP BY 1, 3
UNION ALL
SELECT (c.created_at AT TIME ZONE %(tz)s)::date, 'card_channel', c.channel, count(*)
FROM members_membershipcard c, b WHERE c.created_at >= b.t0 AND c.created_at < b.t1 GROUP BY 1, 3
UNION ALL
SELECT (c.created_at AT TIME ZONE %(tz)s)::date, 'card_staff', c.staff, count(*)
FROM members_membershipcard c, b WHERE c.created_at >= b.t0 AND c.created_at < b.t1 AND c.staff <> ''
GROUP BY 1, 3
"""

COUPON_SQL = f"""
INSERT INTO analytics_coupondaily (day, template_id, issued, used)
WITH b AS (SELECT {_BOUNDS}),
ev AS (
    SELECT (c.issued_at AT TIME ZONE %(tz)s)::date AS day, c.template_id, 1 AS issued, 0 AS used
    FROM coupons_coupon c, b WHERE c.issued_at >= b.t0 AND c.issued_at < b.t1
    UNION ALL
    SELECT (c.used_at AT TIME ZONE %(tz)s)::date, c.template_id, 0, 1
    FROM coupons_coupon c, b WHERE c.status = 'used' AND c.used_at >= b.t0 AND c.used_at < b.t1
)
SELECT day, template_id, sum(issued), sum(used) FROM ev GROUP BY 1, 2
"""

# All months at once: a cohort's 90 days reach into later months, and a month's
# repeat buyers depend only on that month, so the whole table is one statement.
MONTHLY_SQL = f"""
INSERT INTO analytics_monthlymetrics
    (month, buyers, repeat_buyers, active_members, cohort_size, cohort_30, cohort_60, cohort_90, computed_at)
WITH p AS MATERIALIZED (
    SELECT o.id, o.member_id, o.completed_at,
           date_trunc('month', o.completed_at AT TIME ZONE %(tz)s)::date AS month
    FROM orders_order o WHERE {PURCHASE_WHERE}
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


def _member_days(start: date, end: date) -> list[date]:
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    campaigns = list(MemberDay.objects.all())
    return [d for d in days if any(occurs_on(c, d) for c in campaigns)]


def reports_refresh(*, start: date, end: date) -> ReportRun:
    """Rebuild the daily, attribution and coupon rows of ``start..end`` and every month; idempotent."""
    run = ReportRun.objects.create(start=start, end=end, status=RunStatus.RUNNING)
    params = {
        "start": start,
        "end": end,
        "tz": settings.TIME_ZONE,
        "now": timezone.now(),
        "member_days": _member_days(start, end),
    }
    try:
        _refresh(run.pk, params)
    except Exception:
        ReportRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, finished_at=timezone.now())
        raise
    ReportRun.objects.filter(pk=run.pk).update(status=RunStatus.DONE, finished_at=timezone.now())
    run.refresh_from_db()
    return run


def _refresh(run_id: int, params: dict) -> None:
    with transaction.atomic(), connection.cursor() as cur:
        # A refresh holds its run's row while it works, so a run still "running" whose row nobody
        # holds was left by a killed worker: it never finishes and is marked failed (it changed
        # nothing: its work rolled back).  SKIP LOCKED passes over a refresh waiting for its turn (one
        # caught between creating its row and taking it is marked too, and set done when it ends).
        cur.execute("SELECT 1 FROM analytics_reportrun WHERE id = %s FOR UPDATE", [run_id])
        cur.execute("SELECT pg_advisory_xact_lock(-3, 2)")  # one refresh at a time
        cur.execute(
            """UPDATE analytics_reportrun SET status = %s, finished_at = %s
               WHERE id IN (SELECT id FROM analytics_reportrun WHERE status = %s AND id <> %s
                            FOR UPDATE SKIP LOCKED)""",
            [RunStatus.FAILED, params["now"], RunStatus.RUNNING, run_id],
        )
        cur.execute("DELETE FROM analytics_dailymetrics WHERE day BETWEEN %(start)s AND %(end)s", params)
        cur.execute(DAILY_SQL, params)
        cur.execute("DELETE FROM analytics_attributiondaily WHERE day BETWEEN %(start)s AND %(end)s", params)
        cur.execute(ATTRIBUTION_SQL, params)
        cur.execute("DELETE FROM analytics_coupondaily WHERE day BETWEEN %(start)s AND %(end)s", params)
        cur.execute(COUPON_SQL, params)
        cur.execute("DELETE FROM analytics_monthlymetrics")
        cur.execute(MONTHLY_SQL, params)


NIGHTLY_DAYS = 120


def reports_nightly() -> ReportRun:
    """Refresh the last 120 local days (refunds change recent days), or everything on the first run."""
    today = local_today()
    start = today - timedelta(days=NIGHTLY_DAYS)
    if not DailyMetrics.objects.exists():
        start = min(start, first_activity_day() or start)
    return reports_refresh(start=start, end=today)
