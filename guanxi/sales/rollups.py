"""The running sums behind the board and the forecast, and how the services keep them true.

Every service that changes deals wraps its write in `kept(deals)`: the deals' contributions
are summed before and after the write (a few GROUP BYs over just those deals) and the
difference is added to `OpportunityRollup` with one upsert per changed key, so concurrent
writers add up instead of overwriting each other. `rebuild()` recomputes everything from the
deals (after a bulk load, or if `manage.py sales_rollups --check` ever finds drift).

Readers ask for sums over whole close months from the rollup and add the deals of partial
months (a period that starts or ends inside a month) from the deals themselves, so every
period is exact.
"""

import datetime
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Count, DecimalField, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth

from guanxi.sales.models import Opportunity, OpportunityRollup, RollupDimension, StageChange, StageKind

NO_CLOSE_DATE = datetime.date(1, 1, 1)
"""The month key of deals without an expected close date."""

WEIGHTED = DecimalField(max_digits=24, decimal_places=4)

Key = tuple[str, str, int, int, str, int, datetime.date, bool]
"""dimension, value, pipeline, stage, status, owner (0 = pool), close month, committed."""


@dataclass
class Sums:
    deals: int = 0
    amount: Decimal = Decimal("0")
    weighted: Decimal = Decimal("0")
    duration_us: int = 0

    def __iadd__(self, other: "Sums") -> "Sums":
        self.deals += other.deals
        self.amount += other.amount
        self.weighted += other.weighted
        self.duration_us += other.duration_us
        return self

    def minus(self, other: "Sums") -> "Sums":
        return Sums(
            self.deals - other.deals,
            self.amount - other.amount,
            self.weighted - other.weighted,
            self.duration_us - other.duration_us,
        )

    def __bool__(self) -> bool:
        return bool(self.deals or self.amount or self.weighted or self.duration_us)


def _dicts(rows: Any) -> Iterable[dict[str, Any]]:
    """A values() queryset's rows as plain dicts (django-stubs types each as a fixed TypedDict)."""
    return cast("Iterable[dict[str, Any]]", rows)


def _microseconds(value: datetime.timedelta | int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime.timedelta):
        return value // datetime.timedelta(microseconds=1)
    return int(value)


def _month(value: datetime.date | datetime.datetime | None) -> datetime.date:
    if value is None:
        return NO_CLOSE_DATE
    return datetime.date(value.year, value.month, 1)


def contributions(
    deals: QuerySet[Opportunity], *, only_deals: bool = False, stage_changes: type[StageChange] = StageChange
) -> dict[Key, Sums]:
    """What `deals` add to each rollup key, from four GROUP BYs over them (one with `only_deals`)."""
    base = deals.order_by().annotate(owner_key=Coalesce("owner_id", 0), month=TruncMonth("expected_close_date"))
    result: dict[Key, Sums] = {}

    def add(key: Key, sums: Sums) -> None:
        result.setdefault(key, Sums()).__iadd__(sums)

    won = Q(status=StageKind.WON, closed_at__isnull=False)
    for row in _dicts(
        base.values("pipeline_id", "stage_id", "status", "owner_key", "month", "is_committed").annotate(
            n=Count("id"),
            total=Sum("amount"),
            weight=Sum(ExpressionWrapper(F("amount") * F("probability") / 100, output_field=WEIGHTED)),
            cycle=Sum(ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField()), filter=won),
        )
    ):
        key = (
            RollupDimension.DEALS.value,
            "",
            row["pipeline_id"],
            row["stage_id"],
            row["status"],
            row["owner_key"],
            _month(row["month"]),
            row["is_committed"],
        )
        add(
            key,
            Sums(row["n"], row["total"] or Decimal("0"), row["weight"] or Decimal("0"), _microseconds(row["cycle"])),
        )
    if only_deals:
        return result
    for dimension, column in ((RollupDimension.SOURCE, "source"), (RollupDimension.REGION, "region")):
        for row in _dicts(
            base.values("pipeline_id", "status", "owner_key", "month", column).annotate(
                n=Count("id"), total=Sum("amount")
            )
        ):
            key = (
                dimension.value,
                row[column],
                row["pipeline_id"],
                0,
                row["status"],
                row["owner_key"],
                _month(row["month"]),
                False,
            )
            add(key, Sums(row["n"], row["total"] or Decimal("0")))
    moves = (
        stage_changes.objects.filter(
            opportunity__in=deals.order_by().values("pk"),
            from_stage__isnull=False,
            seconds_in_from_stage__isnull=False,
        )
        .order_by()
        .annotate(owner_key=Coalesce("opportunity__owner_id", 0), month=TruncMonth("opportunity__expected_close_date"))
        .values("opportunity__pipeline_id", "from_stage_id", "owner_key", "month")
        .annotate(n=Count("id"), seconds=Sum("seconds_in_from_stage"))
    )
    for row in _dicts(moves):
        key = (
            RollupDimension.STAGE_TIME.value,
            "",
            row["opportunity__pipeline_id"],
            row["from_stage_id"],
            "",
            row["owner_key"],
            _month(row["month"]),
            False,
        )
        add(key, Sums(row["n"], duration_us=int(row["seconds"] or 0) * 1_000_000))
    return result


_COLUMNS = "dimension, value, pipeline_key, stage_key, status, owner_key, close_month, is_committed"
_UPSERT = (
    f"INSERT INTO sales_opportunityrollup ({_COLUMNS}, deals, amount, weighted, duration_us) "  # noqa: S608  -- constant names, values are parameters
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    f"ON CONFLICT ({_COLUMNS}) DO UPDATE SET "
    "deals = sales_opportunityrollup.deals + excluded.deals, "
    "amount = sales_opportunityrollup.amount + excluded.amount, "
    "weighted = sales_opportunityrollup.weighted + excluded.weighted, "
    "duration_us = sales_opportunityrollup.duration_us + excluded.duration_us"
)
_DELETE_EMPTY = (
    "DELETE FROM sales_opportunityrollup WHERE dimension = %s AND value = %s AND pipeline_key = %s "
    "AND stage_key = %s AND status = %s AND owner_key = %s AND close_month = %s AND is_committed = %s "
    "AND deals = 0"
)


def add(deltas: dict[Key, Sums]) -> None:
    """Add `deltas` to the stored sums (one upsert per key), dropping keys left with no deal."""
    changed = [(key, sums) for key, sums in deltas.items() if sums]
    if not changed:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            _UPSERT,
            [(*key, sums.deals, sums.amount, sums.weighted, sums.duration_us) for key, sums in changed],
        )
        emptied = [key for key, sums in changed if sums.deals < 0]
        if emptied:
            cursor.executemany(_DELETE_EMPTY, emptied)


def difference(after: dict[Key, Sums], before: dict[Key, Sums]) -> dict[Key, Sums]:
    deltas = {key: sums.minus(before.get(key, Sums())) for key, sums in after.items()}
    for key, sums in before.items():
        if key not in after:
            deltas[key] = Sums().minus(sums)
    return deltas


@contextmanager
def kept(deals: QuerySet[Opportunity]) -> Iterator[None]:
    """Keep the sums true across a write to `deals` (a queryset that selects the same deals after it)."""
    with transaction.atomic():
        before = contributions(deals)
        yield
        add(difference(contributions(deals), before))


def include(deals: QuerySet[Opportunity]) -> None:
    """Count new deals in."""
    add(contributions(deals))


def rebuild(
    opportunities: type[Opportunity] = Opportunity,
    stage_changes: type[StageChange] = StageChange,
    rollup: type[OpportunityRollup] = OpportunityRollup,
) -> int:
    """Recompute every sum from the deals; returns the number of rollup rows.

    The model classes are parameters so the migration that adds the rollup can fill it with
    its historical models.
    """
    with transaction.atomic():
        rollup.objects.all().delete()
        sums = contributions(opportunities.objects.all(), stage_changes=stage_changes)
        rows = [_row(rollup, key, value) for key, value in sums.items() if value.deals]
        rollup.objects.bulk_create(rows, batch_size=2_000)
    return len(rows)


def _row(rollup: type[OpportunityRollup], key: Key, sums: Sums) -> OpportunityRollup:
    dimension, value, pipeline, stage, status, owner, month, committed = key
    return rollup(
        dimension=dimension,
        value=value,
        pipeline_key=pipeline,
        stage_key=stage,
        status=status,
        owner_key=owner,
        close_month=month,
        is_committed=committed,
        deals=sums.deals,
        amount=sums.amount,
        weighted=sums.weighted,
        duration_us=sums.duration_us,
    )


def stored() -> dict[Key, Sums]:
    return {
        (
            row.dimension,
            row.value,
            row.pipeline_key,
            row.stage_key,
            row.status,
            row.owner_key,
            row.close_month,
            row.is_committed,
        ): Sums(row.deals, row.amount, row.weighted, row.duration_us)
        for row in OpportunityRollup.objects.all()
    }


def drift(tolerance: Decimal = Decimal("0.01")) -> list[Key]:
    """Keys whose stored sums differ from the deals' (money within `tolerance`: SQLite adds floats)."""
    expected = contributions(Opportunity.objects.all())
    actual = {key: sums for key, sums in stored().items() if sums.deals}
    wrong = []
    for key in sorted(set(expected) | set(actual), key=str):
        gap = expected.get(key, Sums()).minus(actual.get(key, Sums()))
        if gap.deals or gap.duration_us or abs(gap.amount) > tolerance or abs(gap.weighted) > tolerance:
            wrong.append(key)
    return wrong


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class Period:
    """A close-date period cut into whole months (read from the rollup) and partial-month edges."""

    months: tuple[datetime.date, datetime.date] | None
    """First and last whole month; None when no whole month lies inside."""
    edges: tuple[tuple[datetime.date, datetime.date], ...] = ()
    unbounded: bool = False
    """No period at all: every month, deals without a close date included."""


def split_period(start: datetime.date | None, end: datetime.date | None) -> Period:
    if start is None and end is None:
        return Period(months=None, unbounded=True)
    low = start or datetime.date(1, 2, 1)  # after NO_CLOSE_DATE: a bounded period leaves undated deals out
    high = end or datetime.date.max
    if low > high:
        return Period(months=None)
    first_full = low if low.day == 1 else _next_month(low)
    # The first day after the last whole month: `high` itself when it is a month's last day.
    if high == datetime.date.max:
        full_until = None
    else:
        after_high = high + datetime.timedelta(days=1)
        full_until = after_high if after_high.day == 1 else _month(after_high)
    if full_until is not None and first_full >= full_until:
        return Period(months=None, edges=((low, high),))
    edges = []
    if low < first_full:
        edges.append((low, first_full - datetime.timedelta(days=1)))
    if full_until is not None and full_until <= high:
        edges.append((full_until, high))
    last_full = _month(high) if full_until is None else _month(full_until - datetime.timedelta(days=1))
    return Period(months=(first_full, last_full), edges=tuple(edges))


def _next_month(day: datetime.date) -> datetime.date:
    if (day.year, day.month) == (9999, 12):
        return datetime.date.max
    return datetime.date(day.year + day.month // 12, day.month % 12 + 1, 1)


@dataclass
class Scope:
    """Which rollup rows a reader may add up: owners it sees and filtered on, pipeline, period."""

    owner_keys: list[int] | None  # None: every owner
    pipeline: int | None
    period: Period

    def rows(self, dimension: RollupDimension) -> QuerySet[OpportunityRollup]:
        rows = OpportunityRollup.objects.filter(dimension=dimension)
        if self.owner_keys is not None:
            rows = rows.filter(owner_key__in=self.owner_keys)
        if self.pipeline:
            rows = rows.filter(pipeline_key=self.pipeline)
        if not self.period.unbounded:
            if self.period.months is None:
                return rows.none()
            rows = rows.filter(close_month__range=self.period.months)
        return rows.order_by()


def combine(*parts: Iterable[tuple[Any, Sums]]) -> dict[Any, Sums]:
    total: dict[Any, Sums] = {}
    for part in parts:
        for key, sums in part:
            total.setdefault(key, Sums()).__iadd__(sums)
    return total


@dataclass
class ForecastSums:
    """The forecast's additive parts; rates and averages are taken only after adding them up."""

    months: dict[datetime.date, list[Decimal]] = field(default_factory=dict)  # pipeline, weighted, committed, won
    owners: dict[int, list[Decimal]] = field(default_factory=dict)
    sources: dict[str, list[Decimal]] = field(default_factory=dict)  # total, won, lost, won amount
    regions: dict[str, list[Decimal]] = field(default_factory=dict)
    stages: dict[int, list[int]] = field(default_factory=dict)  # microseconds, moves
    won_count: int = 0
    lost_count: int = 0
    won_amount: Decimal = Decimal("0")
    cycle_us: int = 0

    def add_deals(self, status: str, owner: int, month: datetime.date, committed: bool, sums: Sums) -> None:
        money = [Decimal("0")] * 4
        if status == StageKind.OPEN:
            money[0], money[1] = sums.amount, sums.weighted
            if committed:
                money[2] = sums.amount
        elif status == StageKind.WON:
            money[3] = sums.amount
            self.won_count += sums.deals
            self.won_amount += sums.amount
            self.cycle_us += sums.duration_us
        elif status == StageKind.LOST:
            self.lost_count += sums.deals
        targets = [self.owners.setdefault(owner, [Decimal("0")] * 4)]
        if month != NO_CLOSE_DATE:
            targets.append(self.months.setdefault(month, [Decimal("0")] * 4))
        for target in targets:
            for i, value in enumerate(money):
                target[i] += value

    def add_conversion(self, table: dict[str, list[Decimal]], value: str, status: str, sums: Sums) -> None:
        row = table.setdefault(value, [Decimal("0")] * 4)
        row[0] += sums.deals
        if status == StageKind.WON:
            row[1] += sums.deals
            row[3] += sums.amount
        elif status == StageKind.LOST:
            row[2] += sums.deals

    def add_stage_time(self, stage: int, sums: Sums) -> None:
        row = self.stages.setdefault(stage, [0, 0])
        row[0] += sums.duration_us
        row[1] += sums.deals

    def add_contributions(self, parts: dict[Key, Sums]) -> None:
        for (dimension, value, _pipeline, stage, status, owner, month, committed), sums in parts.items():
            if dimension == RollupDimension.DEALS:
                self.add_deals(status, owner, month, committed, sums)
            elif dimension == RollupDimension.SOURCE:
                self.add_conversion(self.sources, value, status, sums)
            elif dimension == RollupDimension.REGION:
                self.add_conversion(self.regions, value, status, sums)
            else:
                self.add_stage_time(stage, sums)


def _sums(row: dict[str, Any]) -> Sums:
    return Sums(
        int(row["n"] or 0),
        Decimal(row["total"] or 0),
        Decimal(row.get("weight") or 0),
        int(row.get("duration") or 0),
    )


_MEASURES: dict[str, Any] = {
    "n": Sum("deals"),
    "total": Sum("amount"),
    "weight": Sum("weighted"),
    "duration": Sum("duration_us"),
}


def stage_totals(scope: Scope) -> list[tuple[int, Sums]]:
    """Deals, amount and weighted amount per stage over the scope's whole months."""
    rows = scope.rows(RollupDimension.DEALS).values("stage_key").annotate(**_MEASURES)
    return [(row["stage_key"], _sums(row)) for row in _dicts(rows)]


def forecast_sums(scope: Scope) -> ForecastSums:
    """The forecast's parts over the scope's whole months: four GROUP BYs over rollup rows."""
    result = ForecastSums()
    deals = (
        scope.rows(RollupDimension.DEALS)
        .values("status", "owner_key", "close_month", "is_committed")
        .annotate(**_MEASURES)
    )
    for row in _dicts(deals):
        result.add_deals(row["status"], row["owner_key"], row["close_month"], row["is_committed"], _sums(row))
    for dimension, table in ((RollupDimension.SOURCE, result.sources), (RollupDimension.REGION, result.regions)):
        for row in _dicts(scope.rows(dimension).values("value", "status").annotate(**_MEASURES)):
            result.add_conversion(table, row["value"], row["status"], _sums(row))
    for row in _dicts(scope.rows(RollupDimension.STAGE_TIME).values("stage_key").annotate(**_MEASURES)):
        result.add_stage_time(row["stage_key"], _sums(row))
    return result
