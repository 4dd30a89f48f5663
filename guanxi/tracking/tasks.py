"""Background jobs of the tracking app: thin wrappers around services, safe to retry."""

from django.tasks import task

from guanxi.tracking import services


@task()
def process_events(batch_size: int = services.DEFAULT_BATCH_SIZE) -> dict[str, int]:
    """Drain the landing backlog; queued by the ingestion endpoints (at most once a second per
    process) and by `manage.py process_events`. A second copy running at once waits on the
    checkpoint lock, so events are never processed twice."""
    return services.process_landed_events(batch_size=batch_size)
