"""Reads for the analytics pages and API; each is one query (or a fixed few)."""

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from guanxi.analytics.models import AnalyticsRun, AssociationRuleResult, OfferSuggestion, RunKind, RunStatus
from guanxi.customers.models import Account, LifecycleChange, Person


def latest_run(kind: str) -> AnalyticsRun | None:
    return AnalyticsRun.objects.filter(kind=kind, status=RunStatus.SUCCEEDED).order_by("-id").first()


def runs() -> QuerySet[AnalyticsRun]:
    return AnalyticsRun.objects.select_related("created_by").order_by("-id")


def top_rules(limit: int = 10) -> list[AssociationRuleResult]:
    run = latest_run(RunKind.RULES)
    if run is None:
        return []
    return list(AssociationRuleResult.objects.filter(run=run).select_related("consequent").order_by("rank")[:limit])


def stage_counts() -> dict[str, int]:
    """Customers per lifecycle stage today, accounts and people together (two grouped queries)."""
    counts: dict[str, int] = {}
    for model in (Account, Person):
        for row in model.objects.order_by().values("lifecycle_stage").annotate(n=Count("id")):
            counts[row["lifecycle_stage"]] = counts.get(row["lifecycle_stage"], 0) + row["n"]
    return counts


def stage_flow(months: int = 12) -> list[dict[str, Any]]:
    """Moves into each stage per month over the last `months` months (one grouped query)."""
    since = timezone.now() - dt.timedelta(days=31 * months)
    rows = (
        LifecycleChange.objects.filter(changed_at__gte=since)
        .annotate(month=TruncMonth("changed_at"))
        .order_by()
        .values("month", "from_stage", "to_stage")
        .annotate(n=Count("id"))
        .order_by("month", "from_stage", "to_stage")
    )
    return [dict(row) for row in rows]


def offers_for(*, person_id: int | None = None, account_id: int | None = None, limit: int = 5) -> list[OfferSuggestion]:
    """The precomputed next offers of one customer: one read along (party, rank)."""
    qs = OfferSuggestion.objects.select_related("product")
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    elif account_id is not None:
        qs = qs.filter(account_id=account_id)
    else:
        return []
    return list(qs.order_by("rank")[:limit])


OFFER_COLUMNS = (
    "rank",
    "product_id",
    "product__name",
    "product__sku",
    "because",
    "because_names",
    "confidence",
    "lift",
)


def offer_rows(
    visible: Q, *, person_id: int | None = None, account_id: int | None = None, limit: int = 5
) -> list[dict[str, Any]]:
    """The next offers of one customer the caller may see, as plain rows, in one query.

    `visible` is the caller's visibility filter on the offer's customer (`person__...` or
    `account__...`); an empty filter (read-all roles) adds no join at all.
    """
    qs = OfferSuggestion.objects.filter(visible)
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    elif account_id is not None:
        qs = qs.filter(account_id=account_id)
    else:
        return []
    return list(qs.order_by("rank").values(*OFFER_COLUMNS)[:limit])
