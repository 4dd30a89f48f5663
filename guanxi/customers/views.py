"""Web pages for accounts and contacts (people).

Views read through `customers.queries` (which applies visibility: an invisible record is a 404)
and write only through `customers.services` (which re-checks permission and validates).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, npgettext
from django.views.decorators.http import require_GET, require_POST

from guanxi.core.history import history_for
from guanxi.core.models import AttributeDefinition, Tag
from guanxi.core.pagination import InvalidCursorError, capped_count, keyset_page, parse_ordering
from guanxi.customers import queries, services
from guanxi.customers.forms import (
    AccountForm,
    AttributeDefinitionForm,
    BulkForm,
    ConsentForm,
    FilterForm,
    PersonForm,
    RelationshipForm,
    RoleForm,
    StageForm,
    TagForm,
    add_service_errors,
    assignable_users,
    attribute_definitions,
    filterable_users,
    split_tags,
)
from guanxi.customers.models import (
    Account,
    Channel,
    ConsentPurpose,
    LifecycleStage,
    Person,
    Relationship,
    Role,
)
from guanxi.customers.normalise import format_phone
from guanxi.staff import access
from guanxi.staff.models import User

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # login_required runs first
        raise PermissionDenied
    return user


def _safe_next(request: HttpRequest, target: str | None, fallback: str) -> str:
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

SORT_LABELS = {
    "name": gettext_lazy("Name"),
    "full_name": gettext_lazy("Name"),
    "created_at": gettext_lazy("Created on"),
    "updated_at": gettext_lazy("Last updated"),
}


# ---------------------------------------------------------------------------------------------
# Lists


def _filters_from(request: HttpRequest) -> queries.PartyFilters:
    get = request.GET
    return queries.PartyFilters(
        q=get.get("q", "").strip()[:200],
        owner=get.get("owner", ""),
        tag=get.get("tag", ""),
        stage=get.get("stage", ""),
        market_segment=get.get("market_segment", ""),
        kind=get.get("kind", ""),
        attributes={k[5:]: get.get(k, "") for k in get if k.startswith("attr.") and get.get(k)},
    )


def _party_list(request: HttpRequest, kind: PartyKind) -> HttpResponse:
    user = _user(request)
    definitions = attribute_definitions(kind.name)
    assignable = list(assignable_users(user))
    # Owners to filter by: those whose records the user may see; for most roles the same users.
    reads_all = user.role in access.READ_ALL_ROLES and not user.is_admin
    users = list(filterable_users(user)) if reads_all else assignable
    tags = list(Tag.objects.order_by("name")[:500])
    filter_form = FilterForm(
        request.GET, users=users, tags=tags, definitions=definitions, for_accounts=kind.name == "account"
    )
    filters = _filters_from(request)
    queryset = kind.filter(kind.visible(user), filters, user)
    ordering = parse_ordering(request.GET.get("ordering"), kind.orderings, kind.default_ordering)
    cursor = request.GET.get("cursor") or None
    try:
        page = keyset_page(kind.rows(queryset, user), ordering=ordering, cursor=cursor, size=PAGE_SIZE)
    except InvalidCursorError:
        cursor = None
        page = keyset_page(kind.rows(queryset, user), ordering=ordering, cursor=None, size=PAGE_SIZE)
    total, more = capped_count(queryset)
    try:
        position = max(1, int(request.GET.get("pos", "1"))) if cursor else 1
    except ValueError:
        position = 1
    columns = []
    for field in kind.orderings:
        active = ordering.lstrip("-") == field
        descending = ordering.startswith("-")
        columns.append(
            {
                "field": field,
                "label": SORT_LABELS[field],
                "ordering": f"-{field}" if active and not descending else field,
                "direction": ("desc" if descending else "asc") if active else "",
            }
        )
    is_filtered = any(request.GET.get(k) for k in ("q", "owner", "tag", "stage", "market_segment", "kind")) or bool(
        filters.attributes
    )
    context = {
        "kind": kind.name,
        "items": page.items,
        "page": page,
        "total": total,
        "total_more": more,
        "first": position,
        "last": position + len(page.items) - 1,
        "next_pos": position + len(page.items),
        "prev_pos": max(1, position - PAGE_SIZE),
        "filter_form": filter_form,
        "attribute_fields": [filter_form[f"attr.{d.key}"] for d in definitions],
        "columns": columns,
        "ordering": ordering,
        "is_filtered": is_filtered,
        "assignable_users": assignable,
        "tags": tags,
        "stages": LifecycleStage.choices,
        "can_claim": access.can_claim(user),
        "bulk_actions": BulkForm.ACTIONS,
    }
    return render(request, f"customers/{kind.name}_list.html", context)


@login_required
@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    return _party_list(request, ACCOUNTS)


@login_required
@require_GET
def person_list(request: HttpRequest) -> HttpResponse:
    return _party_list(request, PEOPLE)


def _bulk(request: HttpRequest, kind: PartyKind) -> HttpResponse:
    user = _user(request)
    form = BulkForm(request.POST)
    target = _safe_next(request, request.POST.get("next"), kind.url("list"))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(target)
    ids: list[int] = form.cleaned_data["ids"]
    action = form.cleaned_data["action"]
    model: Any = kind.model  # Account or Person; the services are generic over both
    message = ""
    try:
        if action == "assign":
            owner_value = form.cleaned_data["owner"]
            owner = (
                User.objects.filter(pk=int(owner_value), is_active=True).first() if str(owner_value).isdigit() else None
            )
            if owner is None:
                raise ValidationError({"owner": [_("Choose an owner.")]})
            count = services.bulk_assign_owner(user, model, ids, owner)
            message = _("Assigned %(count)s %(noun)s to %(owner)s.")
            params = {"owner": str(owner)}
        elif action == "add_tag":
            tag = form.cleaned_data["tag"].strip()
            count = services.bulk_add_tag(user, model, ids, tag)
            message = _("Tagged %(count)s %(noun)s with “%(tag)s”.")
            params = {"tag": tag}
        elif action == "remove_tag":
            tag = form.cleaned_data["tag"].strip()
            count = services.bulk_remove_tag(user, model, ids, tag)
            message = _("Removed the tag “%(tag)s” from %(count)s %(noun)s.")
            params = {"tag": tag}
        elif action == "set_stage":
            stage = form.cleaned_data["stage"]
            count = services.bulk_set_stage(user, model, ids, stage)
            message = _("Moved %(count)s %(noun)s to the stage “%(stage)s”.")
            params = {"stage": str(LifecycleStage(stage).label)}
        elif action == "release":
            count = services.bulk_release_to_pool(user, model, ids)
            message = _("Released %(count)s %(noun)s to the shared pool.")
            params = {}
        else:  # claim
            count = services.claim_from_pool(user, model, ids)
            message = _("Claimed %(count)s %(noun)s from the shared pool.")
            params = {}
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
        return redirect(target)
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not do this."))
        return redirect(target)
    messages.success(request, message % {"count": count, "noun": kind.noun(count), **params})
    skipped = len(ids) - count
    if skipped:
        messages.info(
            request,
            ngettext(
                "%(count)s selected record was left unchanged (already so, or you may not change it).",
                "%(count)s selected records were left unchanged (already so, or you may not change them).",
                skipped,
            )
            % {"count": skipped},
        )
    return redirect(target)


@login_required
@require_POST
def account_bulk(request: HttpRequest) -> HttpResponse:
    return _bulk(request, ACCOUNTS)


@login_required
@require_POST
def person_bulk(request: HttpRequest) -> HttpResponse:
    return _bulk(request, PEOPLE)


# ---------------------------------------------------------------------------------------------
# Record pages


def _choice_label(model: type[Model], field: str, value: Any) -> Any:
    try:
        model_field = model._meta.get_field(field)
    except Exception:
        return value
    choices = dict(getattr(model_field, "flatchoices", None) or [])
    return choices.get(value, value)


def _field_label(model: type[Model], key: str, definitions: dict[str, AttributeDefinition]) -> str:
    if key.startswith("attributes."):
        sub = key.split(".", 1)[1]
        definition = definitions.get(sub)
        return definition.label if definition else sub
    extra = {
        "emails": _("E-mail addresses"),
        "phones": _("Phone numbers"),
        "roles": _("Roles"),
        "relationships": _("Relationships"),
        "tags": _("Tags"),
    }
    if key in extra:
        return extra[key]
    if key.startswith("consent."):
        parts = key.split(".")
        if len(parts) == 3:
            purpose = dict(ConsentPurpose.choices).get(parts[1], parts[1])
            channel = dict(Channel.choices).get(parts[2], parts[2])
            return f"{_('Consent')}: {purpose} / {channel}"
    try:
        return str(model._meta.get_field(key).verbose_name).capitalize()  # type: ignore[union-attr]
    except Exception:
        return key


def _history(instance: Account | Person, definitions: dict[str, AttributeDefinition]) -> list[dict[str, Any]]:
    model = type(instance)
    entries = []
    for record in history_for(instance)[:50]:
        changes = []
        for key, pair in sorted(record.changes.items()):
            old, new = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
            if key == "lifecycle_stage" or key in ("source", "kind", "market_segment", "grade", "status"):
                old, new = _choice_label(model, key, old), _choice_label(model, key, new)
            if key.startswith("consent."):
                states = {"granted": _("Granted"), "withdrawn": _("Withdrawn")}
                old, new = states.get(str(old), old), states.get(str(new), new)
            old_text, new_text = _plain(old), _plain(new)
            if old_text == new_text:  # a creation lists every field, most of them empty
                continue
            changes.append({"label": _field_label(model, key, definitions), "old": old_text, "new": new_text})
        entries.append({"record": record, "changes": changes})
    return entries


def _plain(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


def _attributes_display(target: str, values: dict[str, Any]) -> list[tuple[str, Any]]:
    definitions = attribute_definitions(target)
    shown = [(d.label, values[d.key]) for d in definitions if d.key in values]
    known = {d.key for d in definitions}
    shown += [(key, value) for key, value in sorted(values.items()) if key not in known]
    return shown


def _relationships(party: Account | Person, user: User, can_edit: bool) -> list[dict[str, Any]]:
    rows = list(queries.relationships_of(party))
    visible_people = set(
        queries.visible_people(user)
        .filter(pk__in=[pk for r in rows for pk in (r.from_person_id, r.to_person_id) if pk])
        .values_list("pk", flat=True)
    )
    visible_accounts = set(
        queries.visible_accounts(user)
        .filter(pk__in=[pk for r in rows for pk in (r.from_account_id, r.to_account_id) if pk])
        .values_list("pk", flat=True)
    )
    editable_people = set(
        queries.editable_people(user)
        .filter(pk__in=[r.from_person_id for r in rows if r.from_person_id])
        .values_list("pk", flat=True)
    )
    editable_accounts = set(
        queries.editable_accounts(user)
        .filter(pk__in=[r.from_account_id for r in rows if r.from_account_id])
        .values_list("pk", flat=True)
    )
    result = []
    for rel in rows:
        source, target = rel.source_party, rel.target_party
        outgoing = type(source) is type(party) and source.pk == party.pk
        other = target if outgoing else source
        other_visible = other.pk in (visible_accounts if isinstance(other, Account) else visible_people)
        if not other_visible:
            continue
        source_editable = source.pk in (editable_accounts if isinstance(source, Account) else editable_people)
        result.append(
            {
                "relationship": rel,
                "outgoing": outgoing,
                "other": other,
                "other_url": reverse(
                    "customers:account-detail" if isinstance(other, Account) else "customers:person-detail",
                    args=[other.pk],
                ),
                "other_is_account": isinstance(other, Account),
                "can_remove": source_editable,
            }
        )
    return result


def _stage_history(party: Account | Person) -> QuerySet[Any]:
    return party.lifecycle_changes.select_related("changed_by")[:20]


def _account_context(request: HttpRequest, account: Account, forms: dict[str, Any] | None = None) -> dict[str, Any]:
    user = _user(request)
    can_edit = queries.editable_accounts(user).filter(pk=account.pk).exists()
    visible = queries.visible_accounts(user)
    ancestors = queries.account_ancestors(account)
    visible_ancestor_ids = set(visible.filter(pk__in=[a.pk for a in ancestors]).values_list("pk", flat=True))
    definitions = {d.key: d for d in attribute_definitions("account")}
    forms = forms or {}
    return {
        "account": account,
        "can_edit": can_edit,
        "tags": list(account.tags.all()),
        "addresses": list(account.addresses.all()),
        "attributes": _attributes_display("account", account.attributes),
        "ancestors": [(a, a.pk in visible_ancestor_ids) for a in ancestors],
        "children": list(visible.filter(parent=account).order_by("name")[:100]),
        "roles": list(
            account.roles.filter(person__in=queries.visible_people(user))
            .select_related("person")
            .order_by("-is_primary_contact", "person__full_name")
        ),
        "relationships": _relationships(account, user, can_edit),
        "stage_changes": _stage_history(account),
        "history": _history(account, definitions),
        "stage_form": forms.get("stage") or StageForm(initial={"stage": account.lifecycle_stage}),
        "role_form": forms.get("role") or RoleForm(party_label=_("Contact")),
        "relationship_form": forms.get("relationship") or RelationshipForm(initial={"target_type": "account"}),
    }


def _person_context(request: HttpRequest, person: Person, forms: dict[str, Any] | None = None) -> dict[str, Any]:
    user = _user(request)
    can_edit = queries.editable_people(user).filter(pk=person.pk).exists()
    definitions = {d.key: d for d in attribute_definitions("person")}
    chain = queries.referral_chain(person)
    visible_chain_ids = set(
        queries.visible_people(user).filter(pk__in=[p.pk for p in chain]).values_list("pk", flat=True)
    )
    state = queries.consent_state(person)
    consent_rows = [
        {"purpose": label, "cells": [state.get((purpose, channel)) for channel in Channel.values]}
        for purpose, label in ConsentPurpose.choices
    ]
    forms = forms or {}
    return {
        "person": person,
        "can_edit": can_edit,
        "tags": list(person.tags.all()),
        "emails": list(person.emails.all()),
        "phones": [(p, format_phone(p.number)) for p in person.phones.all()],
        "attributes": _attributes_display("person", person.attributes),
        "roles": list(
            person.roles.filter(account__in=queries.visible_accounts(user))
            .select_related("account")
            .order_by("account__name")
        ),
        "relationships": _relationships(person, user, can_edit),
        "referral_chain": [(p, p.pk in visible_chain_ids) for p in chain],
        "consent_channels": Channel.choices,
        "consent_rows": consent_rows,
        "consent_log": list(person.consents.select_related("recorded_by")[:200]),
        "stage_changes": _stage_history(person),
        "history": _history(person, definitions),
        "stage_form": forms.get("stage") or StageForm(initial={"stage": person.lifecycle_stage}),
        "role_form": forms.get("role") or RoleForm(party_label=_("Account")),
        "relationship_form": forms.get("relationship") or RelationshipForm(initial={"target_type": "person"}),
        "consent_form": forms.get("consent") or ConsentForm(),
    }


def _get_account(request: HttpRequest, pk: int) -> Account:
    return get_object_or_404(
        queries.visible_accounts(_user(request)).select_related("owner", "team", "parent", "created_by"), pk=pk
    )


def _get_person(request: HttpRequest, pk: int) -> Person:
    return get_object_or_404(queries.visible_people(_user(request)).select_related("owner", "created_by"), pk=pk)


def _render_account(request: HttpRequest, account: Account, forms: dict[str, Any] | None = None) -> HttpResponse:
    status = 400 if forms else 200
    return render(request, "customers/account_detail.html", _account_context(request, account, forms), status=status)


def _render_person(request: HttpRequest, person: Person, forms: dict[str, Any] | None = None) -> HttpResponse:
    status = 400 if forms else 200
    return render(request, "customers/person_detail.html", _person_context(request, person, forms), status=status)


@login_required
@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_account(request, _get_account(request, pk))


@login_required
@require_GET
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_person(request, _get_person(request, pk))


# ---------------------------------------------------------------------------------------------
# Create, edit, delete


@login_required
def account_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = AccountForm(request.POST or None, actor=user, visible_accounts=queries.visible_accounts(user))
    if request.method == "POST" and form.is_valid():
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
        request, "customers/account_form.html", {"form": form}, status=400 if form.is_bound and form.errors else 200
    )


@login_required
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    account = _get_account(request, pk)
    if not queries.editable_accounts(user).filter(pk=pk).exists():
        raise PermissionDenied(_("You may not change this record."))
    form = AccountForm(
        request.POST or None, actor=user, instance=account, visible_accounts=queries.visible_accounts(user)
    )
    if request.method == "POST" and form.is_valid():
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
        {"form": form, "account": account},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def person_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = PersonForm(request.POST or None, actor=user)
    if request.method == "POST" and form.is_valid():
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
        request, "customers/person_form.html", {"form": form}, status=400 if form.is_bound and form.errors else 200
    )


@login_required
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    person = _get_person(request, pk)
    if not queries.editable_people(user).filter(pk=pk).exists():
        raise PermissionDenied(_("You may not change this record."))
    form = PersonForm(request.POST or None, actor=user, instance=person)
    if request.method == "POST" and form.is_valid():
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
        {"form": form, "person": person},
        status=400 if form.is_bound and form.errors else 200,
    )


def _delete(request: HttpRequest, kind: PartyKind, pk: int) -> HttpResponse:
    user = _user(request)
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


# ---------------------------------------------------------------------------------------------
# Record page actions: stage, roles, relationships, consent


def _stage(request: HttpRequest, party: Account | Person, render_page: Callable[..., HttpResponse]) -> HttpResponse:
    form = StageForm(request.POST)
    if form.is_valid():
        try:
            stage, reason = form.cleaned_data["stage"], form.cleaned_data["reason"]
            if isinstance(party, Account):
                services.set_lifecycle_stage(_user(request), party, stage, reason=reason)
            else:
                services.set_lifecycle_stage(_user(request), party, stage, reason=reason)
        except ValidationError as exc:
            add_service_errors(form, exc, lambda key: ("stage" if key == "lifecycle_stage" else key, ""))
        else:
            label = LifecycleStage(form.cleaned_data["stage"]).label
            messages.success(request, _("Lifecycle stage is now “%(stage)s”.") % {"stage": label})
            return HttpResponseRedirect(request.path.rsplit("stage/", 1)[0])
    return render_page(request, party, {"stage": form})


@login_required
@require_POST
def account_stage(request: HttpRequest, pk: int) -> HttpResponse:
    return _stage(request, _get_account(request, pk), _render_account)


@login_required
@require_POST
def person_stage(request: HttpRequest, pk: int) -> HttpResponse:
    return _stage(request, _get_person(request, pk), _render_person)


@login_required
@require_POST
def person_role_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    person = _get_person(request, pk)
    form = RoleForm(request.POST, party_label=_("Account"))
    if form.is_valid():
        account = queries.visible_accounts(user).filter(pk=form.cleaned_data["party"]).first()
        if account is None:
            form.add_error("party", _("No account with this number that you can see."))
        else:
            try:
                services.add_role(
                    user,
                    person,
                    account,
                    form.cleaned_data["kind"],
                    job_title=form.cleaned_data["job_title"],
                    is_primary_contact=form.cleaned_data["is_primary_contact"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Added a role at %(account)s.") % {"account": account.name})
                return redirect("customers:person-detail", pk=pk)
    return _render_person(request, person, {"role": form})


@login_required
@require_POST
def account_role_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    account = _get_account(request, pk)
    form = RoleForm(request.POST, party_label=_("Contact"))
    if form.is_valid():
        person = queries.visible_people(user).filter(pk=form.cleaned_data["party"]).first()
        if person is None:
            form.add_error("party", _("No contact with this number that you can see."))
        else:
            try:
                services.add_role(
                    user,
                    person,
                    account,
                    form.cleaned_data["kind"],
                    job_title=form.cleaned_data["job_title"],
                    is_primary_contact=form.cleaned_data["is_primary_contact"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Added %(person)s to this account.") % {"person": person.full_name})
                return redirect("customers:account-detail", pk=pk)
    return _render_account(request, account, {"role": form})


@login_required
@require_POST
def role_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    role = get_object_or_404(
        Role.objects.select_related("person", "account").filter(
            person__in=queries.visible_people(user), account__in=queries.visible_accounts(user)
        ),
        pk=pk,
    )
    fallback = reverse("customers:person-detail", args=[role.person_id])
    services.remove_role(user, role)
    messages.success(request, _("Removed the role."))
    return redirect(_safe_next(request, request.POST.get("next"), fallback))


def _relationship_add(
    request: HttpRequest, source: Account | Person, render_page: Callable[..., HttpResponse], detail_url: str
) -> HttpResponse:
    user = _user(request)
    form = RelationshipForm(request.POST)
    if form.is_valid():
        target_type = form.cleaned_data["target_type"]
        visible = queries.visible_accounts(user) if target_type == "account" else queries.visible_people(user)
        target = visible.filter(pk=form.cleaned_data["target"]).first()
        if target is None:
            form.add_error("target", _("No record with this number that you can see."))
        else:
            try:
                services.add_relationship(
                    user, source, form.cleaned_data["kind"], target, note=form.cleaned_data["note"]
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Added the relationship."))
                return redirect(detail_url)
    return render_page(request, source, {"relationship": form})


@login_required
@require_POST
def account_relationship_add(request: HttpRequest, pk: int) -> HttpResponse:
    account = _get_account(request, pk)
    return _relationship_add(request, account, _render_account, reverse("customers:account-detail", args=[pk]))


@login_required
@require_POST
def person_relationship_add(request: HttpRequest, pk: int) -> HttpResponse:
    person = _get_person(request, pk)
    return _relationship_add(request, person, _render_person, reverse("customers:person-detail", args=[pk]))


@login_required
@require_POST
def relationship_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    relationship = get_object_or_404(
        Relationship.objects.select_related("from_account", "from_person", "to_account", "to_person"), pk=pk
    )
    source = relationship.source_party
    visible = queries.visible_accounts(user) if isinstance(source, Account) else queries.visible_people(user)
    if not visible.filter(pk=source.pk).exists():
        raise PermissionDenied
    fallback = reverse(
        "customers:account-detail" if isinstance(source, Account) else "customers:person-detail", args=[source.pk]
    )
    services.remove_relationship(user, relationship)
    messages.success(request, _("Removed the relationship."))
    return redirect(_safe_next(request, request.POST.get("next"), fallback))


@login_required
@require_POST
def person_consent(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    person = _get_person(request, pk)
    form = ConsentForm(request.POST)
    if form.is_valid():
        try:
            services.record_consent(user, person, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Recorded the consent decision."))
            return redirect("customers:person-detail", pk=pk)
    return _render_person(request, person, {"consent": form})


@login_required
@require_GET
def lookup(request: HttpRequest) -> HttpResponse:
    """`<option>`s of visible records matching the typed text, for the search-as-you-type lists."""
    user = _user(request)
    record_type = request.GET.get("type") or request.GET.get("target_type") or "account"
    term = next(
        (request.GET.get(k, "") for k in ("q", "party", "target", "parent") if request.GET.get(k, "").strip()), ""
    ).strip()[:100]
    results: list[Any] = []
    if term and "·" not in term:
        if record_type == "person":
            people = queries.visible_people(user)
            results = list(queries.search_people(people, term).order_by("full_name", "pk")[:10])
            if term.isdigit():
                results = list(people.filter(pk=int(term))) + [r for r in results if r.pk != int(term)]
        else:
            accounts = queries.visible_accounts(user)
            results = list(queries.search_accounts(accounts, term).order_by("name", "pk")[:10])
            if term.isdigit():
                results = list(accounts.filter(pk=int(term))) + [r for r in results if r.pk != int(term)]
    return render(request, "customers/_lookup_options.html", {"results": results})


# ---------------------------------------------------------------------------------------------
# Settings: tags and custom attributes (admins only)


def _require_admin(request: HttpRequest) -> User:
    user = _user(request)
    if not access.can_manage_settings(user):
        raise PermissionDenied(_("Only an admin may change settings."))
    return user


@login_required
@require_GET
def tag_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    return render(request, "customers/settings/tag_list.html", {"tags": Tag.objects.order_by("name")})


def _tag_form(request: HttpRequest, tag: Tag | None) -> HttpResponse:
    user = _require_admin(request)
    initial = {"name": tag.name, "color": tag.color} if tag else None
    form = TagForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if tag is None:
                saved = services.create_tag(user, form.cleaned_data["name"], form.cleaned_data["color"])
            else:
                saved = services.update_tag(user, tag, form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved the tag “%(name)s”.") % {"name": saved.name})
            return redirect("customers:tag-list")
    return render(
        request,
        "customers/settings/tag_form.html",
        {"form": form, "tag": tag},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def tag_create(request: HttpRequest) -> HttpResponse:
    return _tag_form(request, None)


@login_required
def tag_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    return _tag_form(request, get_object_or_404(Tag, pk=pk))


@login_required
def tag_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require_admin(request)
    tag = get_object_or_404(Tag, pk=pk)
    if request.method == "POST":
        services.delete_tag(user, tag)
        messages.success(request, _("Deleted the tag “%(name)s”.") % {"name": tag.name})
        return redirect("customers:tag-list")
    return render(
        request,
        "customers/confirm_delete.html",
        {"object": tag, "kind": "tag", "cancel_url": reverse("customers:tag-list")},
    )


@login_required
@require_GET
def attribute_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    return render(
        request,
        "customers/settings/attribute_list.html",
        {"definitions": AttributeDefinition.objects.order_by("target", "position", "key")},
    )


def _attribute_form(request: HttpRequest, definition: AttributeDefinition | None) -> HttpResponse:
    user = _require_admin(request)
    form = AttributeDefinitionForm(request.POST or None, instance=definition)
    if request.method == "POST" and form.is_valid():
        try:
            if definition is None:
                saved = services.create_attribute_definition(user, form.service_data())
            else:
                data = form.service_data()
                for fixed in ("target", "key", "data_type"):
                    data.pop(fixed, None)
                saved = services.update_attribute_definition(user, definition, data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved the custom attribute “%(label)s”.") % {"label": saved.label})
            return redirect("customers:attribute-list")
    return render(
        request,
        "customers/settings/attribute_form.html",
        {"form": form, "definition": definition},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def attribute_create(request: HttpRequest) -> HttpResponse:
    return _attribute_form(request, None)


@login_required
def attribute_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    return _attribute_form(request, get_object_or_404(AttributeDefinition, pk=pk))


@login_required
def attribute_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require_admin(request)
    definition = get_object_or_404(AttributeDefinition, pk=pk)
    if request.method == "POST":
        services.delete_attribute_definition(user, definition)
        messages.success(request, _("Deleted the custom attribute “%(label)s”.") % {"label": definition.label})
        return redirect("customers:attribute-list")
    return render(
        request,
        "customers/confirm_delete.html",
        {"object": definition, "kind": "attribute", "cancel_url": reverse("customers:attribute-list")},
    )
