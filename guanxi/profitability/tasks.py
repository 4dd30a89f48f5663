"""Background jobs for profitability: a thin wrapper around the run service, started by "Run now"."""

from typing import Any

from django.tasks import task

from guanxi.profitability import services
from guanxi.staff.models import User


@task()
def run_profitability(actor_id: int | None = None) -> dict[str, Any]:
    """Recompute every customer's profitability; returns the run's id and status."""
    actor = User.objects.get(pk=actor_id) if actor_id is not None else None
    run = services.run_profitability(actor)
    return {"run": run.pk, "status": run.status}
