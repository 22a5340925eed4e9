"""The report tables, rebuilt by set-based SQL for a range of merchant-local days.

One statement per table, in ``analytics.sql``.  Days and months are the
merchant's (``settings.TIME_ZONE``): a purchase completed at 2026-01-31 23:30
Asia/Shanghai belongs to January whatever UTC says.  A refresh replaces the
rows of its range (DELETE + INSERT in one transaction), so it is idempotent
and a killed refresh leaves the old rows.

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

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analytics import sql
from analytics.models import DailyMetrics, ReportRun, RunStatus
from analytics.selectors import first_activity_day, local_today
from loyalty import locks
from loyalty.locks import Space
from membership.member_days import occurs_on
from membership.models import MemberDay


def _member_days(start: date, end: date) -> list[date]:
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    campaigns = list(MemberDay.objects.all())
    return [d for d in days if any(occurs_on(c, d) for c in campaigns)]


def reports_refresh(*, start: date, end: date) -> ReportRun:
    """Rebuild the daily, attribution and coupon rows of ``start..end`` and every month; idempotent."""
    run = ReportRun.objects.create(start=start, end=end, status=RunStatus.RUNNING)
    try:
        _refresh(run.pk, start=start, end=end, now=timezone.now(), member_days=_member_days(start, end))
    except Exception:
        ReportRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, finished_at=timezone.now())
        raise
    ReportRun.objects.filter(pk=run.pk).update(status=RunStatus.DONE, finished_at=timezone.now())
    run.refresh_from_db()
    return run


def _refresh(run_id: int, *, start: date, end: date, now: datetime, member_days: list[date]) -> None:
    tz = settings.TIME_ZONE
    with transaction.atomic(), sql.db_cursor() as cur:
        # A refresh holds its run's row while it works, so a run still "running" whose row nobody
        # holds was left by a killed worker: it never finishes and is marked failed (it changed
        # nothing: its work rolled back).  SKIP LOCKED passes over a refresh waiting for its turn (one
        # caught between creating its row and taking it is marked too, and set done when it ends).
        sql.lock_report_run(cur, run_id)
        locks.advisory_lock(Space.REPORT_REFRESH)  # one refresh at a time
        sql.report_runs_fail_abandoned(cur, run_id=run_id, now=now)
        sql.daily_delete(cur, start=start, end=end)
        sql.daily_insert(cur, start=start, end=end, tz=tz, now=now, member_days=member_days)
        sql.attribution_delete(cur, start=start, end=end)
        sql.attribution_insert(cur, start=start, end=end, tz=tz)
        sql.coupon_daily_delete(cur, start=start, end=end)
        sql.coupon_daily_insert(cur, start=start, end=end, tz=tz)
        sql.monthly_delete(cur)
        sql.monthly_insert(cur, tz=tz, now=now)


NIGHTLY_DAYS = 120


def reports_nightly() -> ReportRun:
    """Refresh the last 120 local days (refunds change recent days), or everything on the first run."""
    today = local_today()
    start = today - timedelta(days=NIGHTLY_DAYS)
    if not DailyMetrics.objects.exists():
        start = min(start, first_activity_day() or start)
    return reports_refresh(start=start, end=today)
