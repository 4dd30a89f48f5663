"""Background jobs for analytics: thin wrappers around the services, started from the run page."""

import datetime as dt
from typing import Any

from django.tasks import task

from guanxi.analytics import services
from guanxi.staff.models import User


def _actor(actor_id: int | None) -> User | None:
    return User.objects.get(pk=actor_id) if actor_id is not None else None


@task()
def run_scoring(actor_id: int | None = None, end: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Score every customer; `end` is an ISO timestamp (default: now). Returns the run's id and status."""
    run = services.run_scoring(_actor(actor_id), end=dt.datetime.fromisoformat(end) if end else None, seed=seed)
    return {"run": run.pk, "status": run.status}


@task()
def run_rules(actor_id: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Find association rules and refresh every customer's next offers."""
    run = services.run_rules(_actor(actor_id), seed=seed)
    return {"run": run.pk, "status": run.status}


@task()
def rebuild_purchase_summaries() -> dict[str, Any]:
    """Recompute every stored purchase summary from the orders: the weekly safety net for
    changes that do not move an order's `updated_at` (see `purchase_store`)."""
    report = services.refresh_purchase_summaries(None, rebuild=True)
    return {"customers": report.customers}
