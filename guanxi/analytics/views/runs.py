"""Analytics pages: the dashboard, run history, and the lifecycle rules (admins edit them).

Views read the latest run's stored results (`AnalyticsRun.results`), so the dashboard costs
a fixed handful of queries however many customers and orders there are; runs are started as
background jobs and write only through `analytics.services`.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from guanxi.analytics import charts, permissions, queries, segments, services, tasks
from guanxi.analytics.forms import LifecycleRuleForm, StartRunForm
from guanxi.analytics.labels import i_label
from guanxi.analytics.models import AnalyticsRun, LifecycleRule, RunKind
from guanxi.customers.models import LifecycleStage
from guanxi.engine.rfm import BINS, SEGMENT_RULES, segment_table
from guanxi.staff.models import User


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # login_required runs first
        raise PermissionDenied
    return user


def _viewer(request: HttpRequest) -> User:
    user = _user(request)
    if not permissions.can_view(user):
        raise PermissionDenied(_("Analytics is for admins, analysts, marketers and sales managers."))
    return user


def _rfm_grid(grid: list[list[int]]) -> list[dict[str, Any]]:
    """Rows R=5..1 of cells FM=1..5, each with its count and segment, for the grid table."""
    table = segment_table()
    top = max((max(row) for row in grid), default=0) or 1
    rows = []
    for r in range(BINS, 0, -1):
        cells = []
        for fm in range(1, BINS + 1):
            count = grid[r - 1][fm - 1] if grid else 0
            colour, dark = charts._shade(count / top)
            rule = SEGMENT_RULES[int(table[r - 1, fm - 1])]
            cells.append(
                {"fm": fm, "count": count, "segment": segments.label(rule.key), "colour": colour, "dark": dark}
            )
        rows.append({"r": r, "cells": cells})
    return rows


def _cohorts(cohorts: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for month, size, retention, revenue in zip(
        cohorts.get("months", []),
        cohorts.get("sizes", []),
        cohorts.get("retention", []),
        cohorts.get("revenue", []),
        strict=True,
    ):
        rows.append(
            {
                "month": month,
                "size": size,
                "cells": charts.heat_row(retention, top=1.0),
                "revenue": revenue,
            }
        )
    return rows


def _flow(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Moves into each stage per month as stacked bars, plus the table behind them."""
    months = sorted({row["month"] for row in rows})
    stages = [s for s in LifecycleStage.values if any(row["to_stage"] == s for row in rows)]
    per: dict[tuple[Any, str], int] = {}
    for row in rows:
        key = (row["month"], row["to_stage"])
        per[key] = per.get(key, 0) + row["n"]
    top = max((sum(per.get((m, s), 0) for s in stages) for m in months), default=0) or 1
    height, slot = 160.0, 600.0 / max(len(months), 1)
    columns = []
    for i, month in enumerate(months):
        y = height
        segments = []
        for stage in stages:
            n = per.get((month, stage), 0)
            h = n / top * (height - 10)
            y -= h
            if n:
                segments.append(
                    {
                        "y": round(y, 1),
                        "height": round(h, 1),
                        "stage": stage,
                        "n": n,
                        "colour": charts.STAGE_COLOURS[stage],
                    }
                )
        columns.append(
            {"x": round(i * slot + slot * 0.15, 1), "width": round(slot * 0.7, 1), "month": month, "segments": segments}
        )
    labels = dict(LifecycleStage.choices)
    return {
        "columns": columns,
        "legend": [{"stage": s, "label": labels[s], "colour": charts.STAGE_COLOURS[s]} for s in stages],
        "rows": rows,
    }


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _viewer(request)
    run = queries.latest_run(RunKind.SCORING)
    results: dict[str, Any] = run.results if run else {}
    labels = dict(LifecycleStage.choices)
    stage_counts = queries.stage_counts()
    stage_items = [(str(labels[s]), float(stage_counts.get(s, 0))) for s in LifecycleStage.values]
    clv = results.get("clv_histogram", [])
    context = {
        "run": run,
        "kpis": results.get("kpis", {}),
        "parameters": run.parameters if run else {},
        "rfm_rows": _rfm_grid(results.get("rfm_grid", [])),
        "segments": [
            {
                "rule": rule,
                "label": segments.label(rule.key),
                "description": segments.description(rule.key),
                "count": results.get("segments", {}).get(rule.key, 0),
            }
            for rule in SEGMENT_RULES
        ],
        "stage_bars": charts.bars(stage_items, colours=[charts.STAGE_COLOURS[s] for s in LifecycleStage.values]),
        "stage_rows": [{"label": label, "count": int(count)} for label, count in stage_items],
        "moves": [
            {"from": labels.get(m["from"], m["from"]), "to": labels.get(m["to"], m["to"]), "customers": m["customers"]}
            for m in results.get("moves", [])
        ],
        "flow": _flow(queries.stage_flow()),
        "cohorts": _cohorts(results.get("cohorts", {})),
        "clv_bars": charts.bars([(f"{b['low']:,.0f}–{b['high']:,.0f}", float(b["customers"])) for b in clv]),
        "clv_rows": clv,
        "rules": queries.top_rules(),
        "can_run": permissions.can_run(user),
        "quality": run.quality if run else {},
        "engagement": results.get("engagement", {}),
        "engagement_means": [
            {"label": i_label(name), "value": value}
            for name, value in results.get("engagement", {}).get("means", {}).items()
        ],
        "health": results.get("health", {}),
    }
    return render(request, "analytics/dashboard.html", context)


@login_required
@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    user = _viewer(request)
    runs = list(queries.runs()[:50])
    return render(
        request,
        "analytics/run_list.html",
        {"runs": runs, "can_run": permissions.can_run(user), "form": StartRunForm()},
    )


@login_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _viewer(request)
    run = get_object_or_404(AnalyticsRun.objects.select_related("created_by"), pk=pk)
    return render(request, "analytics/run_detail.html", {"run": run})


@login_required
@require_POST
def run_start(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not permissions.can_run(user):
        raise PermissionDenied(_("Only an admin or an analyst may start an analytics run."))
    form = StartRunForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose which run to start."))
        return redirect("analytics:run-list")
    if form.cleaned_data["kind"] == RunKind.SCORING:
        tasks.run_scoring.enqueue(actor_id=user.pk)
    else:
        tasks.run_rules.enqueue(actor_id=user.pk)
    messages.success(request, _("The run has started; it appears below when it begins."))
    return redirect("analytics:run-list")


# ---------------------------------------------------------------------------------------------
# Lifecycle rules


@login_required
@require_GET
def rule_list(request: HttpRequest) -> HttpResponse:
    user = _viewer(request)
    rules = list(LifecycleRule.objects.order_by("position", "id"))
    segment_labels = {rule.key: segments.label(rule.key) for rule in SEGMENT_RULES}
    stage_labels = dict(LifecycleStage.choices)
    rows = [
        {
            "rule": rule,
            "segments": [segment_labels.get(s, s) for s in rule.rfm_segments],
            "from_stages": [stage_labels.get(s, s) for s in rule.from_stages],
        }
        for rule in rules
    ]
    return render(request, "analytics/rule_list.html", {"rows": rows, "can_edit": permissions.can_edit_rules(user)})


def _rule_form(request: HttpRequest, rule: LifecycleRule | None) -> HttpResponse:
    user = _user(request)
    if not permissions.can_edit_rules(user):
        raise PermissionDenied(_("Only an admin may change the lifecycle rules."))
    form = LifecycleRuleForm(
        request.POST or None, instance=LifecycleRule() if rule is None else LifecycleRule.objects.get(pk=rule.pk)
    )
    if request.method == "POST" and form.is_valid():
        try:
            if rule is None:
                services.create_rule(user, form.cleaned_values())
            else:
                services.update_rule(user, rule, form.cleaned_values())
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Saved the lifecycle rule."))
            return redirect("analytics:rule-list")
    return render(
        request,
        "analytics/rule_form.html",
        {"form": form, "rule": rule},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def rule_create(request: HttpRequest) -> HttpResponse:
    return _rule_form(request, None)


@login_required
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _rule_form(request, get_object_or_404(LifecycleRule, pk=pk))


@login_required
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    rule = get_object_or_404(LifecycleRule, pk=pk)
    services.delete_rule(user, rule)
    messages.success(request, _("Deleted the lifecycle rule."))
    return redirect("analytics:rule-list")
