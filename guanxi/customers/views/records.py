"""The account and contact record pages, and the actions posted from them: lifecycle stage,
roles, relationships and consent.

An action whose input is refused shows the record page again with the form's errors (status 400).
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from guanxi.core.history import history_for
from guanxi.core.models import AttributeDefinition
from guanxi.core.panels import panels_for
from guanxi.core.timeline import Filters, collect, kinds_for
from guanxi.customers import queries, services
from guanxi.customers.forms.common import add_service_errors, attribute_definitions
from guanxi.customers.forms.records import ConsentForm, RelationshipForm, RoleForm, StageForm
from guanxi.customers.models import Account, Channel, ConsentPurpose, LifecycleStage, Person, Relationship, Role
from guanxi.customers.normalise import format_phone
from guanxi.customers.views.common import get_account, get_person, request_user, safe_next
from guanxi.staff.models import User

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


#: Panels registered with a lower order are shown at the top of the page, above the details.
TOP_PANEL_ORDER = 10


def _panels(request: HttpRequest, record_type: str, record: Account | Person) -> dict[str, list[Any]]:
    """Other apps' panels, split into those asking to be at the top (relationship health) and the rest."""
    top: list[Any] = []
    rest: list[Any] = []
    for panel in panels_for(record_type):
        html = panel.render(request, record)
        if html:
            (top if panel.order < TOP_PANEL_ORDER else rest).append(html)
    return {"top_panels": top, "panels": rest}


TIMELINE_FRAGMENTS = {
    "timeline": "customers/_timeline_entries.html",
    "timeline-items": "customers/_timeline_items.html",
}


def _timeline(request: HttpRequest, record_type: str, record: Account | Person) -> dict[str, Any]:
    """One page of the record's unified timeline, with the filters read from the query string."""
    kinds = kinds_for(record_type)
    filters = Filters.from_query(request.GET, [kind for kind, _label in kinds])
    page = collect(request, record_type, record, filters.window())
    older = urlencode([*filters.query_items(), ("before", page.next_cursor)]) if page.next_cursor else ""
    return {
        "timeline": page,
        "timeline_filters": filters,
        "timeline_kinds": [(kind, label, kind in filters.kinds) for kind, label in kinds],
        "timeline_older_query": older,
        # The record page itself, also when an action's refused form re-renders it at the action's URL.
        "timeline_record_path": reverse(
            "customers:account-detail" if isinstance(record, Account) else "customers:person-detail", args=[record.pk]
        ),
    }


def _timeline_fragment(request: HttpRequest, record_type: str, record: Account | Person) -> HttpResponse | None:
    """The timeline alone, for htmx: filtered ("timeline") or the next older entries ("timeline-items")."""
    template = TIMELINE_FRAGMENTS.get(request.GET.get("fragment") or "")
    if template is None:
        return None
    return render(request, template, _timeline(request, record_type, record))


def _stage_history(party: Account | Person) -> QuerySet[Any]:
    return party.lifecycle_changes.select_related("changed_by")[:20]


def _account_context(request: HttpRequest, account: Account, forms: dict[str, Any] | None = None) -> dict[str, Any]:
    user = request_user(request)
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
        **_panels(request, "customers.account", account),
        **_timeline(request, "customers.account", account),
        "history": _history(account, definitions),
        "stage_form": forms.get("stage") or StageForm(initial={"stage": account.lifecycle_stage}),
        "role_form": forms.get("role") or RoleForm(party_label=_("Contact")),
        "relationship_form": forms.get("relationship") or RelationshipForm(initial={"target_type": "account"}),
    }


def _person_context(request: HttpRequest, person: Person, forms: dict[str, Any] | None = None) -> dict[str, Any]:
    user = request_user(request)
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
        **_panels(request, "customers.person", person),
        **_timeline(request, "customers.person", person),
        "history": _history(person, definitions),
        "stage_form": forms.get("stage") or StageForm(initial={"stage": person.lifecycle_stage}),
        "role_form": forms.get("role") or RoleForm(party_label=_("Account")),
        "relationship_form": forms.get("relationship") or RelationshipForm(initial={"target_type": "person"}),
        "consent_form": forms.get("consent") or ConsentForm(),
    }


def _render_account(request: HttpRequest, account: Account, forms: dict[str, Any] | None = None) -> HttpResponse:
    status = 400 if forms else 200
    return render(request, "customers/account_detail.html", _account_context(request, account, forms), status=status)


def _render_person(request: HttpRequest, person: Person, forms: dict[str, Any] | None = None) -> HttpResponse:
    status = 400 if forms else 200
    return render(request, "customers/person_detail.html", _person_context(request, person, forms), status=status)


@login_required
@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account(request, pk)
    return _timeline_fragment(request, "customers.account", account) or _render_account(request, account)


@login_required
@require_GET
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_person(request, pk)
    return _timeline_fragment(request, "customers.person", person) or _render_person(request, person)


# ---------------------------------------------------------------------------------------------
# Record page actions: stage, roles, relationships, consent


def _stage(request: HttpRequest, party: Account | Person, render_page: Callable[..., HttpResponse]) -> HttpResponse:
    form = StageForm(request.POST)
    if form.is_valid():
        try:
            stage, reason = form.cleaned_data["stage"], form.cleaned_data["reason"]
            lost_reason = form.cleaned_data["lost_reason"] if stage == LifecycleStage.LOST else ""
            if isinstance(party, Account):
                services.set_lifecycle_stage(
                    request_user(request), party, stage, reason=reason, lost_reason=lost_reason
                )
            else:
                services.set_lifecycle_stage(
                    request_user(request), party, stage, reason=reason, lost_reason=lost_reason
                )
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
    return _stage(request, get_account(request, pk), _render_account)


@login_required
@require_POST
def person_stage(request: HttpRequest, pk: int) -> HttpResponse:
    return _stage(request, get_person(request, pk), _render_person)


@login_required
@require_POST
def person_role_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    person = get_person(request, pk)
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
    user = request_user(request)
    account = get_account(request, pk)
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
    user = request_user(request)
    role = get_object_or_404(
        Role.objects.select_related("person", "account").filter(
            person__in=queries.visible_people(user), account__in=queries.visible_accounts(user)
        ),
        pk=pk,
    )
    fallback = reverse("customers:person-detail", args=[role.person_id])
    services.remove_role(user, role)
    messages.success(request, _("Removed the role."))
    return redirect(safe_next(request, request.POST.get("next"), fallback))


def _relationship_add(
    request: HttpRequest, source: Account | Person, render_page: Callable[..., HttpResponse], detail_url: str
) -> HttpResponse:
    user = request_user(request)
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
    account = get_account(request, pk)
    return _relationship_add(request, account, _render_account, reverse("customers:account-detail", args=[pk]))


@login_required
@require_POST
def person_relationship_add(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_person(request, pk)
    return _relationship_add(request, person, _render_person, reverse("customers:person-detail", args=[pk]))


@login_required
@require_POST
def relationship_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
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
    return redirect(safe_next(request, request.POST.get("next"), fallback))


@login_required
@require_POST
def person_consent(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    person = get_person(request, pk)
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
