"""Creating, editing and deleting accounts and contacts; only users who may change a record
see its edit and delete pages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from guanxi.customers import duplicates, queries, services
from guanxi.customers.duplicates import DuplicateMatch
from guanxi.customers.forms.common import add_service_errors
from guanxi.customers.forms.parties import AccountForm, PersonForm, split_tags
from guanxi.customers.models import Account
from guanxi.customers.views.common import ACCOUNTS, PEOPLE, PartyKind, get_account, get_person, request_user
from guanxi.staff.models import User


def _account_duplicates(form: AccountForm, user: User, exclude_id: int | None = None) -> list[DuplicateMatch]:
    lookup = form.duplicate_lookup()
    return [] if lookup is None else duplicates.likely_duplicates_of_account(lookup, user=user, exclude_id=exclude_id)


def _person_duplicates(form: PersonForm, user: User, exclude_id: int | None = None) -> list[DuplicateMatch]:
    lookup = form.duplicate_lookup()
    return [] if lookup is None else duplicates.likely_duplicates_of_person(lookup, user=user, exclude_id=exclude_id)


@login_required
def account_create(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = AccountForm(request.POST or None, actor=user, visible_accounts=queries.visible_accounts(user))
    likely: list[DuplicateMatch] = []
    if request.method == "POST" and form.is_valid() and not (likely := _account_duplicates(form, user)):
        addresses, origin = form.address_values()
        try:
            account = services.create_account(
                user,
                form.service_data(),
                tags=split_tags(form.cleaned_data["tags"]),
                attributes=form.attribute_values(),
                addresses=addresses,
                lifecycle_stage=form.cleaned_data["lifecycle_stage"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc, lambda key: form.resolve_error(key, origin))
        else:
            messages.success(request, _("Created the account %(name)s.") % {"name": account.name})
            return redirect("customers:account-detail", pk=account.pk)
    return render(
        request,
        "customers/account_form.html",
        {"form": form, "duplicates": likely},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    account = get_account(request, pk)
    if not queries.editable_accounts(user).filter(pk=pk).exists():
        raise PermissionDenied(_("You may not change this record."))
    form = AccountForm(
        request.POST or None, actor=user, instance=account, visible_accounts=queries.visible_accounts(user)
    )
    likely: list[DuplicateMatch] = []
    if request.method == "POST" and form.is_valid() and not (likely := _account_duplicates(form, user, account.pk)):
        addresses, origin = form.address_values()
        try:
            services.update_account(
                user,
                account,
                form.service_data(),
                tags=split_tags(form.cleaned_data["tags"]),
                attributes=form.attribute_values(),
                addresses=addresses,
            )
        except ValidationError as exc:
            add_service_errors(form, exc, lambda key: form.resolve_error(key, origin))
        else:
            messages.success(request, _("Saved the account %(name)s.") % {"name": form.cleaned_data["name"]})
            return redirect("customers:account-detail", pk=account.pk)
    return render(
        request,
        "customers/account_form.html",
        {"form": form, "account": account, "duplicates": likely},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def person_create(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = PersonForm(request.POST or None, actor=user)
    likely: list[DuplicateMatch] = []
    if request.method == "POST" and form.is_valid() and not (likely := _person_duplicates(form, user)):
        try:
            person = services.create_person(
                user,
                form.service_data(),
                emails=form.email_list(),
                phones=form.phone_list(),
                tags=split_tags(form.cleaned_data["tags"]),
                attributes=form.attribute_values(),
                lifecycle_stage=form.cleaned_data["lifecycle_stage"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc, form.resolve_error)
        else:
            messages.success(request, _("Created the contact %(name)s.") % {"name": person.full_name})
            return redirect("customers:person-detail", pk=person.pk)
    return render(
        request,
        "customers/person_form.html",
        {"form": form, "duplicates": likely},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    person = get_person(request, pk)
    if not queries.editable_people(user).filter(pk=pk).exists():
        raise PermissionDenied(_("You may not change this record."))
    form = PersonForm(request.POST or None, actor=user, instance=person)
    likely: list[DuplicateMatch] = []
    if request.method == "POST" and form.is_valid() and not (likely := _person_duplicates(form, user, person.pk)):
        try:
            saved = services.update_person(
                user,
                person,
                form.service_data(),
                emails=form.email_list(),
                phones=form.phone_list(),
                tags=split_tags(form.cleaned_data["tags"]),
                attributes=form.attribute_values(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc, form.resolve_error)
        else:
            messages.success(request, _("Saved the contact %(name)s.") % {"name": saved.full_name})
            return redirect("customers:person-detail", pk=person.pk)
    return render(
        request,
        "customers/person_form.html",
        {"form": form, "person": person, "duplicates": likely},
        status=400 if form.is_bound and form.errors else 200,
    )


def _delete(request: HttpRequest, kind: PartyKind, pk: int) -> HttpResponse:
    user = request_user(request)
    party = get_object_or_404(kind.visible(user), pk=pk)
    if not kind.editable(user).filter(pk=pk).exists():
        raise PermissionDenied(_("You may not change this record."))
    if request.method == "POST":
        name = str(party)
        if isinstance(party, Account):
            services.delete_account(user, party)
        else:
            services.delete_person(user, party)
        messages.success(request, _("Deleted %(name)s.") % {"name": name})
        return redirect(kind.url("list"))
    return render(
        request,
        "customers/confirm_delete.html",
        {"object": party, "kind": kind.name, "cancel_url": kind.url("detail", pk)},
    )


@login_required
def account_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _delete(request, ACCOUNTS, pk)


@login_required
def person_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _delete(request, PEOPLE, pk)
