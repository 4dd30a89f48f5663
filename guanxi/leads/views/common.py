"""What the lead page modules share: the signed-in user, safe redirects, a visible lead."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from guanxi.customers.views.common import request_user, safe_next
from guanxi.leads import queries
from guanxi.leads.models import Lead
from guanxi.staff import access

__all__ = ["get_lead", "request_user", "require_settings", "safe_next"]


def get_lead(request: HttpRequest, pk: int) -> Lead:
    """A lead the user may see; any other is a 404 so its existence does not leak."""
    return get_object_or_404(
        queries.visible_leads(request_user(request)).select_related(
            "owner",
            "team",
            "created_by",
            "assigned_by_rule",
            "converted_account",
            "converted_person",
            "converted_opportunity",
        ),
        pk=pk,
    )


def require_settings(request: HttpRequest) -> None:
    if not access.can_manage_settings(request_user(request)):
        raise PermissionDenied
