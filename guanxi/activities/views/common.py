"""What the follow-up page modules share: the signed-in user, and finding the records a follow-up
or task is about within the user's visibility (an invisible record is a 404)."""

from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.urls import NoReverseMatch, reverse

from guanxi.customers import queries as customer_queries
from guanxi.customers.forms.common import add_service_errors
from guanxi.customers.models import Account, Person
from guanxi.customers.views.common import request_user, safe_next
from guanxi.leads.models import Lead
from guanxi.sales.models import Opportunity
from guanxi.staff import access
from guanxi.staff.models import User

__all__ = [
    "RecordRef",
    "Targets",
    "add_errors",
    "record_url",
    "request_user",
    "require_admin",
    "safe_next",
    "targets_from",
]

TARGET_NAMES = ("account", "person", "lead", "opportunity")


def add_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Service errors next to their fields, for plain and model forms alike."""
    add_service_errors(cast(forms.Form, form), exc)


def require_admin(request: HttpRequest) -> User:
    user = request_user(request)
    if not access.can_manage_settings(user):
        raise PermissionDenied
    return user


def _visible(user: User, name: str, pk: int) -> Any:
    queryset: Any
    if name == "account":
        queryset = customer_queries.visible_accounts(user)
    elif name == "person":
        queryset = customer_queries.visible_people(user)
    elif name == "lead":
        queryset = Lead.objects.filter(access.visible_q(user, team_field="team"))
    else:
        queryset = Opportunity.objects.filter(access.visible_q(user)).select_related("stage", "account", "person")
    record = queryset.filter(pk=pk).first()
    if record is None:
        raise Http404
    return record


@dataclass
class Targets:
    account: Account | None = None
    person: Person | None = None
    lead: Lead | None = None
    opportunity: Opportunity | None = None

    def as_kwargs(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in TARGET_NAMES}

    def query(self) -> str:
        """`person=12` style parameters naming these records, for links and hidden fields."""
        return "&".join(f"{name}={getattr(self, name).pk}" for name in TARGET_NAMES if getattr(self, name))

    def ids(self) -> dict[str, int]:
        return {name: getattr(self, name).pk for name in TARGET_NAMES if getattr(self, name)}

    @property
    def main(self) -> Any:
        return self.opportunity or self.lead or self.person or self.account

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in TARGET_NAMES)


def targets_from(request: HttpRequest, data: Any) -> Targets:
    """Records named by `account`/`person`/`lead`/`opportunity` ids in `data`, each checked visible."""
    user = request_user(request)
    targets = Targets()
    for name in TARGET_NAMES:
        raw = str(data.get(name) or "").strip()
        if raw.isdigit():
            setattr(targets, name, _visible(user, name, int(raw)))
    return targets


@dataclass(frozen=True)
class RecordRef:
    label: str
    url: str


def record_url(record: Any) -> str:
    """The page of an account, person, lead or opportunity (lead and deal pages belong to other apps)."""
    if isinstance(record, Account):
        return reverse("customers:account-detail", args=[record.pk])
    if isinstance(record, Person):
        return reverse("customers:person-detail", args=[record.pk])
    name = "leads:lead-detail" if isinstance(record, Lead) else "sales:opportunity-detail"
    try:
        return reverse(name, args=[record.pk])
    except NoReverseMatch:  # the other app's page is not built yet: show the name without a link
        return ""
