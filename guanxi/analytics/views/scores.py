"""Pages for churn risk, engagement and account health.

The churn model page and the engagement definition are for the planning roles (as the
dashboard); the definition is changed by admins only. The account-health list is the owners'
work list: every member of staff sees it, limited to the customers they may see.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from guanxi.analytics import charts, labels, permissions, queries, services
from guanxi.analytics.customer_scores import current_definition
from guanxi.analytics.forms import EngagementDefinitionForm
from guanxi.analytics.views.runs import _user, _viewer
from guanxi.core.pagination import InvalidCursorError, keyset_page
from guanxi.engine.health import COMPONENTS
from guanxi.staff.models import User

HEALTH_PAGE = 50
HEALTH_ORDERINGS = ("health", "-health")


@login_required
@require_GET
def churn_model(request: HttpRequest) -> HttpResponse:
    _viewer(request)
    model = queries.latest_churn_model()
    context: dict[str, Any] = {"model": model, "contract_rule": labels.contract_rule()}
    if model is not None:
        context["reliability"] = charts.reliability(model.calibration)
        context["importance_bars"] = charts.hbars(
            [(labels.feature_label(str(name)), float(value)) for name, value in model.importances]
        )
        context["coefficients"] = [
            {"label": labels.feature_label(str(name)), "value": value} for name, value in model.coefficients
        ]
        context["features"] = [labels.feature_label(name) for name in model.features]
    return render(request, "analytics/churn_model.html", context)


@login_required
@require_GET
def engagement(request: HttpRequest) -> HttpResponse:
    user = _viewer(request)
    versions = queries.definitions()
    return render(
        request,
        "analytics/engagement.html",
        {
            "definition": versions[0] if versions else None,
            "rows": labels.definition_rows(versions[0].items) if versions else [],
            "versions": versions,
            "can_edit": permissions.can_edit_rules(user),
        },
    )


@login_required
def engagement_edit(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not permissions.can_edit_rules(user):
        raise PermissionDenied(_("Only an admin may change the engagement definition."))
    current = current_definition()
    form = EngagementDefinitionForm(request.POST or None, current=current.as_definition())
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_engagement_definition(user, form.items(), note=form.cleaned_data["note"])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(None, f"{labels.i_label(field)}: {' '.join(errors)}")
        else:
            messages.success(
                request,
                _("Saved version %(version)s; the next scoring run uses it.") % {"version": saved.version},
            )
            return redirect("analytics:engagement")
    return render(
        request,
        "analytics/engagement_form.html",
        {"form": form, "current": current},
        status=400 if form.is_bound and form.errors else 200,
    )


def _owner_filter(request: HttpRequest) -> int | None:
    raw = request.GET.get("owner", "")
    return int(raw) if raw.isdigit() else None


@login_required
@require_GET
def health_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not permissions.can_view_health(user):
        raise PermissionDenied
    owner_id = _owner_filter(request)
    ordering = request.GET.get("ordering", "health")
    if ordering not in HEALTH_ORDERINGS:
        ordering = "health"
    try:
        page = keyset_page(
            queries.health_rows(user, owner_id=owner_id),
            ordering=ordering,
            cursor=request.GET.get("cursor") or None,
            size=HEALTH_PAGE,
        )
    except InvalidCursorError:
        return redirect("analytics:health")
    rows = []
    for item in page.items:
        party = item.account or item.person
        rows.append(
            {
                "item": item,
                "party": party,
                "kind": "account" if item.account_id else "person",
                "owner": getattr(party, "owner", None),
                "reasons": labels.reasons(item.reasons),
            }
        )
    owners = User.objects.filter(is_active=True).order_by("username").only("id", "username", "first_name", "last_name")
    run = queries.latest_run("scoring")
    return render(
        request,
        "analytics/health_list.html",
        {
            "rows": rows,
            "page": page,
            "ordering": ordering,
            "owners": owners,
            "owner_id": owner_id,
            "contract_rule": labels.contract_rule(),
            "can_view_analytics": permissions.can_view(user),
            "definition_version": run.results.get("engagement", {}).get("definition_version") if run else None,
            "weights": [
                {"label": labels.COMPONENT_LABELS[name], "weight": run.parameters.get("health_weights", {}).get(name)}
                for name in COMPONENTS
            ]
            if run
            else [],
        },
    )
