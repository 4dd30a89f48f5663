"""Panels the leads app adds to account, contact and opportunity pages: "Converted from lead …",
so a converted lead's story stays one click away from each record it became."""

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from guanxi.core import panels
from guanxi.customers.views.common import request_user
from guanxi.leads import queries
from guanxi.leads.models import Lead

LINK_FIELDS = {
    "customers.account": "converted_account",
    "customers.person": "converted_person",
    "sales.opportunity": "converted_opportunity",
}


def _renderer(record_type: str) -> panels.PanelRenderer:
    field = LINK_FIELDS[record_type]

    def render(request: HttpRequest, record: object) -> SafeString | str:
        pk = getattr(record, "pk", None)
        if pk is None:
            return ""
        leads: list[Lead] = list(
            queries.visible_leads(request_user(request))
            .filter(**{f"{field}_id": pk})
            .select_related("owner", "converted_by")
            .order_by("-converted_at", "-id")[:10]
        )
        if not leads:
            return ""
        return render_to_string("leads/_converted_from_panel.html", {"leads": leads}, request=request)

    return render


def register() -> None:
    for record_type in LINK_FIELDS:
        panels.register_panel(record_type, "leads.converted_from", _renderer(record_type), order=20)
