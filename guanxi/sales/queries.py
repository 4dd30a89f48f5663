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
    F,
    Q,
    QuerySet,
)
from django.utils import timezone

from guanxi.sales import rollups
from guanxi.sales.models import Opportunity, Pipeline, Quote, Stage, StageKind
from guanxi.staff import access
from guanxi.staff.models import User

OPPORTUNITY_ORDERING = ("created_at", "updated_at", "name", "amount")
BOARD_CARDS_PER_COLUMN = 25  # the rest of a column is one click away, in the list filtered by stage
CENT = Decimal("0.01")


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
    cards_html: str = ""  # the cards' rendered markup, set by the view

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.cards))


def _scope(user: User, filters: OpportunityFilters, pipeline: int | None) -> rollups.Scope:
    """The rollup rows the filters select: the owners `user` sees and chose, the pipeline, the period."""
    visible = access.visible_owner_keys(user)
    chosen: list[int] | None = None
    if filters.owner == "me":
        chosen = [user.pk]
    elif filters.owner == "pool":
        chosen = [0]
    elif filters.owner:
        chosen = [int(filters.owner)]
    if filters.team:
        members = set(User.objects.filter(team_id=filters.team).values_list("pk", flat=True))
        chosen = sorted(members) if chosen is None else [key for key in chosen if key in members]
    if visible is not None:
        chosen = visible if chosen is None else [key for key in chosen if key in visible]
    return rollups.Scope(
        owner_keys=chosen, pipeline=pipeline, period=rollups.split_period(filters.close_from, filters.close_to)
    )


def _edge_deals(queryset: QuerySet[Opportunity], period: rollups.Period) -> QuerySet[Opportunity] | None:
    """The filtered deals closing in the period's partial months, which the rollup cannot tell apart."""
    if not period.edges:
        return None
    in_edges = Q()
    for low, high in period.edges:
        in_edges |= Q(expected_close_date__range=(low, high))
    return queryset.filter(in_edges)


def board_columns(
    pipeline: Pipeline,
    user: User,
    filters: OpportunityFilters,
    *,
    cards_per_column: int = BOARD_CARDS_PER_COLUMN,
) -> list[Column]:
    """Each stage's count and totals from the rollup, then each stage's first cards by close date.

    Totals read the rollup's rows for the pipeline (plus, for a period cutting through a month,
    that month's deals); a text search reads the matching deals themselves. Every card query is
    an index range on (stage, expected_close_date, id), so the board costs about the same with
    200 deals or 200,000.
    """
    stages = list(pipeline.stages.order_by("position", "id"))
    queryset = filter_opportunities(visible_opportunities(user), filters, user)
    in_pipeline = queryset.filter(pipeline=pipeline)
    if filters.q:
        found = rollups.contributions(in_pipeline, only_deals=True)
        totals = rollups.combine((key[3], sums) for key, sums in found.items())
    else:
        scope = _scope(user, filters, pipeline.pk)
        edges = _edge_deals(
            filter_opportunities(visible_opportunities(user), filters, user, period=False), scope.period
        )
        edge_sums = rollups.contributions(edges.filter(pipeline=pipeline), only_deals=True) if edges is not None else {}
        totals = rollups.combine(rollups.stage_totals(scope), ((key[3], sums) for key, sums in edge_sums.items()))
    columns = []
    for stage in stages:
        sums = totals.get(stage.pk, rollups.Sums())
        cards: list[Opportunity] = []
        if sums.deals > 0 and cards_per_column:
            cards = list(
                queryset.filter(stage=stage)
                .select_related("account", "person", "owner")
                .order_by(F("expected_close_date").asc(nulls_last=True), "id")[:cards_per_column]
            )
        columns.append(
            Column(
                stage=stage,
                count=sums.deals,
                total=sums.amount.quantize(CENT),
                weighted=sums.weighted.quantize(CENT),
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


def forecast(user: User, filters: OpportunityFilters) -> Forecast:
    """Every figure of the forecast page from the rollup (a few GROUP BYs over its rows).

    Months, owners and teams group by the expected close date; win rate, deal size and sales
    cycle count the deals closed (won or lost) among them. A text search, and the partial months
    at the ends of a period, are summed from the deals themselves.
    """
    queryset = filter_opportunities(visible_opportunities(user), filters, user)
    if filters.q:
        sums = rollups.ForecastSums()
        sums.add_contributions(rollups.contributions(queryset))
    else:
        scope = _scope(user, filters, filters.pipeline)
        sums = rollups.forecast_sums(scope)
        edges = _edge_deals(
            filter_opportunities(visible_opportunities(user), filters, user, period=False), scope.period
        )
        if edges is not None:
            sums.add_contributions(rollups.contributions(edges))
    return _finish(sums)


def _money_row(values: list[Decimal]) -> dict[str, Decimal]:
    pipeline, weighted, committed, won = (value.quantize(CENT) for value in values)
    return {"pipeline": pipeline, "weighted": weighted, "committed": committed, "won": won}


def _conversion_rows(table: dict[str, list[Decimal]], key: str) -> list[dict[str, Any]]:
    rows = []
    for value, (total, won, lost, won_amount) in table.items():
        decided = int(won + lost)
        rows.append(
            {
                key: value,
                "total": int(total),
                "won": int(won),
                "lost": int(lost),
                "won_amount": won_amount.quantize(CENT),
                "win_rate": int(won) / decided if decided else None,
            }
        )
    return sorted(rows, key=lambda row: (-row["total"], row[key]))


def _finish(sums: rollups.ForecastSums) -> Forecast:
    by_month = [{"month": month, **_money_row(values)} for month, values in sorted(sums.months.items())]
    users: dict[int, dict[str, Any]] = {
        row["pk"]: dict(row)
        for row in User.objects.filter(pk__in=[key for key in sums.owners if key]).values(
            "pk", "username", "first_name", "last_name", "team_id", "team__name"
        )
    }
    by_owner = []
    teams: dict[int | None, dict[str, Any]] = {}
    for key, values in sums.owners.items():
        person = users.get(key, {})
        by_owner.append(
            {
                "owner_id": key or None,
                "owner__username": person.get("username"),
                "owner__first_name": person.get("first_name"),
                "owner__last_name": person.get("last_name"),
                **_money_row(values),
            }
        )
        team = teams.setdefault(
            person.get("team_id"),
            {"owner__team_id": person.get("team_id"), "owner__team__name": person.get("team__name"), "money": []},
        )
        team["money"].append(values)
    by_team = []
    for team in teams.values():
        parts = team.pop("money")
        money = [sum((values[i] for values in parts), Decimal("0")) for i in range(4)]
        by_team.append({**team, **_money_row(money)})
    stage_names = {stage.pk: stage for stage in Stage.objects.filter(pk__in=list(sums.stages)).only("name", "position")}
    stage_days = []
    for stage_id, (microseconds, moves) in sums.stages.items():
        stage = stage_names.get(stage_id)
        seconds = microseconds / 1e6 / moves if moves else 0.0
        stage_days.append(
            {
                "from_stage_id": stage_id,
                "from_stage__name": stage.name if stage else "",
                "from_stage__position": stage.position if stage else 0,
                "seconds": seconds,
                "moves": moves,
                "days": seconds / 86400,
            }
        )
    stage_days.sort(key=lambda row: (row["from_stage__position"], row["from_stage_id"]))
    won, lost = sums.won_count, sums.lost_count
    return Forecast(
        by_month=by_month,
        by_owner=sorted(by_owner, key=lambda row: -row["weighted"]),
        by_team=sorted(by_team, key=lambda row: -row["weighted"]),
        won_count=won,
        lost_count=lost,
        won_amount=sums.won_amount.quantize(CENT),
        win_rate=won / (won + lost) if won + lost else None,
        average_deal=(sums.won_amount / won).quantize(CENT) if won else None,
        cycle_days=sums.cycle_us / won / 86400e6 if won else None,
        stage_days=stage_days,
        by_source=_conversion_rows(sums.sources, "source"),
        by_region=_conversion_rows(sums.regions, "region"),
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
