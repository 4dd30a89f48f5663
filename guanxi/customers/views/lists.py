"""The account and contact lists: filters, sorting and keyset paging, bulk actions, and the
search-as-you-type lookups the record pages use to pick another record."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from guanxi.core.models import Tag
from guanxi.core.pagination import InvalidCursorError, capped_count, keyset_page, parse_ordering
from guanxi.customers import queries, services
from guanxi.customers.forms.common import assignable_users, attribute_definitions, filterable_users
from guanxi.customers.forms.lists import BulkForm, FilterForm
from guanxi.customers.models import LifecycleStage, LostReason
from guanxi.customers.views.common import ACCOUNTS, PEOPLE, PartyKind, request_user, safe_next
from guanxi.staff import access
from guanxi.staff.models import User

PAGE_SIZE = 25
SORT_LABELS = {
    "name": gettext_lazy("Name"),
    "full_name": gettext_lazy("Name"),
    "created_at": gettext_lazy("Created on"),
    "updated_at": gettext_lazy("Last updated"),
}


def _party_list(request: HttpRequest, kind: PartyKind) -> HttpResponse:
    user = request_user(request)
    definitions = attribute_definitions(kind.name)
    assignable = list(assignable_users(user))
    # Owners to filter by: those whose records the user may see; for most roles the same users.
    reads_all = user.role in access.READ_ALL_ROLES and not user.is_admin
    users = list(filterable_users(user)) if reads_all else assignable
    tags = list(Tag.objects.order_by("name")[:500])
    filter_form = FilterForm(
        request.GET, users=users, tags=tags, definitions=definitions, for_accounts=kind.name == "account"
    )
    filters = queries.PartyFilters.from_query(request.GET)
    queryset = kind.filter(kind.visible(user), filters, user)
    ordering = parse_ordering(request.GET.get("ordering"), kind.orderings, kind.default_ordering)
    cursor = request.GET.get("cursor") or None
    branches = kind.visible_branches(user)
    try:
        page = keyset_page(
            kind.rows(queryset, user), ordering=ordering, cursor=cursor, size=PAGE_SIZE, branches=branches
        )
    except InvalidCursorError:
        cursor = None
        page = keyset_page(kind.rows(queryset, user), ordering=ordering, cursor=None, size=PAGE_SIZE, branches=branches)
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
        "lost_reasons": LostReason.choices,
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
    user = request_user(request)
    form = BulkForm(request.POST)
    target = safe_next(request, request.POST.get("next"), kind.url("list"))
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
            lost_reason = form.cleaned_data["lost_reason"] if stage == LifecycleStage.LOST else ""
            count = services.bulk_set_stage(user, model, ids, stage, lost_reason=lost_reason)
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


@login_required
@require_GET
def lookup(request: HttpRequest) -> HttpResponse:
    """`<option>`s of visible records matching the typed text, for the search-as-you-type lists."""
    user = request_user(request)
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
