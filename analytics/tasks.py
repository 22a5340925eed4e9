from celery import shared_task

from analytics import reports, rfm
from loyalty.jobs import once_per_period


@shared_task(name="analytics.run_rfm", time_limit=3600, soft_time_limit=3300)
def run_rfm(run_id: int) -> int:
    return rfm.rfm_run_execute(run_id=run_id).members_scored


@shared_task(name="analytics.rfm_nightly", time_limit=3600, soft_time_limit=3300)
@once_per_period
def rfm_nightly() -> int:
    rfm.rfm_runs_resume()
    return rfm.rfm_nightly().members_scored


@shared_task(name="analytics.refresh_reports", time_limit=3600, soft_time_limit=3300)
@once_per_period
def refresh_reports() -> int:
    return reports.reports_nightly().pk
