"""Panels other apps add to a record's page, so a page can show what points at its record.

A customer page shows follow-up records, opportunities and orders, yet `customers` may not
import the apps that hold them. Those apps register a panel here from their `AppConfig.ready`;
the page renders every panel registered for its record type, in `order`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.utils.safestring import SafeString

#: Renders a panel's HTML for one record, or "" to show nothing; it applies its own visibility.
PanelRenderer = Callable[[HttpRequest, object], SafeString | str]


@dataclass(frozen=True, order=True)
class Panel:
    order: int
    key: str
    render: PanelRenderer = field(compare=False)


_panels: dict[str, dict[str, Panel]] = {}


def register_panel(record_type: str, key: str, render: PanelRenderer, *, order: int = 100) -> None:
    """Show `render`'s output on pages of `record_type` ("customers.person", "sales.opportunity")."""
    _panels.setdefault(record_type, {})[key] = Panel(order, key, render)


def panels_for(record_type: str) -> list[Panel]:
    return sorted(_panels.get(record_type, {}).values())


def render_panels(request: HttpRequest, record_type: str, record: object) -> list[SafeString | str]:
    rendered = (panel.render(request, record) for panel in panels_for(record_type))
    return [html for html in rendered if html]
