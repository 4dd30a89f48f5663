"""Revenue by month as a server-drawn bar chart: geometry here, inline SVG in `_revenue_chart.html`.

No chart library, no script, no network; each bar carries its figure as a <title>, and the
totals above the chart give the exact numbers.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from guanxi.commerce.models import Order
from guanxi.commerce.queries import REVENUE_STATUSES

WIDTH = 600
HEIGHT = 140
BAR_GAP = 6
LABEL_SPACE = 18


@dataclass
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str
    value: Decimal


@dataclass
class MonthlyChart:
    width: int
    height: int
    bars: list[Bar]
    baseline: int
    largest: Decimal


def _month_starts(last: datetime.date, months: int) -> list[datetime.date]:
    starts = []
    year, month = last.year, last.month
    for _ in range(months):
        starts.append(datetime.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(starts))


def monthly_revenue(queryset: QuerySet[Order], months: int = 12, today: datetime.date | None = None) -> MonthlyChart:
    """Revenue (confirmed and fulfilled orders) of the last `months` calendar months, in one query."""
    today = today or timezone.localdate()
    starts = _month_starts(today, months)
    first = timezone.make_aware(datetime.datetime.combine(starts[0], datetime.time.min))
    rows = (
        queryset.filter(ordered_at__gte=first, status__in=REVENUE_STATUSES)
        .order_by()
        .annotate(month=TruncMonth("ordered_at"))
        .values("month")
        .annotate(revenue=Sum("total_amount"))
    )
    by_month: dict[datetime.date, Decimal] = {}
    for row in rows:
        month = row["month"]
        key = month.date() if isinstance(month, datetime.datetime) else month
        by_month[key] = by_month.get(key, Decimal(0)) + Decimal(row["revenue"] or 0)
    largest = max(by_month.values(), default=Decimal(0))
    slot = WIDTH // months
    area = HEIGHT - LABEL_SPACE
    bars = []
    for index, start in enumerate(starts):
        value = by_month.get(start, Decimal(0))
        height = int(area * value / largest) if largest > 0 else 0
        bars.append(
            Bar(
                x=index * slot + BAR_GAP // 2,
                y=area - height,
                width=slot - BAR_GAP,
                height=height,
                label=start.strftime("%y-%m"),
                value=value.quantize(Decimal("0.01")),
            )
        )
    return MonthlyChart(width=WIDTH, height=HEIGHT, bars=bars, baseline=area, largest=largest)
