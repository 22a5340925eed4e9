from celery import shared_task

from loyalty.jobs import once_per_period
from migration import imports


@shared_task(name="migration.commit_import", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 300)
def commit_import(job_id: int) -> int:
    return imports.import_commit_run(job_id=job_id).committed_rows


@shared_task(name="migration.dry_run_import", time_limit=3 * 3600, soft_time_limit=3 * 3600 - 300)
def dry_run_import(job_id: int) -> int:
    return imports.import_dry_run(job_id=job_id).error_rows


@shared_task(name="migration.resume_imports", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 300)
@once_per_period
def resume_imports() -> int:
    return imports.imports_resume()
