from celery import shared_task

from growth import bargains, services
from loyalty.jobs import once_per_period


@shared_task(name="growth.fail_expired_groups", time_limit=600, soft_time_limit=540)
@once_per_period
def fail_expired_groups() -> int:
    failed = services.groups_fail_expired()
    services.places_refund_unfulfilled()
    return failed


@shared_task(name="growth.refund_unfulfilled", time_limit=60, soft_time_limit=50)
def refund_unfulfilled(place_id: int) -> bool:
    return services.place_refund_unfulfilled(place_id=place_id)


@shared_task(name="growth.expire_bargains", time_limit=600, soft_time_limit=540)
@once_per_period
def expire_bargains() -> int:
    return bargains.bargains_expire()
