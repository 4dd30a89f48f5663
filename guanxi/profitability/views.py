"""Profitability pages: the overview, the review list of customers served at a loss with its
actions, the cost settings and the acquisition-cost grid (admins), and "Run now".

Pages read the latest run's stored rows and summary, so they cost a fixed handful of queries
however many customers and orders there are; every write goes through `profitability.services`.
"""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from guanxi.commerce.models import PriceList
from guanxi.core.pagination import InvalidCursorError, capped_count, keyset_page, parse_ordering
from guanxi.customers import queries as customer_queries
from guanxi.customers import services as customer_services
from guanxi.customers.models import ServiceLevel
from guanxi.leads.models import LeadSource
from guanxi.profitability import charts, permissions, queries, services, tasks
from guanxi.profitability.forms import ReviewActionForm, SettingsForm
from guanxi.profitability.models import AcquisitionCost
from guanxi.staff.models import Team, User

PAGE_SIZE = 25
MAX_SELECTED = 500
REVIEW_SORT_LABELS = {
    "profit_cents": gettext_lazy("Profit"),
    "revenue_cents": gettext_lazy("Revenue"),
    "cost_to_serve_cents": gettext_lazy("Cost to serve"),
    "name": gettext_lazy("Name"),
}


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # login_required runs first
        raise PermissionDenied
    return user


def _source_labels() -> dict[str, str]:
    return {value: str(label) for value, label in LeadSource.choices}


def _acquisition_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    labels = _source_labels()
    return [
        {**row, "label": labels.get(row["source"], row["source"]), "colour": charts.ratio_colour(row["clv_to_cac"])}
        for row in rows
    ]


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not permissions.can_view_overview(user):
        raise PermissionDenied(_("The profitability overview is for admins, analysts, marketers and sales managers."))
    run = queries.latest_run()
    results: dict[str, Any] = run.results if run else {}
    sources = results.get("sources", [])
    context = {
        "run": run,
        "currency": results.get("currency", ""),
        "totals": results.get("totals", {}),
        "histogram": results.get("histogram", []),
        "distribution": charts.profit_distribution(results.get("histogram", [])),
        "sources": _acquisition_rows(sources),
        "ratio_bars": charts.clv_to_cac_by_source(sources, _source_labels()),
        "has_ratio": any(row["clv_to_cac"] is not None for row in sources),
        "cohorts": _acquisition_rows(results.get("cohorts", [])),
        "recent_runs": list(queries.runs()[:5]),
        "can_run": permissions.can_run(user),
        "can_edit_settings": permissions.can_edit_settings(user),
    }
    return render(request, "profitability/overview.html", context)


@login_required
@require_POST
def run_start(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not permissions.can_run(user):
        raise PermissionDenied(_("Only an admin, an analyst or a sales manager may start a profitability run."))
    tasks.run_profitability.enqueue(actor_id=user.pk)
    messages.success(request, _("The profitability run has started; the figures change when it finishes."))
    return redirect("profitability:overview")


def _columns(ordering: str) -> dict[str, dict[str, Any]]:
    columns = {}
    for field, label in REVIEW_SORT_LABELS.items():
        active = ordering.lstrip("-") == field
        descending = ordering.startswith("-")
        columns[field] = {
            "field": field,
            "label": label,
            "ordering": f"-{field}" if active and not descending else field,
            "direction": ("desc" if descending else "asc") if active else "",
        }
    return columns


@login_required
@require_GET
def review(request: HttpRequest) -> HttpResponse:
    """Customers served at a loss, biggest loss first, each with its actions."""
    user = _user(request)
    run = queries.latest_run()
    filters = queries.ReviewFilters.from_query(request.GET)
    rows = queries.filter_rows(queries.visible_rows(user, run), filters)
    ordering = parse_ordering(request.GET.get("ordering"), queries.REVIEW_ORDERING, "profit_cents")
    cursor = request.GET.get("cursor") or None
    listed = queries.with_customers(rows)
    try:
        page = keyset_page(listed, ordering=ordering, cursor=cursor, size=PAGE_SIZE)
    except InvalidCursorError:
        cursor = None
        page = keyset_page(listed, ordering=ordering, cursor=None, size=PAGE_SIZE)
    total, more = capped_count(rows)
    try:
        position = max(1, int(request.GET.get("pos", "1"))) if cursor else 1
    except ValueError:
        position = 1
    context = {
        "run": run,
        "currency": run.results.get("currency", "") if run else "",
        "items": page.items,
        "page": page,
        "total": total,
        "total_more": more,
        "first": position,
        "last": position + len(page.items) - 1,
        "next_pos": position + len(page.items),
        "prev_pos": max(1, position - PAGE_SIZE),
        "columns": _columns(ordering),
        "ordering": ordering,
        "filters": filters,
        "is_filtered": filters.active,
        "owners": list(User.objects.filter(is_active=True).order_by("username")),
        "teams": list(Team.objects.order_by("name").only("pk", "name")),
        "actions": ReviewActionForm.ACTIONS,
        "price_lists": list(PriceList.objects.filter(is_active=True).order_by("name"))
        if permissions.can_reprice(user)
        else [],
        "service_levels": ServiceLevel.choices,
        "can_reprice": permissions.can_reprice(user),
    }
    return render(request, "profitability/review.html", context)


def _ids(request: HttpRequest) -> list[int]:
    ids = []
    for raw in request.POST.getlist("ids")[:MAX_SELECTED]:
        if raw.isdigit():
            ids.append(int(raw))
    return ids


def _action_input(request: HttpRequest) -> tuple[dict[str, str], list[int]]:
    """The bulk bar's fields and ticked rows, or one row's button: `row_action=<action>:<row id>[:<value>]`."""
    row_action = request.POST.get("row_action", "")
    if row_action:
        parts = row_action.split(":")
        if len(parts) >= 2 and parts[1].isdigit():
            data = {"action": parts[0]}
            value = parts[2] if len(parts) > 2 else ""
            if parts[0] == "price_list":
                data["price_list"] = value
            elif parts[0] == "service_level":
                data["service_level"] = value
            return data, [int(parts[1])]
        return {}, []
    data = {key: request.POST.get(key, "") for key in ("action", "price_list", "service_level")}
    return data, _ids(request)


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("profitability:review")


@login_required
@require_POST
def review_action(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    data, ids = _action_input(request)
    form = ReviewActionForm(data)
    if not ids:
        messages.error(request, _("Select at least one customer."))
        return _back(request)
    if not form.is_valid():
        messages.error(request, _("Choose an action."))
        return _back(request)
    rows = list(queries.with_customers(queries.visible_rows(user, queries.latest_run()).filter(pk__in=ids)))
    try:
        result = services.apply_review_action(
            user,
            rows,
            form.cleaned_data["action"],
            price_list=form.cleaned_data["price_list"],
            service_level=form.cleaned_data["service_level"] or "",
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return _back(request)
    if result.skipped:
        messages.warning(
            request,
            _("Changed %(changed)d customers; %(skipped)d were already so or are not yours to change.")
            % {"changed": result.changed, "skipped": result.skipped},
        )
    else:
        messages.success(request, _("Changed %(changed)d customers.") % {"changed": result.changed})
    return _back(request)


def _require_settings(request: HttpRequest) -> User:
    user = _user(request)
    if not permissions.can_edit_settings(user):
        raise PermissionDenied(_("Only an admin may change the profitability settings."))
    return user


@login_required
def settings_view(request: HttpRequest) -> HttpResponse:
    user = _require_settings(request)
    form = SettingsForm(request.POST or None, settings=services.current_settings(), costs=services.activity_costs())
    if request.method == "POST" and form.is_valid():
        try:
            services.update_settings(
                user,
                currency=form.cleaned_data["currency"],
                ticket_cost=form.cleaned_data["ticket_cost"],
                activity_costs=form.activity_costs(),
            )
        except ValidationError as exc:
            for key, errors in exc.message_dict.items():
                form.add_error(key if key in form.fields else None, errors)
        else:
            messages.success(request, _("Saved the profitability settings."))
            return redirect("profitability:settings")
    return render(
        request,
        "profitability/settings.html",
        {"form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


def _year(request: HttpRequest) -> int:
    raw = request.GET.get("year") or request.POST.get("year") or ""
    this_year = timezone.localdate().year
    return int(raw) if raw.isdigit() and 2000 <= int(raw) <= this_year + 1 else this_year


@login_required
def acquisition_costs(request: HttpRequest) -> HttpResponse:
    """Spending per source (rows) and month (columns) of one year, entered as a grid."""
    user = _require_settings(request)
    year = _year(request)
    months = [dt.date(year, m, 1) for m in range(1, 13)]
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        entries: dict[tuple[str, dt.date], Any] = {}
        for source in LeadSource.values:
            for month in months:
                name = f"cost-{source}-{month:%Y-%m}"
                if name in request.POST:
                    entries[(source, month)] = request.POST[name].strip()
        try:
            changed = services.save_acquisition_costs(user, entries)
        except ValidationError as exc:
            errors = exc.message_dict
            messages.error(request, _("Some amounts are not valid; nothing was saved."))
        else:
            messages.success(request, _("Saved %(changed)d acquisition costs.") % {"changed": changed})
            return redirect(f"{request.path}?year={year}")
    saved = {
        (row.source, row.month): row.amount
        for row in AcquisitionCost.objects.filter(month__year=year).only("source", "month", "amount")
    }
    grid = []
    for source, label in LeadSource.choices:
        cells = []
        for month in months:
            key = f"{source}:{month:%Y-%m}"
            name = f"cost-{source}-{month:%Y-%m}"
            posted = request.POST.get(name) if errors else None
            amount: Decimal | None = saved.get((source, month))
            cells.append(
                {
                    "name": name,
                    "value": posted if posted is not None else ("" if amount is None else amount),
                    "errors": errors.get(key, []),
                    "month": month,
                }
            )
        grid.append(
            {
                "source": source,
                "label": label,
                "cells": cells,
                "total": sum(saved.get((source, m)) or 0 for m in months),
            }
        )
    return render(
        request,
        "profitability/acquisition_costs.html",
        {"year": year, "months": months, "grid": grid, "previous_year": year - 1, "next_year": year + 1},
        status=400 if errors else 200,
    )


@login_required
@require_POST
def service_level(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """The panel's service-level form: back to the customer page with the outcome."""
    user = _user(request)
    level = request.POST.get("service_level", "")
    if kind == "account":
        account = get_object_or_404(customer_queries.visible_accounts(user), pk=pk)
        target = reverse("customers:account-detail", args=[pk])
        call: Callable[[], object] = lambda: customer_services.set_service_level(user, account, level)  # noqa: E731  # one call site per record type keeps the types exact
    elif kind == "person":
        person = get_object_or_404(customer_queries.visible_people(user), pk=pk)
        target = reverse("customers:person-detail", args=[pk])
        call = lambda: customer_services.set_service_level(user, person, level)  # noqa: E731  # as above
    else:
        raise Http404
    try:
        call()
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Saved the service level."))
    return redirect(f"{target}#profitability")
