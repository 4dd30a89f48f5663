"""Server-rendered inline SVG charts (no JavaScript, no network): the events-per-hour bars."""

import datetime

from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD = 480, 120, 18


def bar_chart(points: list[tuple[datetime.datetime, int]], *, label: str) -> SafeString:
    """Bars for (hour, count) points, with the hour and count in each bar's tooltip."""
    top = max((n for _hour, n in points), default=0) or 1
    slot = (WIDTH - 2) / max(len(points), 1)
    bars = []
    for index, (hour, count) in enumerate(points):
        height = (HEIGHT - PAD) * count / top
        local = timezone.localtime(hour)
        bars.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="#2563eb"><title>{} · {}</title></rect>',
                f"{1 + index * slot:.1f}",
                f"{HEIGHT - PAD - height:.1f}",
                f"{max(slot - 2, 1):.1f}",
                f"{height:.1f}",
                local.strftime("%m-%d %H:00"),
                count,
            )
        )
    first = timezone.localtime(points[0][0]).strftime("%H:00") if points else ""
    last = timezone.localtime(points[-1][0]).strftime("%H:00") if points else ""
    # Every piece is format_html output or an escaped value: nothing user-typed reaches the SVG raw.
    return mark_safe(  # noqa: S308  -- assembled from escaped parts above
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
        f'<line x1="0" y1="{HEIGHT - PAD}" x2="{WIDTH}" y2="{HEIGHT - PAD}" stroke="#9ca3af"/>'
        + "".join(bars)
        + f'<text x="1" y="{HEIGHT - 4}" font-size="11" fill="#6b7280">{escape(first)}</text>'
        f'<text x="{WIDTH - 1}" y="{HEIGHT - 4}" font-size="11" fill="#6b7280" text-anchor="end">{escape(last)}</text>'
        f'<text x="{WIDTH - 1}" y="11" font-size="11" fill="#6b7280" text-anchor="end">{top}</text>'
        "</svg>"
    )
