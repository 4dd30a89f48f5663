"""Admin settings: assignment rules, scoring rules with the grade bands, and web forms."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.customers.forms.common import add_service_errors
from guanxi.leads import scoring, services
from guanxi.leads.forms import (
    SCORING_FORM_FIELDS,
    AssignmentRuleForm,
    GradeBandsForm,
    ScoringRuleForm,
    WebFormSettingsForm,
)
from guanxi.leads.models import AssignmentRule, ScoringRule, WebForm
from guanxi.leads.views.common import request_user, require_settings

# ---------------------------------------------------------------------------------------------
# Assignment rules


@login_required
def assignment_rule_list(request: HttpRequest) -> HttpResponse:
    require_settings(request)
    rules = list(AssignmentRule.objects.select_related("assign_to", "team", "last_assigned"))
    return render(request, "leads/settings/assignment_rule_list.html", {"rules": rules})


@login_required
def assignment_rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    require_settings(request)
    user = request_user(request)
    rule = get_object_or_404(AssignmentRule, pk=pk) if pk else None
    initial = AssignmentRuleForm.initial_for(rule) if rule else {"is_active": True}
    form = AssignmentRuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if rule is None:
                services.create_assignment_rule(user, form.cleaned_data)
            else:
                services.update_assignment_rule(user, rule, form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved the assignment rule."))
            return redirect("leads:assignment-rule-list")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "leads/settings/assignment_rule_form.html", {"form": form, "rule": rule}, status=status)


@login_required
@require_POST
def assignment_rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    require_settings(request)
    rule = get_object_or_404(AssignmentRule, pk=pk)
    services.move_assignment_rule(
        request_user(request), rule, "up" if request.POST.get("direction") == "up" else "down"
    )
    return redirect("leads:assignment-rule-list")


@login_required
@require_POST
def assignment_rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    require_settings(request)
    rule = get_object_or_404(AssignmentRule, pk=pk)
    services.update_assignment_rule(request_user(request), rule, {"is_active": not rule.is_active})
    return redirect("leads:assignment-rule-list")


@login_required
@require_POST
def assignment_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    require_settings(request)
    rule = get_object_or_404(AssignmentRule, pk=pk)
    services.delete_assignment_rule(request_user(request), rule)
    messages.success(request, _("Deleted the assignment rule %(name)s.") % {"name": rule.name})
    return redirect("leads:assignment-rule-list")


# ---------------------------------------------------------------------------------------------
# Scoring rules and grade bands


@login_required
def scoring_rule_list(request: HttpRequest) -> HttpResponse:
    require_settings(request)
    user = request_user(request)
    bands = scoring.grade_bands()
    form = GradeBandsForm(
        request.POST or None, initial={"a_from": bands.a_from, "b_from": bands.b_from, "c_from": bands.c_from}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.set_grade_bands(user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved the grade bands; every lead is being rescored."))
            return redirect("leads:scoring-rule-list")
    rules = list(ScoringRule.objects.all())
    return render(request, "leads/settings/scoring_rule_list.html", {"rules": rules, "bands_form": form})


@login_required
def scoring_rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    require_settings(request)
    user = request_user(request)
    rule = get_object_or_404(ScoringRule, pk=pk) if pk else None
    form = ScoringRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in SCORING_FORM_FIELDS}
        try:
            if rule is None:
                services.create_scoring_rule(user, data)
            else:
                services.update_scoring_rule(user, rule, data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved the scoring rule; every lead is being rescored."))
            return redirect("leads:scoring-rule-list")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "leads/settings/scoring_rule_form.html", {"form": form, "rule": rule}, status=status)


@login_required
@require_POST
def scoring_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    require_settings(request)
    rule = get_object_or_404(ScoringRule, pk=pk)
    services.delete_scoring_rule(request_user(request), rule)
    messages.success(request, _("Deleted the scoring rule %(name)s.") % {"name": rule.label})
    return redirect("leads:scoring-rule-list")


# ---------------------------------------------------------------------------------------------
# Web forms


@login_required
def web_form_list(request: HttpRequest) -> HttpResponse:
    require_settings(request)
    forms = list(WebForm.objects.select_related("default_owner", "default_team"))
    return render(request, "leads/settings/web_form_list.html", {"web_forms": forms})


@login_required
def web_form_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    require_settings(request)
    user = request_user(request)
    web_form = get_object_or_404(WebForm, pk=pk) if pk else None
    initial = (
        WebFormSettingsForm.initial_for(web_form)
        if web_form
        else {"is_active": True, "fields_shown": ["family_name", "given_name", "company_name", "email", "phone"]}
    )
    form = WebFormSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if web_form is None:
                web_form = services.create_web_form(user, form.service_data())
            else:
                services.update_web_form(user, web_form, form.service_data())
        except ValidationError as exc:
            add_service_errors(form, exc, lambda key: ("fields_shown" if key == "fields" else key, ""))
        else:
            messages.success(request, _("Saved the web form."))
            return redirect("leads:web-form-edit", pk=web_form.pk)
    embed_url = ""
    if web_form is not None and web_form.pk:
        embed_url = request.build_absolute_uri(reverse("leads:web-form-public", args=[web_form.public_key]))
    status = 400 if form.is_bound and form.errors else 200
    context = {"form": form, "web_form": web_form, "embed_url": embed_url}
    return render(request, "leads/settings/web_form_form.html", context, status=status)
