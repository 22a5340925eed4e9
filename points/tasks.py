from celery import shared_task

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
