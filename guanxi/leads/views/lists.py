"""The lead list: search, filters, sorting, keyset pages and bulk actions."""

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
from guanxi.customers.forms.common import assignable_users, filterable_users
from guanxi.leads import queries, services
from guanxi.leads.forms import OPEN_STATUSES, LeadBulkForm, LeadFilterForm
from guanxi.leads.models import LeadStatus
from guanxi.leads.views.common import request_user, safe_next
from guanxi.staff import access
from guanxi.staff.models import User

PAGE_SIZE = 25
SORT_LABELS = {"created_at": gettext_lazy("Created on"), "score": gettext_lazy("Score")}


@login_required
@require_GET
def lead_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    assignable = list(assignable_users(user))
    reads_all = user.role in access.READ_ALL_ROLES and not user.is_admin
    users = list(filterable_users(user)) if reads_all else assignable
    filter_form = LeadFilterForm(request.GET, users=users)
    filters = queries.LeadFilters.from_query(request.GET)
    queryset = queries.filter_leads(queries.visible_leads(user), filters, user)
    ordering = parse_ordering(request.GET.get("ordering"), queries.LEAD_ORDERING, "-created_at")
    cursor = request.GET.get("cursor") or None
    branches = queries.visible_lead_branches(user)
    rows = queries.lead_list_rows(queryset)
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
    for field in queries.LEAD_ORDERING:
        active = ordering.lstrip("-") == field
        descending = ordering.startswith("-")
        columns.append(
            {
                "field": field,
                "label": SORT_LABELS[field],
                "ordering": f"-{field}" if not active or not descending else field,
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
        "columns": columns,
        "ordering": ordering,
        "is_filtered": filters.any,
        "assignable_users": assignable,
        "statuses": OPEN_STATUSES,
        "can_claim": access.can_claim(user),
        "bulk_actions": LeadBulkForm.ACTIONS,
    }
    return render(request, "leads/lead_list.html", context)


@login_required
@require_POST
def lead_bulk(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = LeadBulkForm(request.POST)
    target = safe_next(request, request.POST.get("next"), reverse("leads:lead-list"))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(target)
    ids: list[int] = form.cleaned_data["ids"]
    action = form.cleaned_data["action"]
    try:
        if action == "assign":
            value = str(form.cleaned_data["owner"])
            owner = User.objects.filter(pk=int(value), is_active=True).first() if value.isdigit() else None
            if owner is None:
                raise ValidationError({"owner": [_("Choose an owner.")]})
            count = services.bulk_assign_leads(user, ids, owner)
            message = _("Assigned %(count)s to %(owner)s.") % {"count": count, "owner": owner}
        elif action == "status":
            status = form.cleaned_data["status"]
            count = services.bulk_set_lead_status(user, ids, status, reason=form.cleaned_data["reason"])
            message = _("Moved %(count)s to the status “%(status)s”.") % {
                "count": count,
                "status": LeadStatus(status).label,
            }
        else:
            count = services.claim_leads(user, ids)
            message = _("Claimed %(count)s from the shared pool.") % {"count": count}
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
        return redirect(target)
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not do this."))
        return redirect(target)
    messages.success(request, message)
    skipped = len(ids) - count
    if skipped:
        messages.info(
            request,
            ngettext(
                "%(count)s selected lead was left unchanged (already so, or you may not change it).",
                "%(count)s selected leads were left unchanged (already so, or you may not change them).",
                skipped,
            )
            % {"count": skipped},
        )
    return redirect(target)
