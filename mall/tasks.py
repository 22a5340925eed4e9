from celery import shared_task

from loyalty.jobs import once_per_period
from mall import services


@shared_task(name="mall.auto_complete", time_limit=1800, soft_time_limit=1700)
@once_per_period
def auto_complete() -> int:
    return services.redemptions_auto_complete()
