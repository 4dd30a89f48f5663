"""Read helpers that apply visibility: the list, the board, the forecast and the API start here.

Visibility is owner-based (`staff.access` with owner_field="owner"): a rep sees their own deals
and the unowned ones, a manager their teams' members' deals, admins and read-all roles all.
"""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from guanxi.customers.models import Address
from guanxi.sales.models import Opportunity, Pipeline, Quote, Stage, StageChange, StageKind
from guanxi.staff import access
from guanxi.staff.models import User

OPPORTUNITY_ORDERING = ("created_at", "updated_at", "name", "amount")
BOARD_CARDS_PER_COLUMN = 50
MONEY = DecimalField(max_digits=20, decimal_places=2)
ZERO = Value(Decimal("0"), output_field=MONEY)


def visible_opportunities(user: User) -> QuerySet[Opportunity]:
    return Opportunity.objects.filter(access.visible_q(user))


def visible_opportunity_branches(user: User) -> list[Q]:
    return access.visible_branches(user)


def editable_opportunities(user: User) -> QuerySet[Opportunity]:
    return Opportunity.objects.filter(access.editable_q(user))


def active_pipelines() -> QuerySet[Pipeline]:
    return Pipeline.objects.filter(is_active=True).order_by("-is_default", "position", "name")


# ---------------------------------------------------------------------------------------------
# Filters shared by the list, the board, the forecast and the API


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _date(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass
class OpportunityFilters:
    q: str = ""
    pipeline: int | None = None
    stage: int | None = None
    status: str = ""
    owner: str = ""  # a user id, "me" or "pool"
    team: int | None = None
    close_from: datetime.date | None = None
    close_to: datetime.date | None = None

    @classmethod
    def from_query(cls, data: Mapping[str, Any]) -> "OpportunityFilters":
        status = str(data.get("status") or "")
        owner = str(data.get("owner") or "")
        return cls(
            q=str(data.get("q") or "").strip()[:100],
            pipeline=_int(data.get("pipeline")),
            stage=_int(data.get("stage")),
            status=status if status in StageKind.values else "",
            owner=owner if owner in ("me", "pool") or owner.isdigit() else "",
            team=_int(data.get("team")),
            close_from=_date(data.get("close_from")),
            close_to=_date(data.get("close_to")),
        )

    @property
    def is_filtered(self) -> bool:
        return any(
            (self.q, self.pipeline, self.stage, self.status, self.owner, self.team, self.close_from, self.close_to)
        )


def filter_opportunities(
    queryset: QuerySet[Opportunity], filters: OpportunityFilters, user: User, *, period: bool = True
) -> QuerySet[Opportunity]:
    if filters.q:
        queryset = queryset.filter(
            Q(name__icontains=filters.q) | Q(account__name__icontains=filters.q) | Q(person__full_name=filters.q)
        )
    if filters.pipeline:
        queryset = queryset.filter(pipeline_id=filters.pipeline)
    if filters.stage:
        queryset = queryset.filter(stage_id=filters.stage)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.owner == "me":
        queryset = queryset.filter(owner=user)
    elif filters.owner == "pool":
        queryset = queryset.filter(owner__isnull=True)
    elif filters.owner:
        queryset = queryset.filter(owner_id=int(filters.owner))
    if filters.team:
        queryset = queryset.filter(owner__team_id=filters.team)
    if period and filters.close_from:
        queryset = queryset.filter(expected_close_date__gte=filters.close_from)
    if period and filters.close_to:
        queryset = queryset.filter(expected_close_date__lte=filters.close_to)
    return queryset


def list_rows(queryset: QuerySet[Opportunity]) -> QuerySet[Opportunity]:
    return queryset.select_related("account", "person", "stage", "pipeline", "owner")


# ---------------------------------------------------------------------------------------------
# The board


@dataclass
class Column:
    stage: Stage
    count: int
    total: Decimal
    weighted: Decimal
    cards: list[Opportunity]
    move_options: str = ""  # the board's rendered "Move to" <option>s, set by the view

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.cards))


def board_columns(
    pipeline: Pipeline, queryset: QuerySet[Opportunity], *, cards_per_column: int = BOARD_CARDS_PER_COLUMN
) -> list[Column]:
    """Each stage's count and totals in one GROUP BY, then each stage's first cards by close date.

    Every card query is an index range on (stage, expected_close_date, id), so the board costs
    the same with 200 deals or 200,000.
    """
    stages = list(pipeline.stages.order_by("position", "id"))
    in_pipeline = queryset.filter(pipeline=pipeline)
    totals = {
        row["stage_id"]: row
        for row in in_pipeline.order_by()
        .values("stage_id")
        .annotate(
            n=Count("id"),
            total=Coalesce(Sum("amount"), ZERO),
            weighted=Coalesce(
                Sum(ExpressionWrapper(F("amount") * F("probability") / 100, output_field=MONEY)),
                ZERO,
            ),
        )
    }
    columns = []
    for stage in stages:
        row = totals.get(stage.pk)
        count = row["n"] if row else 0
        cards: list[Opportunity] = []
        if count:
            cards = list(
                queryset.filter(stage=stage)
                .select_related("account", "person", "owner")
                .order_by(F("expected_close_date").asc(nulls_last=True), "id")[:cards_per_column]
            )
        columns.append(
            Column(
                stage=stage,
                count=count,
                total=row["total"] if row else Decimal("0"),
                weighted=row["weighted"] if row else Decimal("0"),
                cards=cards,
            )
        )
    return columns


# ---------------------------------------------------------------------------------------------
# The forecast


@dataclass
class Forecast:
    by_month: list[dict[str, Any]]
    by_owner: list[dict[str, Any]]
    by_team: list[dict[str, Any]]
    won_count: int
    lost_count: int
    won_amount: Decimal
    win_rate: float | None
    average_deal: Decimal | None
    cycle_days: float | None
    stage_days: list[dict[str, Any]]
    by_source: list[dict[str, Any]]
    by_region: list[dict[str, Any]]


def _money_sums() -> dict[str, Any]:
    """Open pipeline, weighted and committed amounts, and won amounts, as one aggregate's parts."""
    open_ = Q(status=StageKind.OPEN)
    return {
        "pipeline": Coalesce(Sum("amount", filter=open_), ZERO),
        "weighted": Coalesce(
            Sum(ExpressionWrapper(F("amount") * F("probability") / 100, output_field=MONEY), filter=open_), ZERO
        ),
        "committed": Coalesce(Sum("amount", filter=open_ & Q(is_committed=True)), ZERO),
        "won": Coalesce(Sum("amount", filter=Q(status=StageKind.WON)), ZERO),
    }


def _rows(values: Any) -> list[dict[str, Any]]:
    """Plain dicts from a values() queryset (django-stubs types each as a fixed TypedDict)."""
    return [dict(row) for row in values]


def forecast(queryset: QuerySet[Opportunity]) -> Forecast:
    """Every figure of the forecast page from a handful of GROUP BYs over the filtered deals.

    Months, owners and teams group by the expected close date; win rate, deal size and sales
    cycle count the deals closed (won or lost) among them.
    """
    base = queryset.order_by()
    by_month = _rows(
        base.filter(expected_close_date__isnull=False)
        .annotate(month=TruncMonth("expected_close_date"))
        .values("month")
        .annotate(**_money_sums())
        .order_by("month")
    )
    owners: Any = base.values("owner_id", "owner__username", "owner__first_name", "owner__last_name")
    by_owner = sorted(_rows(owners.annotate(**_money_sums())), key=lambda row: -row["weighted"])
    teams: Any = base.values("owner__team_id", "owner__team__name")
    by_team = sorted(_rows(teams.annotate(**_money_sums())), key=lambda row: -row["weighted"])
    closed = base.filter(status__in=[StageKind.WON, StageKind.LOST])
    outcome = closed.aggregate(
        won_count=Count("id", filter=Q(status=StageKind.WON)),
        lost_count=Count("id", filter=Q(status=StageKind.LOST)),
        won_amount=Coalesce(Sum("amount", filter=Q(status=StageKind.WON)), ZERO),
        average_deal=Avg("amount", filter=Q(status=StageKind.WON)),
        cycle=Avg(F("closed_at") - F("created_at"), filter=Q(status=StageKind.WON)),
    )
    won_count, lost_count = outcome["won_count"], outcome["lost_count"]
    cycle = outcome["cycle"]
    cycle_days = None
    if cycle is not None:
        cycle_days = cycle.total_seconds() / 86400 if isinstance(cycle, datetime.timedelta) else float(cycle) / 86.4e9
    stage_days = _rows(
        StageChange.objects.filter(opportunity__in=base.values("pk"), seconds_in_from_stage__isnull=False)
        .order_by()
        .values("from_stage_id", "from_stage__name", "from_stage__position")
        .annotate(seconds=Avg("seconds_in_from_stage"), moves=Count("id"))
        .order_by("from_stage__position")
    )
    for row in stage_days:
        row["days"] = float(row["seconds"] or 0) / 86400
    by_source = _rows(
        base.values("source")
        .annotate(
            total=Count("id"),
            won=Count("id", filter=Q(status=StageKind.WON)),
            lost=Count("id", filter=Q(status=StageKind.LOST)),
            won_amount=Coalesce(Sum("amount", filter=Q(status=StageKind.WON)), ZERO),
        )
        .order_by("-total")
    )
    first_region = Address.objects.filter(account=OuterRef("account_id")).order_by("id").values("region")[:1]
    by_region = _rows(
        base.annotate(region=Coalesce(Subquery(first_region), Value("")))
        .values("region")
        .annotate(
            total=Count("id"),
            won=Count("id", filter=Q(status=StageKind.WON)),
            lost=Count("id", filter=Q(status=StageKind.LOST)),
            won_amount=Coalesce(Sum("amount", filter=Q(status=StageKind.WON)), ZERO),
        )
        .order_by("-total")
    )
    for row in (*by_source, *by_region):
        decided = row["won"] + row["lost"]
        row["win_rate"] = row["won"] / decided if decided else None
    return Forecast(
        by_month=by_month,
        by_owner=by_owner,
        by_team=by_team,
        won_count=won_count,
        lost_count=lost_count,
        won_amount=outcome["won_amount"],
        win_rate=won_count / (won_count + lost_count) if won_count + lost_count else None,
        average_deal=outcome["average_deal"],
        cycle_days=cycle_days,
        stage_days=stage_days,
        by_source=by_source,
        by_region=by_region,
    )


def default_period(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """This calendar year: what a sales team forecasts by default."""
    today = today or timezone.localdate()
    return datetime.date(today.year, 1, 1), datetime.date(today.year, 12, 31)


# ---------------------------------------------------------------------------------------------
# Quotes


QUOTE_ORDERING = ("created_at", "updated_at")


def visible_quotes(user: User) -> QuerySet[Quote]:
    return Quote.objects.filter(access.visible_q(user))


def editable_quotes(user: User) -> QuerySet[Quote]:
    return Quote.objects.filter(access.editable_q(user))
