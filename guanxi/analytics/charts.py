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


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    r: float
    label: str


def reliability(
    bins: Sequence[dict[str, float | int | None]], *, size: float = 240, pad: float = 30
) -> dict[str, object]:
    """A reliability diagram: one dot per populated bin at (mean predicted, observed share).

    Dots on the diagonal mean the predicted probabilities come true as often as they say;
    a dot's area grows with the customers in its bin.
    """
    inner = size - 2 * pad
    populated = [b for b in bins if b.get("customers")]
    top = max((int(b["customers"] or 0) for b in populated), default=1) or 1
    points = []
    for b in populated:
        predicted, observed, n = float(b["mean_predicted"] or 0), float(b["observed"] or 0), int(b["customers"] or 0)
        points.append(
            Point(
                x=round(pad + predicted * inner, 1),
                y=round(size - pad - observed * inner, 1),
                r=round(3 + 9 * (n / top) ** 0.5, 1),
                label=f"{predicted:.2f} → {observed:.2f} ({n})",
            )
        )
    steps = [t / 4 for t in range(5)]
    ticks = [{"value": f"{v:.2f}", "at": round(pad + v * inner, 1)} for v in steps]
    ticks_y = [{"value": f"{v:.2f}", "at": round(size - pad - v * inner, 1)} for v in steps]
    return {
        "size": size,
        "inner": inner,
        "low": pad,
        "high": size - pad,
        "points": points,
        "ticks": ticks,
        "ticks_y": ticks_y,
    }


@dataclass(frozen=True, slots=True)
class HBar:
    y: float
    width: float
    label: str
    value: str
    colour: str


def hbars(items: Sequence[tuple[str, float]], *, width: float = 360, row: float = 22) -> list[HBar]:
    """Horizontal bars for labelled values (negative values drawn as zero, shown as they are)."""
    top = max((value for _, value in items), default=0.0) or 1.0
    return [
        HBar(
            y=round(i * row, 1),
            width=round(max(0.0, value) / top * width, 1),
            label=label,
            value=f"{value:.3f}",
            colour="#2563eb" if value > 0 else "#9ca3af",
        )
        for i, (label, value) in enumerate(items)
    ]
