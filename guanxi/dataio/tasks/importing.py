"""The background job that checks or runs an import: a thin wrapper around the import service.

The service does the work in batches and records progress on the job, so the web page, the API
and the command line all read the same state. The task only looks the job up and hands it over;
a job that has already finished is left alone, so a retried or duplicated task changes nothing.
"""

from typing import Any

from django.tasks import task

from guanxi.dataio.models import ImportJob
from guanxi.dataio.services import importing


@task()
def run_import(job_id: int, dry_run: bool) -> dict[str, Any]:
    """Check (dry run) or import the job's file; returns the job's outcome for the task record."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.is_finished:
        return {"job": job_id, "left_alone": True}
    job = importing.run_import(job_id, dry_run=dry_run)
    return {
        "job": job.pk,
        "status": job.status,
        "stage": job.stage,
        "created": job.created_count,
        "updated": job.updated_count,
        "skipped": job.skipped_count,
        "rejected": job.rejected_count,
    }
