from celery import shared_task

from mall import services


@shared_task(name="mall.auto_complete", time_limit=1800, soft_time_limit=1700)
def auto_complete() -> int:
    return services.redemptions_auto_complete()
