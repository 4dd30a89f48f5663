"""Reads of the profitability app, with each customer's visibility applied (`staff.access`).

A stored row is visible when its customer is: the account's owner and team, or the person's
owner, decide, read live from the customer so a customer handed back to the pool shows as the
pool's at once, without waiting for the next run.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from guanxi.profitability.models import CustomerProfit, ProfitabilityRun, RunStatus
from guanxi.staff import access
from guanxi.staff.models import User

REVIEW_ORDERING = ("profit_cents", "revenue_cents", "cost_to_serve_cents", "name")
"""Sortable fields (the amounts' whole cents, see `CustomerProfit`), each indexed with the run and id."""


def latest_run() -> ProfitabilityRun | None:
    return ProfitabilityRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-id").first()


def runs() -> QuerySet[ProfitabilityRun]:
    return ProfitabilityRun.objects.select_related("created_by").order_by("-id")


def visible_q(user: Any) -> Q:
    account = Q(account__isnull=False) & access.visible_q(
        user, owner_field="account__owner", team_field="account__team"
    )
    person = Q(person__isnull=False) & access.visible_q(user, owner_field="person__owner")
    return account | person


def visible_rows(user: User, run: ProfitabilityRun | None) -> QuerySet[CustomerProfit]:
    if run is None:
        return CustomerProfit.objects.none()
    return CustomerProfit.objects.filter(visible_q(user), run=run)


def with_customers(rows: QuerySet[CustomerProfit]) -> QuerySet[CustomerProfit]:
    """What the list shows per row in the same query: the customer, its owner, its price list."""
    return rows.select_related(
        "account__owner",
        "account__assigned_price_list__price_list",
        "person__owner",
        "person__assigned_price_list__price_list",
    )


@dataclass(frozen=True)
class ReviewFilters:
    q: str = ""
    owner: int | None = None
    pool: bool = False
    team: int | None = None
    kind: str = ""
    losses_only: bool = True

    @classmethod
    def from_query(cls, data: Mapping[str, Any]) -> "ReviewFilters":
        def whole(name: str) -> int | None:
            raw = str(data.get(name) or "").strip()
            return int(raw) if raw.isdigit() else None

        owner_raw = str(data.get("owner") or "").strip()
        return cls(
            q=str(data.get("q") or "").strip()[:100],
            owner=whole("owner"),
            pool=owner_raw == "pool",
            team=whole("team"),
            kind=str(data.get("kind") or "") if data.get("kind") in ("account", "person") else "",
            losses_only=str(data.get("all") or "") not in ("1", "true", "on"),
        )

    @property
    def active(self) -> bool:
        return bool(self.q or self.owner or self.pool or self.team or self.kind or not self.losses_only)


def filter_rows(rows: QuerySet[CustomerProfit], filters: ReviewFilters) -> QuerySet[CustomerProfit]:
    if filters.losses_only:
        rows = rows.filter(profit_cents__lt=0)
    if filters.q:
        rows = rows.filter(name__icontains=filters.q)
    if filters.owner is not None:
        rows = rows.filter(Q(account__owner_id=filters.owner) | Q(person__owner_id=filters.owner))
    if filters.pool:
        rows = rows.filter(
            Q(account__isnull=False, account__owner__isnull=True) | Q(person__isnull=False, person__owner__isnull=True)
        )
    if filters.team is not None:
        rows = rows.filter(
            Q(account__owner__team_id=filters.team)
            | Q(account__team_id=filters.team)
            | Q(person__owner__team_id=filters.team)
        )
    if filters.kind == "account":
        rows = rows.filter(account__isnull=False)
    elif filters.kind == "person":
        rows = rows.filter(person__isnull=False)
    return rows


def row_for(user: User, *, account_id: int | None = None, person_id: int | None = None) -> CustomerProfit | None:
    """The customer's row in the latest run, if the user may see the customer."""
    run = latest_run()
    rows = visible_rows(user, run)
    if account_id is not None:
        return rows.filter(account_id=account_id).first()
    if person_id is not None:
        return rows.filter(person_id=person_id).first()
    return None
