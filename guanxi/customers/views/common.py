"""What several customer page modules share: the signed-in user, safe redirects, finding a
visible account or contact, and what differs between the account pages and the contact pages.

Views read through `customers.queries` (which applies visibility: an invisible record is a 404)
and write only through `customers.services` (which re-checks permission and validates).
"""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import npgettext

from guanxi.customers import queries
from guanxi.customers.models import Account, Person
from guanxi.staff.models import User


def request_user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # login_required runs first
        raise PermissionDenied
    return user


def safe_next(request: HttpRequest, target: str | None, fallback: str) -> str:
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# ---------------------------------------------------------------------------------------------
# What differs between the account pages and the contact pages


@dataclass(frozen=True)
class PartyKind:
    name: str  # "account" | "person"
    model: type[Account] | type[Person]
    orderings: tuple[str, ...]
    default_ordering: str

    def visible(self, user: User) -> QuerySet[Any]:
        return queries.visible_accounts(user) if self.name == "account" else queries.visible_people(user)

    def visible_branches(self, user: User) -> list[Q]:
        if self.name == "account":
            return queries.visible_account_branches(user)
        return queries.visible_person_branches(user)

    def editable(self, user: User) -> QuerySet[Any]:
        return queries.editable_accounts(user) if self.name == "account" else queries.editable_people(user)

    def filter(self, qs: QuerySet[Any], filters: queries.PartyFilters, user: User) -> QuerySet[Any]:
        if self.name == "account":
            return queries.filter_accounts(qs, filters, user)
        return queries.filter_people(qs, filters, user)

    def rows(self, qs: QuerySet[Any], user: User) -> QuerySet[Any]:
        if self.name == "account":
            return queries.account_list_rows(qs)
        return queries.person_list_rows_for(qs, user)

    def noun(self, count: int) -> str:
        if self.name == "account":
            return npgettext("in a bulk action message", "account", "accounts", count)
        return npgettext("in a bulk action message", "contact", "contacts", count)

    def url(self, view: str, pk: int | None = None) -> str:
        return reverse(f"customers:{self.name}-{view}", args=[pk] if pk is not None else [])


ACCOUNTS = PartyKind("account", Account, queries.ACCOUNT_ORDERING, "name")
PEOPLE = PartyKind("person", Person, queries.PERSON_ORDERING, "full_name")


def get_account(request: HttpRequest, pk: int) -> Account:
    return get_object_or_404(
        queries.visible_accounts(request_user(request)).select_related("owner", "team", "parent", "created_by"), pk=pk
    )


def get_person(request: HttpRequest, pk: int) -> Person:
    return get_object_or_404(queries.visible_people(request_user(request)).select_related("owner", "created_by"), pk=pk)
