"""What several sales page modules share: the signed-in user, safe redirects, finding a visible
opportunity, the owner/team choices of the filters and putting service errors back on forms."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from guanxi.customers.forms.common import assignable_users, filterable_users
from guanxi.customers.views.common import request_user, safe_next
from guanxi.sales import queries
from guanxi.sales.models import Opportunity
from guanxi.staff import access
from guanxi.staff.models import Team, User

__all__ = ["request_user", "safe_next"]


def get_opportunity(request: HttpRequest, pk: int) -> Opportunity:
    """A deal the user may see, or 404 (so an invisible deal's existence does not leak)."""
    return get_object_or_404(
        queries.visible_opportunities(request_user(request)).select_related(
            "account", "person", "pipeline", "stage", "owner", "created_by"
        ),
        pk=pk,
    )


def can_edit(user: User, opportunity: Opportunity) -> bool:
    return queries.editable_opportunities(user).filter(pk=opportunity.pk).exists()


def filter_users(user: User) -> list[User]:
    reads_all = user.role in access.READ_ALL_ROLES and not user.is_admin
    return list(filterable_users(user) if reads_all else assignable_users(user))


def filter_teams(user: User) -> QuerySet[Team]:
    if user.is_admin or user.role in access.READ_ALL_ROLES:
        return Team.objects.order_by("name")
    return Team.objects.filter(pk__in=access.managed_team_ids(user)).order_by("name")


def report_errors(request: HttpRequest, exc: ValidationError | PermissionDenied) -> None:
    """Flash each service error; field-keyed errors keep their field name out of the user's way."""
    if isinstance(exc, PermissionDenied):
        messages.error(request, str(exc) or "403")
        return
    for error in exc.messages:
        messages.error(request, error)


def querystring_without(request: HttpRequest, *names: str) -> dict[str, Any]:
    return {k: v for k, v in request.GET.items() if k not in names}
