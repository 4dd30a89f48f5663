"""Background jobs for customer records: thin wrappers around services, safe to retry."""

from django.tasks import task

from guanxi.customers import services


@task()
def rebuild_search_index(batch_size: int = 2000) -> dict[str, int]:
    """Rebuild every record's search keys, e.g. after the key rules change. Idempotent."""
    return services.rebuild_search_index(batch_size=batch_size)
