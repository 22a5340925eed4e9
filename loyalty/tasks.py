from celery import shared_task

from loyalty import services
from loyalty.jobs import once_per_period


@shared_task(name="loyalty.purge_expired", time_limit=300, soft_time_limit=240)
@once_per_period
def purge_expired() -> dict[str, int]:
    """Hourly: drop replay-window nonces and idempotency records past retention."""
    return services.platform_purge_expired()
