"""Logging follow-up records: the form (a page, or inside a record's panel through htmx), the talk
scripts it shows for the chosen kind and deal stage, the follow-up list, and the panels that put
follow-ups and open tasks on account, contact, lead and opportunity pages."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from guanxi.activities import queries, services
from guanxi.activities.forms import ActivityForm
from guanxi.activities.models import ActivityKind, Initiator, TaskStatus
from guanxi.activities.views.common import Targets, add_errors, record_url, request_user, safe_next, targets_from
from guanxi.core.pagination import InvalidCursorError, capped_count, keyset_page
from guanxi.customers.models import Account, Person, Role
from guanxi.leads.models import Lead
from guanxi.sales.models import Opportunity
from guanxi.staff.models import User

PANEL_ACTIVITIES = 20
PANEL_TASKS = 10
PAGE_SIZE = 25


def _activity_form(data: Any = None, kind: str = ActivityKind.CALL) -> ActivityForm:
    initial = {
        "kind": kind,
        "initiated_by": Initiator.US,
        "occurred_at": timezone.localtime().replace(second=0, microsecond=0),
    }
    form = ActivityForm(data, initial=initial)
    form.fields["kind"].widget.attrs.update(
        {
            "hx-get": reverse("activities:scripts"),
            "hx-include": "closest form",
            "hx-target": "next .talk-scripts",
            "hx-swap": "outerHTML",
        }
    )
    return form


def _stage_id(targets: Targets) -> int | None:
    return targets.opportunity.stage_id if targets.opportunity is not None else None


def _scripts(kind: str, targets: Targets) -> list[Any]:
    return list(queries.scripts_for(kind, _stage_id(targets))[:10])


def _related_q(record: Any) -> Q:
    """Follow-ups on the record and on related records: an account's people and deals, a person's deals."""
    if isinstance(record, Account):
        people = Role.objects.filter(account=record).values("person_id")
        return Q(account=record) | Q(person_id__in=people) | Q(opportunity__account=record)
    if isinstance(record, Person):
        return Q(person=record) | Q(opportunity__person=record)
    if isinstance(record, Lead):
        return Q(lead=record)
    return Q(opportunity=record)


def _targets_of(record: Any) -> Targets:
    if isinstance(record, Account):
        return Targets(account=record)
    if isinstance(record, Person):
        return Targets(person=record)
    if isinstance(record, Lead):
        return Targets(lead=record)
    return Targets(opportunity=record)


def _panel_context(request: HttpRequest, record: Any, form: ActivityForm | None = None) -> dict[str, Any]:
    user = request_user(request)
    targets = _targets_of(record)
    activities = list(
        queries.activity_rows(queries.visible_activities(user).filter(_related_q(record))).order_by(
            "-occurred_at", "-id"
        )[:PANEL_ACTIVITIES]
    )
    field = type(record).__name__.lower()
    tasks = list(
        queries.task_rows(queries.visible_tasks(user).filter(**{field: record}, status=TaskStatus.OPEN)).order_by(
            "due_at", "id"
        )[:PANEL_TASKS]
    )
    form = form or _activity_form()
    kind = str(form["kind"].value() or ActivityKind.CALL)
    return {
        "record": record,
        "panel_id": f"follow-up-{field}-{record.pk}",
        "activities": activities,
        "tasks": tasks,
        "form": form,
        "targets": targets,
        "scripts": _scripts(kind, targets),
        "now": timezone.now(),
        "next": request.get_full_path(),
    }


def render_panel(request: HttpRequest, record: object) -> SafeString:
    """The follow-up panel on a record page; the page has already checked the record is visible."""
    if not isinstance(request.user, User) or not isinstance(record, Account | Person | Lead | Opportunity):
        return SafeString("")
    # A rendered template is already safe: the template escapes every user value.
    return render_to_string("activities/_panel.html", _panel_context(request, record), request=request)


@login_required
def log_activity(request: HttpRequest) -> HttpResponse:
    """GET: the form as a page. POST: store the follow-up; from a panel (htmx) answer with the panel."""
    user = request_user(request)
    source = request.POST if request.method == "POST" else request.GET
    targets = targets_from(request, source)
    form = _activity_form(request.POST if request.method == "POST" else None, kind=source.get("kind") or "call")
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v is not None or k == "answered_at"}
        try:
            activity = services.log_activity(user, data, **targets.as_kwargs())
        except ValidationError as exc:
            add_errors(form, exc)
        except PermissionDenied:
            raise
        else:
            if request.headers.get("HX-Request") and source.get("panel"):
                response = HttpResponse(render_panel(request, targets.main))
                response["HX-Trigger"] = "followUpLogged"
                return response
            messages.success(request, _("Logged “%(subject)s”.") % {"subject": activity.subject})
            fallback = record_url(targets.main) or reverse("activities:activity-list")
            return redirect(safe_next(request, source.get("next"), fallback))
    if request.method == "POST" and request.headers.get("HX-Request") and source.get("panel") and targets:
        # htmx swaps only 2xx answers: the panel comes back with the form's errors in place.
        return HttpResponse(
            render_to_string("activities/_panel.html", _panel_context(request, targets.main, form), request=request)
        )
    kind = str(form["kind"].value() or ActivityKind.CALL)
    return render(
        request,
        "activities/activity_form.html",
        {"form": form, "targets": targets, "scripts": _scripts(kind, targets), "next": source.get("next", "")},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
@require_GET
def scripts(request: HttpRequest) -> HttpResponse:
    """The talk scripts for the kind chosen in a log form (and the deal's stage), swapped in by htmx."""
    targets = targets_from(request, request.GET)
    kind = request.GET.get("kind") or ""
    return render(request, "activities/_scripts.html", {"scripts": _scripts(kind, targets)})


ACTIVITY_FILTERS = ("kind", "initiated_by", "mine")


@login_required
@require_GET
def activity_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    queryset = queries.visible_activities(user)
    kind = request.GET.get("kind") or ""
    if kind in ActivityKind.values:
        queryset = queryset.filter(kind=kind)
    initiated_by = request.GET.get("initiated_by") or ""
    if initiated_by in Initiator.values:
        queryset = queryset.filter(initiated_by=initiated_by)
    if request.GET.get("mine"):
        queryset = queryset.filter(owner=user)
    q = (request.GET.get("q") or "").strip()
    if q:
        queryset = queryset.filter(subject__icontains=q)
    cursor = request.GET.get("cursor") or None
    rows = queries.activity_rows(queryset)
    try:
        page = keyset_page(rows, ordering="-occurred_at", cursor=cursor, size=PAGE_SIZE)
    except InvalidCursorError:
        page = keyset_page(rows, ordering="-occurred_at", cursor=None, size=PAGE_SIZE)
    total, more = capped_count(queryset)
    return render(
        request,
        "activities/activity_list.html",
        {
            "items": page.items,
            "page": page,
            "total": total,
            "total_more": more,
            "kinds": ActivityKind.choices,
            "initiators": Initiator.choices,
            "is_filtered": bool(q or kind or initiated_by or request.GET.get("mine")),
        },
    )
