"""Reads for the analytics pages and API; each is one query (or a fixed few)."""

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from guanxi.analytics.models import (
    AccountHealth,
    AnalyticsRun,
    AssociationRuleResult,
    ChurnModel,
    CustomerScore,
    EngagementDefinition,
    OfferSuggestion,
    RunKind,
    RunStatus,
)
from guanxi.customers.models import Account, LifecycleChange, Person
from guanxi.staff import access


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


def latest_churn_model() -> ChurnModel | None:
    """The churn model of the latest successful scoring run."""
    return (
        ChurnModel.objects.filter(run__kind=RunKind.SCORING, run__status=RunStatus.SUCCEEDED)
        .select_related("run")
        .order_by("-run_id")
        .first()
    )


def definitions(limit: int = 20) -> list[EngagementDefinition]:
    """The engagement definition versions, newest (the one in force) first."""
    return list(EngagementDefinition.objects.select_related("created_by").order_by("-version")[:limit])


def party_visible_q(user: Any) -> Q:
    """Rows about an account or a person (`account`/`person` columns) that `user` may see."""
    accounts = access.visible_q(user, owner_field="account__owner", team_field="account__team")
    people = access.visible_q(user, owner_field="person__owner")
    return (Q(account__isnull=False) & accounts) | (Q(person__isnull=False) & people)


def owner_q(owner_id: int) -> Q:
    return Q(account__owner_id=owner_id) | Q(person__owner_id=owner_id)


def health_rows(user: Any, *, owner_id: int | None = None) -> QuerySet[AccountHealth]:
    """Contract customers' health the user may see, with the records and owners for display."""
    qs = AccountHealth.objects.filter(party_visible_q(user)).select_related(
        "account__owner", "person__owner", "account", "person"
    )
    if owner_id is not None:
        qs = qs.filter(owner_q(owner_id))
    return qs


def customer_scores(user: Any) -> QuerySet[CustomerScore]:
    return CustomerScore.objects.filter(party_visible_q(user)).select_related("definition")


def scores_of(
    *, account_id: int | None = None, person_id: int | None = None
) -> tuple[CustomerScore | None, AccountHealth | None]:
    """One customer's 4 I's (with their definition) and health, for the record page's panel."""
    if account_id is None and person_id is None:
        return None, None
    party = {"account_id": account_id} if account_id is not None else {"person_id": person_id}
    score = CustomerScore.objects.filter(**party).select_related("definition").first()
    health = AccountHealth.objects.filter(**party).first() if score is not None and score.is_contract else None
    return score, health
