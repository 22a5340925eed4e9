"""Once per period: a scheduled job runs once for each firing of its schedule.

Two beat processes started by mistake (or a beat restarted mid-minute, or an
operator's "run now" next to the beat) send the same periodic task twice.
Every job is idempotent, so the second run would change nothing, but it would
repeat the whole scan (the load), and a reminder job would re-evaluate every
member.  ``@once_per_period`` makes the duplicate a logged no-op:

* A trigger from celery beat carries the name of its schedule
  (``periodic_task_name`` in the message headers, set by django-celery-beat).
  The period it belongs to is the schedule's latest firing at or before now,
  in the schedule's time zone (the merchant's, ``TIME_ZONE``): for ``10 0 * * *``
  at 00:10:07 Asia/Shanghai that is today 00:10 local.
* The run claims ``(task name, period start)`` in ``JobRun``, a table with a
  unique constraint on that pair, and holds an advisory lock on the claim's
  row while it works (``locks.try_hold``: in a transaction left open on a
  connection of its own, so it holds behind a transaction-pooling PgBouncer
  too).  A second trigger finds the row: ``done`` -> skipped; locked ->
  another worker is on it, skipped.  Each skip is logged and
  counted on the row (``duplicates``).
* A worker killed half-way (SIGKILL, OOM, a lost machine) leaves the row
  ``running``, but its lock's connection closes and with it the advisory lock,
  so the next trigger in that period (or a manual rerun) takes the claim over
  and finishes the work.  A run that raised is ``failed`` and may run again
  too.  Only ``done`` closes the period.

Calls without the header (a task enqueued by code, eager calls in tests,
``manage.py shell``) are not scheduled firings and always run.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from celery import current_task
from django.conf import settings
from django.utils import timezone

from loyalty import locks, sql
from loyalty.locks import Space

log = logging.getLogger(__name__)


def once_per_period(func):
    """Run a scheduled task's body at most once per firing of its schedule (see the module doc)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        schedule = _schedule_name(getattr(current_task, "request", None))
        if not schedule:
            return func(*args, **kwargs)
        task = current_task.name
        period = period_start(schedule_name=schedule, now=timezone.now())
        claim = job_claim(task=task, schedule=schedule, period_start=period)
        if claim is None:
            return None
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            job_release(claim_id=claim, status="failed", error=repr(exc))
            raise
        job_release(claim_id=claim, status="done", result=result)
        return result

    wrapper.once_per_period = True  # tests check every scheduled task carries it
    return wrapper


def _schedule_name(request) -> str | None:
    """The beat schedule that sent this task, if beat sent it.

    A worker merges message headers into the request; an eager ``apply`` keeps them in ``headers``.
    """
    if request is None:
        return None
    return getattr(request, "periodic_task_name", None) or (getattr(request, "headers", None) or {}).get(
        "periodic_task_name"
    )


def period_start(*, schedule_name: str, now: datetime) -> datetime:
    """The start of the period ``now`` falls in, for the named django-celery-beat schedule.

    Crontab: the latest firing at or before ``now`` in the crontab's time zone.
    Interval: ``now`` floored to a multiple of the interval since the Unix epoch.
    Anything else (solar, clocked, a schedule deleted meanwhile): the minute.
    """
    from django_celery_beat.models import PeriodicTask

    entry = PeriodicTask.objects.select_related("crontab", "interval").filter(name=schedule_name).first()
    if entry is not None and entry.crontab is not None:
        fired = latest_crontab_firing(entry.crontab.schedule, now)
        if fired is not None:
            return fired
    if entry is not None and entry.interval is not None:
        every = entry.interval.schedule.run_every.total_seconds()
        if every >= 1:
            epoch = now.timestamp()
            return datetime.fromtimestamp(epoch - epoch % every, tz=ZoneInfo("UTC"))
    return now.replace(second=0, microsecond=0)


def latest_crontab_firing(cron, now: datetime) -> datetime | None:
    """The latest minute at or before ``now`` a Celery crontab fires, in the crontab's time zone.

    Celery crontabs match when minute, hour, day of month, month and day of
    week all match (day of week 0 = Sunday).  Walks back a day at a time, at
    most two years, so a schedule that never fires gives None.
    """
    zone = getattr(cron, "tz", None) or ZoneInfo(settings.TIME_ZONE)
    local = now.astimezone(zone).replace(second=0, microsecond=0, tzinfo=None)
    minutes, hours = sorted(cron.minute, reverse=True), sorted(cron.hour, reverse=True)
    day = local
    for _ in range(2 * 366 + 1):
        if (
            day.month in cron.month_of_year
            and day.day in cron.day_of_month
            and (day.weekday() + 1) % 7 in cron.day_of_week
        ):
            for hour in hours:
                if hour > day.hour:
                    continue
                for minute in minutes:
                    if hour < day.hour or minute <= day.minute:
                        return timezone.make_aware(day.replace(hour=hour, minute=minute), zone)
        day = day.replace(hour=23, minute=59) - timedelta(days=1)
    return None


def job_claim(*, task: str, schedule: str, period_start: datetime) -> int | None:
    """Claim ``(task, period_start)``; the JobRun id, or None when the period is done or taken.

    Runs in autocommit (each statement its own transaction) so the claim is
    visible at once; the advisory lock is held on a connection of its own and outlives them.
    """
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with sql.db_cursor() as cur:
        claim = sql.job_row(cur, task, schedule, period_start, worker)
        if not locks.try_hold(Space.JOB, claim):
            _skip(cur, claim, task, period_start, "another worker is running it")
            return None
        try:
            if sql.job_status(cur, claim) == "done":
                locks.let_go(Space.JOB, claim)
                _skip(cur, claim, task, period_start, "it already ran")
                return None
            sql.job_start(cur, claim, worker)
        except BaseException:
            locks.let_go(Space.JOB, claim)
            raise
    return claim


def job_release(*, claim_id: int, status: str, result=None, error: str = "") -> None:
    """Record how the claimed run ended and drop its advisory lock.

    A connection the job broke cannot record anything; the row stays ``running`` until a rerun
    takes it over.  The lock is let go whatever happens here.
    """
    try:
        payload = json.dumps(result, default=str)
    except (TypeError, ValueError):
        payload = json.dumps(repr(result))
    try:
        with sql.db_cursor() as cur:
            sql.job_end(cur, claim_id, status, payload, error[:500])
    except Exception:  # noqa: BLE001 - the job's outcome must not be masked by the bookkeeping
        log.exception("could not record the end of job run %s", claim_id)
    finally:
        locks.let_go(Space.JOB, claim_id)


def _skip(cur, claim: int, task: str, period: datetime, why: str) -> None:
    sql.job_duplicate(cur, claim)
    log.info("%s for the period starting %s skipped: %s", task, period.isoformat(), why)
