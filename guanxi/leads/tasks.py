"""Background jobs for leads: thin wrappers around services, safe to retry."""

from django.tasks import task

from guanxi.leads import services


@task()
def rescore_all_leads(batch_size: int = services.RESCORE_BATCH) -> dict[str, int]:
    """Rescore every lead after the scoring rules or grade bands change. Idempotent."""
    return {"changed": services.rescore_leads(batch_size=batch_size)}
