from celery import shared_task

from coupons import services
from loyalty.jobs import once_per_period


@shared_task(name="coupons.run_bulk_issue", time_limit=3600, soft_time_limit=3300)
def run_bulk_issue(bulk_issue_id: int) -> int:
    return services.bulk_issue_run(bulk_issue_id=bulk_issue_id).issued


@shared_task(name="coupons.resume_bulk_issues", time_limit=3600, soft_time_limit=3300)
@once_per_period
def resume_bulk_issues() -> int:
    return services.bulk_issues_resume()


@shared_task(name="coupons.expire_due", time_limit=3600, soft_time_limit=3300)
@once_per_period
def expire_due() -> int:
    return services.coupons_expire_due()


@shared_task(name="coupons.release_stale_locks", time_limit=600, soft_time_limit=540)
@once_per_period
def release_stale_locks() -> int:
    return services.coupons_release_stale_locks()


@shared_task(name="coupons.remind_expiring", time_limit=3600, soft_time_limit=3300)
@once_per_period
def remind_expiring() -> int:
    return services.coupons_remind_expiring()
