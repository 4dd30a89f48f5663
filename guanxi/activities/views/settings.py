"""Settings pages, for admins only: follow-up plans by grade, talk scripts and each team's pool rules."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from guanxi.activities import services
from guanxi.activities.forms import PlanForm, PoolRulesForm, TalkScriptForm
from guanxi.activities.models import FollowUpPlan, TalkScript
from guanxi.activities.views.common import add_errors, require_admin
from guanxi.customers.models import Grade
from guanxi.staff.models import Team


@login_required
def plan_settings(request: HttpRequest) -> HttpResponse:
    user = require_admin(request)
    plans = {plan.grade: plan for plan in FollowUpPlan.objects.all()}
    initial = {}
    for grade in Grade.values:
        plan = plans.get(grade)
        initial[f"days_{grade}"] = plan.interval_days if plan else None
        initial[f"active_{grade}"] = plan.is_active if plan else True
    form = PlanForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                for grade in Grade.values:
                    services.save_plan(
                        user, grade, form.cleaned_data[f"days_{grade}"], bool(form.cleaned_data[f"active_{grade}"])
                    )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Saved the follow-up plans."))
            return redirect("activities:plan-settings")
    return render(
        request,
        "activities/settings/plans.html",
        {"form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
@require_GET
def script_list(request: HttpRequest) -> HttpResponse:
    require_admin(request)
    scripts = TalkScript.objects.select_related("stage", "stage__pipeline")
    return render(request, "activities/settings/script_list.html", {"scripts": scripts})


def _script_form(request: HttpRequest, script: TalkScript | None) -> HttpResponse:
    user = require_admin(request)
    form = TalkScriptForm(request.POST or None, instance=script)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in services.SCRIPT_FIELDS}
        try:
            saved = services.save_talk_script(user, data, script)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Saved the talk script “%(title)s”.") % {"title": saved.title})
            return redirect("activities:script-list")
    return render(
        request,
        "activities/settings/script_form.html",
        {"form": form, "script": script},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def script_create(request: HttpRequest) -> HttpResponse:
    return _script_form(request, None)


@login_required
def script_edit(request: HttpRequest, pk: int) -> HttpResponse:
    require_admin(request)
    return _script_form(request, get_object_or_404(TalkScript, pk=pk))


@login_required
def script_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_admin(request)
    script = get_object_or_404(TalkScript, pk=pk)
    if request.method == "POST":
        services.delete_talk_script(user, script)
        messages.success(request, _("Deleted the talk script “%(title)s”.") % {"title": script.title})
        return redirect("activities:script-list")
    return render(request, "activities/settings/script_delete.html", {"script": script})


@login_required
@require_GET
def pool_rules(request: HttpRequest) -> HttpResponse:
    require_admin(request)
    teams = Team.objects.select_related("manager").order_by("name")
    return render(request, "activities/settings/pool_rules.html", {"teams": teams})


@login_required
def pool_rules_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_admin(request)
    team = get_object_or_404(Team, pk=pk)
    form = PoolRulesForm(request.POST or None, instance=team)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in services.POOL_RULE_FIELDS}
        try:
            services.update_pool_rules(user, team, data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Saved the shared pool rules of %(team)s.") % {"team": team.name})
            return redirect("activities:pool-rules")
    return render(
        request,
        "activities/settings/pool_rules_form.html",
        {"form": form, "team": team},
        status=400 if form.is_bound and form.errors else 200,
    )
