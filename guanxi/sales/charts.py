"""Server-drawn bar charts: geometry computed here, drawn as inline SVG by `sales/_bars.html`.

No chart library, no script, no network: the page prints and reads the same without JavaScript,
and the numbers sit in a table beside each chart.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

LABEL_WIDTH = 150
BAR_AREA = 420
ROW_GAP = 8
BAR_HEIGHT = 12


@dataclass
class Bar:
    x: int
    y: int
    width: int
    height: int
    series: int
    value: float
    text: str


@dataclass
class Row:
    label: str
    y: int
    bars: list[Bar] = field(default_factory=list)


@dataclass
class Chart:
    width: int
    height: int
    label_width: int
    rows: list[Row]
    series: list[str]


def _text(value: float | Decimal) -> str:
    number = float(value)
    if abs(number) >= 10_000:
        return f"{number / 10_000:,.1f}万"
    return f"{number:,.0f}" if number == int(number) else f"{number:,.1f}"


def hbars(rows: Sequence[tuple[str, Sequence[float | Decimal | None]]], series: Sequence[str]) -> Chart:
    """Horizontal grouped bars: one group per row, one bar per series, scaled to the largest value."""
    largest = max((float(v) for _label, values in rows for v in values if v is not None), default=0.0)
    scale = BAR_AREA / largest if largest > 0 else 0.0
    group_height = BAR_HEIGHT * max(1, len(series)) + ROW_GAP
    chart_rows = []
    for index, (label, values) in enumerate(rows):
        top = index * group_height + ROW_GAP // 2
        row = Row(label=label, y=top + (group_height - ROW_GAP) // 2 + 4)
        for number, value in enumerate(values):
            amount = float(value or 0)
            row.bars.append(
                Bar(
                    x=LABEL_WIDTH,
                    y=top + number * BAR_HEIGHT,
                    width=max(1 if amount > 0 else 0, round(amount * scale)),
                    height=BAR_HEIGHT - 2,
                    series=number,
                    value=amount,
                    text=_text(amount),
                )
            )
        chart_rows.append(row)
    return Chart(
        width=LABEL_WIDTH + BAR_AREA + 70,
        height=max(group_height, len(rows) * group_height),
        label_width=LABEL_WIDTH,
        rows=chart_rows,
        series=list(series),
    )
