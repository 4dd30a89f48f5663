"""Customer profitability arithmetic: cost to serve, profit, acquisition cost per customer (CAC)
and the CLV:CAC ratio, and the profit distribution.

Pure Python over `Decimal`, so money figures come out to the cent with no binary rounding; the
sums per customer are done in the database by the caller, which hands over one row per customer.

Definitions (the same words as on the pages):
- revenue: the orders' worth before discounts (quantity × unit price, tax excluded);
- discounts: line and order discounts given;
- cost to serve: follow-up records × their kind's cost + service tickets × the ticket cost;
- profit = revenue − discounts − cost to serve (each discount subtracted once);
- CAC of a source and cohort month = what was spent on that source that month ÷ customers
  acquired from it that month (none when nobody was acquired);
- CLV:CAC = the cohort's average predicted lifetime value ÷ its CAC (none without a CAC or
  without any predicted value). Above 3 is usually read as healthy, below 1 as losing money.
"""

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0")


def money(value: Decimal | int | None) -> Decimal:
    """To the cent, half up as accountants round; None counts as zero."""
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def activity_cost(counts: Mapping[str, int], costs: Mapping[str, Decimal]) -> Decimal:
    """Follow-up records by kind × each kind's cost; a kind without a cost costs nothing."""
    return money(sum((costs.get(kind, ZERO) * n for kind, n in counts.items()), ZERO))


def cost_to_serve(activity: Decimal, tickets: int, ticket_cost: Decimal) -> Decimal:
    return money(activity + ticket_cost * tickets)


def profit(revenue: Decimal, discounts: Decimal, serve: Decimal) -> Decimal:
    """Revenue before discounts, less the discounts, less the cost to serve."""
    return money(revenue - discounts - serve)


def month_start(day: dt.date) -> dt.date:
    return dt.date(day.year, day.month, 1)


def cac(spent: Decimal, customers: int) -> Decimal | None:
    """Acquisition cost per customer acquired; None when nobody was acquired."""
    return money(spent / customers) if customers > 0 else None


def clv_to_cac(average_clv: Decimal | None, per_customer: Decimal | None) -> float | None:
    """How many times a customer's predicted value covers what winning them cost."""
    if average_clv is None or per_customer is None or per_customer <= 0:
        return None
    return round(float(average_clv / per_customer), 4)


@dataclass(frozen=True, slots=True)
class AcquisitionRow:
    source: str
    cohort: dt.date | None
    """The month acquired; None on a source's all-months total."""
    spent: Decimal
    customers: int
    cac: Decimal | None
    average_clv: Decimal | None
    """Mean predicted lifetime value of the customers that have one."""
    clv_to_cac: float | None


@dataclass(frozen=True, slots=True)
class Acquired:
    """One customer as acquisition counts them: where from, which month, what they are predicted to be worth."""

    source: str
    cohort: dt.date
    predicted_clv: Decimal | None


def _row(source: str, cohort: dt.date | None, spent: Decimal, members: Sequence[Decimal | None]) -> AcquisitionRow:
    values = [v for v in members if v is not None]
    average = money(sum(values, ZERO) / len(values)) if values else None
    per_customer = cac(spent, len(members))
    return AcquisitionRow(
        source=source,
        cohort=cohort,
        spent=money(spent),
        customers=len(members),
        cac=per_customer,
        average_clv=average,
        clv_to_cac=clv_to_cac(average, per_customer),
    )


def acquisition_table(
    spending: Mapping[tuple[str, dt.date], Decimal], customers: Iterable[Acquired]
) -> tuple[list[AcquisitionRow], list[AcquisitionRow]]:
    """Per (source, cohort month) rows, and per-source totals over all months.

    Every month with spending or with customers gets a row, so money spent without result
    shows (CAC none: nobody acquired) as well as customers won for free (CAC 0).
    """
    members: dict[tuple[str, dt.date], list[Decimal | None]] = {}
    for customer in customers:
        members.setdefault((customer.source, month_start(customer.cohort)), []).append(customer.predicted_clv)
    spent = {(source, month_start(month)): amount for (source, month), amount in spending.items()}
    keys = sorted(set(members) | set(spent), key=lambda key: (key[0], key[1]))
    rows = [
        _row(source, month, spent.get((source, month), ZERO), members.get((source, month), []))
        for source, month in keys
    ]
    totals = []
    for source in sorted({source for source, _ in keys}):
        source_keys = [key for key in keys if key[0] == source]
        totals.append(
            _row(
                source,
                None,
                sum((spent.get(key, ZERO) for key in source_keys), ZERO),
                [clv for key in source_keys for clv in members.get(key, [])],
            )
        )
    return rows, totals


@dataclass(frozen=True, slots=True)
class Bin:
    low: Decimal
    high: Decimal
    customers: int


def _edges(low: Decimal, high: Decimal, count: int) -> list[Decimal]:
    step = (high - low) / count
    return [money(low + step * i) for i in range(count)] + [money(high)]


def histogram(values: Sequence[Decimal], bins: int = 12) -> list[Bin]:
    """Customers per profit range; zero is always an edge, so losses and profits never share a bar.

    The last bin includes its upper edge. No values: no bins.
    """
    if not values:
        return []
    low, high = min(values), max(values)
    if low == high:
        return [Bin(money(low), money(high), len(values))]
    bins = max(bins, 2)
    if low < 0 < high:
        negative = min(bins - 1, max(1, round(bins * float(-low / (high - low)))))
        edges = _edges(low, ZERO, negative)[:-1] + _edges(ZERO, high, bins - negative)
    else:
        edges = _edges(low, high, bins)
    counts = [0] * (len(edges) - 1)
    last = len(counts) - 1
    for value in values:
        counts[min(max(bisect_right(edges, value) - 1, 0), last)] += 1
    return [Bin(edges[i], edges[i + 1], counts[i]) for i in range(len(counts))]


@dataclass(frozen=True, slots=True)
class Totals:
    customers: int
    revenue: Decimal
    discounts: Decimal
    cost_to_serve: Decimal
    profit: Decimal
    loss_customers: int
    loss: Decimal
    """The sum of the losses of the customers served at a loss (a negative number or zero)."""


def totals(rows: Iterable[tuple[Decimal, Decimal, Decimal, Decimal]]) -> Totals:
    """Sums over (revenue, discounts, cost to serve, profit) rows."""
    n = losers = 0
    revenue = discounts = serve = total = loss = ZERO
    for r, d, c, p in rows:
        n += 1
        revenue += r
        discounts += d
        serve += c
        total += p
        if p < 0:
            losers += 1
            loss += p
    return Totals(n, money(revenue), money(discounts), money(serve), money(total), losers, money(loss))
