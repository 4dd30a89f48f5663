"""A lead's page, its create and edit forms, its status, and its conversion."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.core.history import history_for
from guanxi.core.panels import render_panels
from guanxi.customers.forms.common import add_service_errors, assignable_users
from guanxi.customers.models import Account, Person
from guanxi.leads import queries, scoring, services
from guanxi.leads.forms import ConvertForm, LeadForm, StatusForm
from guanxi.leads.models import Lead, LeadStatus
from guanxi.leads.views.common import get_lead, request_user


def _history(lead: Lead) -> list[dict[str, Any]]:
    entries = []
    for record in history_for(lead)[:50]:
        changes = []
        for key, pair in sorted(record.changes.items()):
            old, new = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
            if old in (None, "", []) and new in (None, "", []):
                continue
            try:
                label = str(Lead._meta.get_field(key).verbose_name).capitalize()  # type: ignore[union-attr]
            except Exception:
                label = key
            changes.append({"label": label, "old": "—" if old in (None, "") else old, "new": new})
        entries.append({"record": record, "changes": changes})
    return entries


@login_required
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    lead = get_lead(request, pk)
    can_edit = queries.editable_leads(user).filter(pk=lead.pk).exists()
    suggested = scoring.grade_for(lead.score, scoring.grade_bands())
    context = {
        "lead": lead,
        "can_edit": can_edit and lead.status != LeadStatus.CONVERTED,
        "can_convert": can_edit and lead.status == LeadStatus.QUALIFIED,
        "suggested_grade": suggested,
        "status_form": StatusForm(initial={"status": lead.status, "reason": lead.disqualified_reason}),
        "panels": render_panels(request, "leads.lead", lead),
        "history": _history(lead),
    }
    return render(request, "leads/lead_detail.html", context)


@login_required
def lead_create(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    users = list(assignable_users(user))
    form = LeadForm(request.POST or None, users=users)
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.create_lead(user, form.service_data(users))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Created the lead %(name)s.") % {"name": lead})
            return redirect("leads:lead-detail", pk=lead.pk)
    return render(request, "leads/lead_form.html", {"form": form}, status=400 if form.is_bound and form.errors else 200)


@login_required
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    lead = get_lead(request, pk)
    if not queries.editable_leads(user).filter(pk=lead.pk).exists():
        raise PermissionDenied
    users = list(assignable_users(user))
    if lead.owner is not None and lead.owner not in users:
        users.append(lead.owner)
    form = LeadForm(request.POST or None, instance=lead, users=users)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_lead(user, lead, form.service_data(users))
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Saved the lead."))
            return redirect("leads:lead-detail", pk=lead.pk)
    return render(
        request,
        "leads/lead_form.html",
        {"form": form, "lead": lead},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
@require_POST
def lead_status(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    lead = get_lead(request, pk)
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            services.set_lead_status(user, lead, form.cleaned_data["status"], reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            for error in exc.messages:
                messages.error(request, error)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Status changed."))
    else:
        messages.error(request, _("Choose a status."))
    return redirect("leads:lead-detail", pk=lead.pk)


@login_required
def lead_convert(request: HttpRequest, pk: int) -> HttpResponse:
    """Show who the lead may already be (accounts and contacts found by the duplicate check),
    let the user link one or create new, and convert in one go."""
    user = request_user(request)
    lead = get_lead(request, pk)
    if not queries.editable_leads(user).filter(pk=lead.pk).exists():
        raise PermissionDenied
    if lead.status != LeadStatus.QUALIFIED:
        messages.error(request, _("Only a qualified lead can be converted."))
        return redirect("leads:lead-detail", pk=lead.pk)
    accounts = queries.account_candidates(user, lead)
    people = queries.person_candidates(user, lead)
    account_choices = [(str(m.record.pk), str(m.record)) for m in accounts]
    if lead.company_name:
        account_choices.append(("new", _("Create a new account “%(name)s”") % {"name": lead.company_name}))
    account_choices.append(("none", _("No account (an individual customer)")))
    person_choices = [(str(m.record.pk), str(m.record)) for m in people]
    person_choices.append(("new", _("Create a new contact “%(name)s”") % {"name": lead.full_name or "—"}))
    form = ConvertForm(
        request.POST or None,
        account_choices=account_choices,
        person_choices=person_choices,
        initial={"opportunity_name": lead.company_name or lead.full_name},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        account_value, person_value = data["account"] or "none", data["person"] or "new"
        account = Account.objects.filter(pk=int(account_value)).first() if account_value.isdigit() else None
        person = Person.objects.filter(pk=int(person_value)).first() if person_value.isdigit() else None
        opportunity_data = {
            key: value
            for key, value in (
                ("name", data["opportunity_name"]),
                ("amount", data["amount"]),
                ("expected_close_date", data["expected_close_date"]),
            )
            if value not in (None, "")
        }
        try:
            result = services.convert_lead(
                user,
                lead,
                account=account,
                person=person,
                create_account=account_value == "new",
                create_opportunity=data["create_opportunity"],
                opportunity_data=opportunity_data,
                role_kind=data["role_kind"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Converted the lead."))
            if result.account is not None:
                return redirect("customers:account-detail", pk=result.account.pk)
            return redirect("customers:person-detail", pk=result.person.pk)
    context = {"lead": lead, "form": form, "accounts": accounts, "people": people}
    return render(request, "leads/lead_convert.html", context, status=400 if form.is_bound and form.errors else 200)
