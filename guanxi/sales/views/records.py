"""An opportunity's page and everything changed from it: edit, stage moves (also the board's
drag and drop), contacts with roles, line items and competitors. Each write is one service call."""

import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.core.history import history_for
from guanxi.core.panels import render_panels
from guanxi.customers.forms.common import add_service_errors, assignable_users
from guanxi.customers.models import Source
from guanxi.sales import services
from guanxi.sales.forms import (
    CompetitorEditForm,
    CompetitorForm,
    ContactEditForm,
    ContactForm,
    LineForm,
    MoveForm,
    OpportunityForm,
)
from guanxi.sales.models import (
    CompetitorOffer,
    ContactRole,
    Opportunity,
    OpportunityContact,
    OpportunityLine,
    StageKind,
)
from guanxi.sales.views.common import can_edit, get_opportunity, report_errors, request_user, safe_next


def _stays(opportunity: Opportunity) -> list[dict[str, Any]]:
    """Each stage the deal passed through, when it entered and how long it stayed."""
    changes = list(opportunity.stage_changes.select_related("to_stage", "changed_by").order_by("changed_at", "id"))
    now = timezone.now()
    stays = []
    for index, change in enumerate(changes):
        left = changes[index + 1].changed_at if index + 1 < len(changes) else None
        duration: datetime.timedelta = (left or now) - change.changed_at
        stays.append({"change": change, "days": duration.total_seconds() / 86400, "current": left is None})
    return stays


def _history(opportunity: Opportunity) -> list[dict[str, Any]]:
    entries = []
    for record in history_for(opportunity)[:50]:
        changes = []
        for key, pair in sorted(record.changes.items()):
            old, new = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
            old_text = "—" if old in (None, "") else str(old)
            new_text = "—" if new in (None, "") else str(new)
            if old_text == new_text:
                continue
            try:
                label = str(Opportunity._meta.get_field(key).verbose_name).capitalize()  # type: ignore[union-attr]
            except Exception:  # contacts, lines, competitors: not model fields
                label = key
            changes.append({"label": label, "old": old_text, "new": new_text})
        entries.append({"record": record, "changes": changes})
    return entries


@login_required
def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    opportunity = get_opportunity(request, pk)
    editable = can_edit(user, opportunity)
    stages = list(opportunity.pipeline.stages.order_by("position", "id"))
    context = {
        "opportunity": opportunity,
        "can_edit": editable,
        "stages": stages,
        "move_form": MoveForm(initial={"stage": opportunity.stage_id}),
        "contacts": opportunity.contacts.select_related("person").order_by("-is_primary", "id"),
        "lines": opportunity.lines.select_related("product"),
        "competitors": opportunity.competitors.select_related("competitor"),
        "contact_form": ContactForm(),
        "contact_roles": ContactRole.choices,
        "line_form": LineForm(),
        "competitor_form": CompetitorForm(),
        "source_label": dict(Source.choices).get(opportunity.source, opportunity.source),
        "stays": _stays(opportunity),
        "quotes": opportunity.quotes.order_by("-created_at"),
        "history": _history(opportunity),
        "panels": render_panels(request, "sales.opportunity", opportunity),
    }
    return render(request, "sales/opportunity_detail.html", context)


@login_required
def opportunity_create(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    initial: dict[str, Any] = {"owner": user.pk}
    for key in ("account", "person"):
        if request.GET.get(key, "").isdigit():
            initial[key] = request.GET[key]
    form = OpportunityForm(request.POST or None, users=assignable_users(user), creating=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            opportunity = services.create_opportunity(user, form.service_data())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Created the opportunity %(name)s.") % {"name": opportunity.name})
            return redirect("sales:opportunity-detail", pk=opportunity.pk)
    return render(
        request, "sales/opportunity_form.html", {"form": form}, status=400 if form.is_bound and form.errors else 200
    )


@login_required
def opportunity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    opportunity = get_opportunity(request, pk)
    if not can_edit(user, opportunity):
        raise PermissionDenied(_("You may not change this opportunity."))
    initial = {
        "name": opportunity.name,
        "account": f"{opportunity.account_id} · {opportunity.account}" if opportunity.account_id else "",
        "person": f"{opportunity.person_id} · {opportunity.person}" if opportunity.person_id else "",
        "amount": opportunity.amount,
        "currency": opportunity.currency,
        "probability": opportunity.probability,
        "is_committed": opportunity.is_committed,
        "expected_close_date": opportunity.expected_close_date,
        "owner": opportunity.owner_id,
        "source": opportunity.source,
        "region": opportunity.region,
        "next_step": opportunity.next_step,
        "description": opportunity.description,
    }
    form = OpportunityForm(request.POST or None, users=assignable_users(user), creating=False, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_opportunity(user, opportunity, form.service_data())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("sales:opportunity-detail", pk=opportunity.pk)
    return render(
        request,
        "sales/opportunity_form.html",
        {"form": form, "opportunity": opportunity},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def opportunity_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    opportunity = get_opportunity(request, pk)
    if not can_edit(user, opportunity):
        raise PermissionDenied(_("You may not change this opportunity."))
    if request.method == "POST":
        services.delete_opportunity(user, opportunity)
        messages.success(request, _("Deleted the opportunity %(name)s.") % {"name": opportunity.name})
        return redirect("sales:opportunity-list")
    return render(request, "sales/confirm_delete.html", {"object": opportunity})


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def opportunity_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move to another stage: the detail page's form, the board's "Move to" form and its drag and drop.

    Answers JSON to the board's script (so it can update the columns) and redirects otherwise.
    """
    user = request_user(request)
    opportunity = get_opportunity(request, pk)
    fallback = reverse("sales:opportunity-detail", args=[pk])
    target = safe_next(request, request.POST.get("next"), fallback)
    form = MoveForm(request.POST)
    errors: dict[str, list[str]] = {}
    if form.is_valid():
        try:
            opportunity = services.move_opportunity(
                user,
                opportunity,
                form.cleaned_data["stage"],
                lost_reason=form.cleaned_data["lost_reason"],
                lost_note=form.cleaned_data["lost_note"],
            )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        except PermissionDenied as exc:
            if _wants_json(request):
                return JsonResponse({"errors": {"": [str(exc)]}}, status=403)
            raise
    else:
        errors = {key: [str(e) for e in value] for key, value in form.errors.items()}
    if _wants_json(request):
        if errors:
            return JsonResponse({"errors": errors}, status=400)
        return JsonResponse(
            {"id": opportunity.pk, "stage": opportunity.stage_id, "status": opportunity.status},
        )
    if errors:
        for messages_ in errors.values():
            for message in messages_:
                messages.error(request, message)
        if "lost_reason" in errors and opportunity.stage.kind != StageKind.LOST:
            return redirect(f"{fallback}?move_to={request.POST.get('stage', '')}#stage")
    else:
        messages.success(
            request,
            _("Moved %(name)s to %(stage)s.") % {"name": opportunity.name, "stage": opportunity.stage.name},
        )
    return redirect(target)


def _editable_opportunity(request: HttpRequest, pk: int) -> Opportunity:
    opportunity = get_opportunity(request, pk)
    if not can_edit(request_user(request), opportunity):
        raise PermissionDenied(_("You may not change this opportunity."))
    return opportunity


def _flash_form_errors(request: HttpRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else str(error))


@login_required
@require_POST
def contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _editable_opportunity(request, pk)
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            services.add_contact(
                request_user(request),
                opportunity,
                form.cleaned_data["person"],
                role=form.cleaned_data["role"],
                is_primary=form.cleaned_data["is_primary"],
            )
        except (ValidationError, PermissionDenied) as exc:
            report_errors(request, exc)
    else:
        _flash_form_errors(request, form)
    return redirect(reverse("sales:opportunity-detail", args=[pk]) + "#contacts")


@login_required
@require_POST
def contact_remove(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(OpportunityContact, pk=pk)
    _editable_opportunity(request, contact.opportunity_id)
    services.remove_contact(request_user(request), contact)
    return redirect(reverse("sales:opportunity-detail", args=[contact.opportunity_id]) + "#contacts")


@login_required
@require_POST
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(OpportunityContact, pk=pk)
    _editable_opportunity(request, contact.opportunity_id)
    form = ContactEditForm(request.POST)
    if form.is_valid():
        try:
            services.update_contact(request_user(request), contact, form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            report_errors(request, exc)
    else:
        _flash_form_errors(request, form)
    return redirect(reverse("sales:opportunity-detail", args=[contact.opportunity_id]) + "#contacts")


@login_required
@require_POST
def line_add(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _editable_opportunity(request, pk)
    form = LineForm(request.POST)
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        try:
            services.add_line(request_user(request), opportunity, data)
        except (ValidationError, PermissionDenied) as exc:
            report_errors(request, exc)
    else:
        _flash_form_errors(request, form)
    return redirect(reverse("sales:opportunity-detail", args=[pk]) + "#lines")


@login_required
@require_POST
def line_remove(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_object_or_404(OpportunityLine, pk=pk)
    _editable_opportunity(request, line.opportunity_id)
    services.remove_line(request_user(request), line)
    return redirect(reverse("sales:opportunity-detail", args=[line.opportunity_id]) + "#lines")


@login_required
@require_POST
def line_edit(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_object_or_404(OpportunityLine, pk=pk)
    _editable_opportunity(request, line.opportunity_id)
    form = LineForm(request.POST)
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        try:
            services.update_line(request_user(request), line, data)
        except (ValidationError, PermissionDenied) as exc:
            report_errors(request, exc)
    else:
        _flash_form_errors(request, form)
    return redirect(reverse("sales:opportunity-detail", args=[line.opportunity_id]) + "#lines")


@login_required
@require_POST
def competitor_add(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _editable_opportunity(request, pk)
    form = CompetitorForm(request.POST)
    if form.is_valid():
        try:
            services.add_competitor(
                request_user(request),
                opportunity,
                form.cleaned_data["competitor"],
                offer=form.cleaned_data["offer"],
                amount=form.cleaned_data["amount"],
            )
        except (ValidationError, PermissionDenied) as exc:
            report_errors(request, exc)
    else:
        _flash_form_errors(request, form)
    return redirect(reverse("sales:opportunity-detail", args=[pk]) + "#competitors")


@login_required
@require_POST
def competitor_edit(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(CompetitorOffer, pk=pk)
    _editable_opportunity(request, row.opportunity_id)
    form = CompetitorEditForm(request.POST)
    if form.is_valid():
        try:
            services.update_competitor(request_user(request), row, form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            report_errors(request, exc)
    else:
        _flash_form_errors(request, form)
    return redirect(reverse("sales:opportunity-detail", args=[row.opportunity_id]) + "#competitors")


@login_required
@require_POST
def competitor_remove(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(CompetitorOffer, pk=pk)
    _editable_opportunity(request, row.opportunity_id)
    services.remove_competitor(request_user(request), row)
    return redirect(reverse("sales:opportunity-detail", args=[row.opportunity_id]) + "#competitors")
