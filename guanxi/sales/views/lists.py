"""The opportunity list: filters, sorting, keyset pages and the bulk owner assignment."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from guanxi.core.pagination import InvalidCursorError, capped_count, keyset_page, parse_ordering
from guanxi.customers.forms.common import assignable_users
from guanxi.sales import queries, services
from guanxi.sales.forms import BulkForm, FilterForm
from guanxi.sales.views.common import filter_teams, filter_users, report_errors, request_user, safe_next
from guanxi.staff.models import User

PAGE_SIZE = 25
SORT_LABELS = {
    "created_at": gettext_lazy("Created on"),
    "updated_at": gettext_lazy("Last updated"),
    "name": gettext_lazy("Name"),
    "amount": gettext_lazy("Amount"),
}


@login_required
@require_GET
def opportunity_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    filters = queries.OpportunityFilters.from_query(request.GET)
    filter_form = FilterForm(request.GET, users=filter_users(user), teams=filter_teams(user))
    queryset = queries.filter_opportunities(queries.visible_opportunities(user), filters, user)
    ordering = parse_ordering(request.GET.get("ordering"), queries.OPPORTUNITY_ORDERING, "-created_at")
    cursor = request.GET.get("cursor") or None
    branches = queries.visible_opportunity_branches(user)
    rows = queries.list_rows(queryset)
    try:
        page = keyset_page(rows, ordering=ordering, cursor=cursor, size=PAGE_SIZE, branches=branches)
    except InvalidCursorError:
        cursor = None
        page = keyset_page(rows, ordering=ordering, cursor=None, size=PAGE_SIZE, branches=branches)
    total, more = capped_count(queryset)
    try:
        position = max(1, int(request.GET.get("pos", "1"))) if cursor else 1
    except ValueError:
        position = 1
    columns = []
    for field in queries.OPPORTUNITY_ORDERING:
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
    context = {
        "items": page.items,
        "page": page,
        "total": total,
        "total_more": more,
        "first": position,
        "last": position + len(page.items) - 1,
        "next_pos": position + len(page.items),
        "prev_pos": max(1, position - PAGE_SIZE),
        "filter_form": filter_form,
        "columns": {column["field"]: column for column in columns},
        "sort_columns": columns,
        "ordering": ordering,
        "is_filtered": filters.is_filtered,
        "assignable_users": list(assignable_users(user)),
    }
    return render(request, "sales/opportunity_list.html", context)


@login_required
@require_POST
def opportunity_bulk(request: HttpRequest) -> HttpResponse:
    """Assign the ticked deals to one owner (or release them to the pool with owner "pool")."""
    user = request_user(request)
    form = BulkForm(request.POST)
    target = safe_next(request, request.POST.get("next"), reverse("sales:opportunity-list"))
    if not form.is_valid():
        messages.error(request, _("Tick at least one opportunity."))
        return redirect(target)
    ids: list[int] = form.cleaned_data["ids"]
    owner_value = str(form.cleaned_data["owner"] or "")
    owner: User | None = None
    if owner_value != "pool":
        owner = User.objects.filter(pk=int(owner_value), is_active=True).first() if owner_value.isdigit() else None
        if owner is None:
            messages.error(request, _("Choose an owner."))
            return redirect(target)
    try:
        count = services.bulk_assign_owner(user, ids, owner)
    except (ValidationError, PermissionDenied) as exc:
        report_errors(request, exc)
        return redirect(target)
    messages.success(
        request,
        ngettext(
            "Assigned %(count)s opportunity to %(owner)s.", "Assigned %(count)s opportunities to %(owner)s.", count
        )
        % {"count": count, "owner": str(owner) if owner else _("Shared pool")},
    )
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
