"""Geometry for the dashboard's inline SVG charts; the templates draw it.

Charts are computed here as plain numbers (rectangles, labels, colours) and written out by
the templates with auto-escaping, so no HTML is assembled in Python and user data (product
names) can never become markup. No JavaScript and no network: the page works as printed.
"""

from collections.abc import Sequence
from dataclasses import dataclass

STAGE_COLOURS = {
    "visitor": "#9ca3af",
    "prospect": "#a5b4fc",
    "new": "#60a5fa",
    "active": "#34d399",
    "loyal": "#059669",
    "at_risk": "#f59e0b",
    "lost": "#ef4444",
    "won_back": "#8b5cf6",
}


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    colour: str = "#2563eb"


def bars(
    items: Sequence[tuple[str, float]],
    *,
    width: float = 600,
    height: float = 180,
    colours: Sequence[str] | None = None,
    value_format: str = "{:,.0f}",
) -> list[Bar]:
    """Vertical bars scaled to the largest value; an empty or all-zero series gives flat bars."""
    if not items:
        return []
    top = max(value for _, value in items) or 1.0
    slot = width / len(items)
    out = []
    for i, (label, value) in enumerate(items):
        h = max(0.0, value) / top * (height - 20)
        out.append(
            Bar(
                x=round(i * slot + slot * 0.1, 1),
                y=round(height - h, 1),
                width=round(slot * 0.8, 1),
                height=round(h, 1),
                label=label,
                value=value_format.format(value),
                colour=colours[i] if colours else "#2563eb",
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Cell:
    x: int
    y: int
    value: str
    colour: str
    dark: bool


def _shade(share: float) -> tuple[str, bool]:
    """A blue from pale (0) to deep (1), and whether the text on it should be light."""
    share = min(1.0, max(0.0, share))
    light, deep = (239, 246, 255), (30, 64, 175)
    rgb = tuple(round(a + (b - a) * share) for a, b in zip(light, deep, strict=True))
    return "#{:02x}{:02x}{:02x}".format(*rgb), share > 0.55


def heat_row(values: Sequence[float | None], *, top: float, value_format: str = "{:.0%}") -> list[Cell | None]:
    """One heat-map row; None (not observed yet) stays blank."""
    row: list[Cell | None] = []
    for i, value in enumerate(values):
        if value is None:
            row.append(None)
            continue
        colour, dark = _shade(value / top if top else 0.0)
        row.append(Cell(i, 0, value_format.format(value), colour, dark))
    return row
