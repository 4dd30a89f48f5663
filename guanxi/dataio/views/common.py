"""What the import and export pages share: the job progress partial's JSON."""

from django.http import JsonResponse

from guanxi.dataio.models import BackgroundJob


def job_progress_response(job: BackgroundJob) -> JsonResponse:
    """The state `app.js` polls for `[data-job-url]` elements; it reloads the page when finished."""
    return JsonResponse(
        {
            "status": job.status,
            "status_label": str(job.get_status_display()),
            "processed": job.processed,
            "total": job.total,
            "percent": job.percent,
            "finished": job.is_finished,
        }
    )
