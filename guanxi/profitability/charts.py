"""Geometry for the overview's inline SVG charts; the templates draw it, escaping every label.

No JavaScript and no network: rectangles and labels are computed here as plain numbers.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

LOSS = "#dc2626"
PROFIT = "#059669"
WARN = "#f59e0b"


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    colour: str
    tick: str
    """The short text under the bar; `label` (the tooltip) says it in full."""


def short_number(value: Decimal | float) -> str:
    """-1.2k, 35k, 1.5M: bar ticks must fit under a bar a few dozen pixels wide."""
    number = float(value)
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(number) >= size:
            text = f"{number / size:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{number:.0f}"


def bars(
    items: Sequence[tuple[str, float, str]],
    *,
    width: float = 600,
    height: float = 180,
    value_format: str = "{:,.0f}",
    ticks: Sequence[str] | None = None,
) -> list[Bar]:
    """Vertical bars scaled to the largest value; values below zero are drawn flat."""
    if not items:
        return []
    top = max(value for _, value, _c in items) or 1.0
    slot = width / len(items)
    out = []
    for i, (label, value, colour) in enumerate(items):
        h = max(0.0, value) / top * (height - 20)
        out.append(
            Bar(
                x=round(i * slot + slot * 0.1, 1),
                y=round(height - h, 1),
                width=round(slot * 0.8, 1),
                height=round(h, 1),
                label=label,
                value=value_format.format(value),
                colour=colour,
                tick=ticks[i] if ticks else label,
            )
        )
    return out


def profit_distribution(histogram: Sequence[dict[str, Any]]) -> list[Bar]:
    """Customers per profit range: red bars for ranges of loss, green for profit."""
    items, ticks = [], []
    for b in histogram:
        low, high = Decimal(b["low"]), Decimal(b["high"])
        items.append((f"{low:,.2f} … {high:,.2f}", float(b["customers"]), LOSS if high <= 0 else PROFIT))
        ticks.append(short_number(low))
    return bars(items, ticks=ticks)


def ratio_colour(ratio: float | None) -> str:
    """Below 1 a customer costs more to win than they bring; 3 and above is the usual target."""
    if ratio is None or ratio < 1:
        return LOSS
    return WARN if ratio < 3 else PROFIT


def clv_to_cac_by_source(rows: Sequence[dict[str, Any]], labels: dict[str, str]) -> list[Bar]:
    items = [
        (labels.get(r["source"], r["source"]), float(r["clv_to_cac"] or 0.0), ratio_colour(r["clv_to_cac"]))
        for r in rows
    ]
    return bars(items, value_format="{:.2f}")
