from celery import shared_task

from loyalty.jobs import once_per_period
from migration import export_jobs, imports


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


@shared_task(name="migration.run_export", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 300)
def run_export(job_id: int) -> int:
    return export_jobs.export_job_run(job_id=job_id).rows_done


@shared_task(name="migration.resume_exports", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 300)
@once_per_period
def resume_exports() -> int:
    return export_jobs.exports_resume()


@shared_task(name="migration.prune_exports")
@once_per_period
def prune_exports() -> int:
    return export_jobs.exports_prune()
