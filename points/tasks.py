from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from loyalty.jobs import once_per_period
from points import ledger, reminders


@shared_task(name="points.expire_due", time_limit=3600, soft_time_limit=3300)
@once_per_period
def expire_due() -> int:
    return ledger.points_expire_due()


@shared_task(name="points.remind_expiring", time_limit=3600, soft_time_limit=3300)
@once_per_period
def remind_expiring() -> int:
    return reminders.points_remind_expiring()


@shared_task(name="points.archive", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 300)
@once_per_period
def archive(months: int = 24) -> int:
    """Not scheduled by default: a merchant whose live ledger has grown schedules it monthly (docs/scaling.md)."""
    before = timezone.now() - timedelta(days=round(months * 365.25 / 12))
    return ledger.points_archive(before=before).entries
