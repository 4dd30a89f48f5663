"""Background jobs for exports: thin wrappers around `services.exporting`, safe to retry."""

from django.tasks import task

from guanxi.dataio.services import exporting


@task()
def run_export(job_id: int) -> str:
    """Write one export job's file. A job that is not waiting (done, cancelled, running) is left alone."""
    return str(exporting.run_export(job_id).status)


@task()
def delete_old_exports(keep_days: int | None = None) -> int:
    """Remove export files older than `keep_days` (EXPORT_KEEP_DAYS, 7 by default); run it daily."""
    return exporting.delete_old_exports(keep_days)
