"""The "Profitability" panel on account and contact pages: revenue, cost to serve, profit and
CLV:CAC from the latest run, and the customer's service level and price list as they are now.

`customers` may not import this app, so the panel registers itself with `core.panels`. The page
has already checked that the viewer may see the record; the panel reads one row by index.
"""

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from guanxi.commerce.services import assigned_price_list
from guanxi.core.panels import register_panel
from guanxi.customers.models import Account, Person, ServiceLevel
from guanxi.profitability import permissions, queries
from guanxi.staff.models import User


def _render(request: HttpRequest, record: object) -> SafeString | str:
    user = request.user
    if not isinstance(user, User) or not isinstance(record, Account | Person):
        return ""
    row = (
        queries.row_for(user, account_id=record.pk)
        if isinstance(record, Account)
        else queries.row_for(user, person_id=record.pk)
    )
    return render_to_string(
        "profitability/_panel.html",
        {
            "party": record,
            "kind": "account" if isinstance(record, Account) else "person",
            "row": row,
            "run": row.run if row is not None else None,
            "price_list": assigned_price_list(record),
            "service_levels": ServiceLevel.choices,
            "can_reprice": permissions.can_reprice(user),
        },
        request=request,
    )


def register() -> None:
    register_panel("customers.account", "profitability.summary", _render, order=45)
    register_panel("customers.person", "profitability.summary", _render, order=45)
