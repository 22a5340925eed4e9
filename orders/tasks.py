from celery import shared_task

from loyalty.jobs import once_per_period
from orders import services


@shared_task(name="orders.cancel_expired", time_limit=600, soft_time_limit=540)
@once_per_period
def cancel_expired() -> int:
    return services.orders_cancel_expired()
