from celery import shared_task

from loyalty.jobs import once_per_period
from members import codes


@shared_task(name="members.prune_member_codes", time_limit=600, soft_time_limit=540)
@once_per_period
def prune_member_codes() -> int:
    return codes.member_codes_prune()
