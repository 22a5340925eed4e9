from celery import shared_task

from points import ledger, reminders


@shared_task(name="points.expire_due", time_limit=3600, soft_time_limit=3300)
def expire_due() -> int:
    return ledger.points_expire_due()


@shared_task(name="points.remind_expiring", time_limit=3600, soft_time_limit=3300)
def remind_expiring() -> int:
    return reminders.points_remind_expiring()
