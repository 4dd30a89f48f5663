"""The panel the sales app adds to account and contact pages: the customer's open deals and the
last ones closed, each visible to the viewer, with a link to start a new one."""

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from guanxi.core import panels
from guanxi.customers.views.common import request_user
from guanxi.sales import queries
from guanxi.sales.models import Opportunity, StageKind

RECORD_FIELDS = {"customers.account": "account", "customers.person": "person"}
RECENT_CLOSED = 5
OPEN_SHOWN = 10


def _renderer(record_type: str) -> panels.PanelRenderer:
    field = RECORD_FIELDS[record_type]

    def render(request: HttpRequest, record: object) -> SafeString | str:
        pk = getattr(record, "pk", None)
        if pk is None:
            return ""
        mine = queries.visible_opportunities(request_user(request)).filter(**{f"{field}_id": pk})
        rows = mine.select_related("stage", "owner")
        open_deals: list[Opportunity] = list(
            rows.filter(status=StageKind.OPEN).order_by("expected_close_date", "id")[:OPEN_SHOWN]
        )
        closed: list[Opportunity] = list(
            rows.exclude(status=StageKind.OPEN).order_by("-closed_at", "-id")[:RECENT_CLOSED]
        )
        return render_to_string(
            "sales/_customer_panel.html",
            {"open_deals": open_deals, "closed": closed, "field": field, "record_id": pk},
            request=request,
        )

    return render


def register() -> None:
    for record_type in RECORD_FIELDS:
        panels.register_panel(record_type, "sales.opportunities", _renderer(record_type), order=30)
