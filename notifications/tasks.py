from celery import shared_task

from loyalty.jobs import once_per_period
from notifications import services


@shared_task(name="notifications.send_wechat", time_limit=600, soft_time_limit=540)
def send_wechat(delivery_ids: list[int]) -> dict:
    return services.wechat_deliveries_send(delivery_ids=delivery_ids)


@shared_task(name="notifications.send_due_wechat", time_limit=600, soft_time_limit=540)
@once_per_period
def send_due_wechat() -> dict:
    return services.wechat_deliveries_send(limit=5000)
