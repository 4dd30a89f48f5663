"""Pages of the tracking app: sources, write keys and tracking plans (admins), processing lag,
visitor profiles with their sessions and computed traits.

Views read through `tracking.queries` (visibility applied) and write through `tracking.services`.
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from guanxi.core.pagination import InvalidCursorError, capped_count, keyset_page, parse_ordering
from guanxi.customers.forms.common import add_service_errors
from guanxi.staff import access
from guanxi.staff.models import User
from guanxi.tracking import queries, services
from guanxi.tracking.charts import bar_chart
from guanxi.tracking.forms import ProfileFilterForm, SourceForm, TrackingPlanForm
from guanxi.tracking.models import ProfileMerge, Source
from guanxi.tracking.services import plans

PAGE_SIZE = 25
SESSIONS_SHOWN = 20


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # login_required runs first
        raise PermissionDenied
    return user


def _require_admin(request: HttpRequest) -> User:
    user = _user(request)
    if not access.can_manage_settings(user):
        raise PermissionDenied(_("Only an admin may manage tracking sources."))
    return user


def _position(request: HttpRequest, cursor: str | None) -> int:
    try:
        return max(1, int(request.GET.get("pos", "1"))) if cursor else 1
    except ValueError:
        return 1


# ---------------------------------------------------------------------------------------------
# Sources


@login_required
@require_GET
def source_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    sources = list(queries.sources_with_counts())
    return render(request, "tracking/source_list.html", {"sources": sources, "lag": queries.processing_lag()})


@login_required
@never_cache
def source_create(request: HttpRequest) -> HttpResponse:
    user = _require_admin(request)
    form = SourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source, key = services.create_source(user, form.service_data())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            # The key is shown on this response only: it is stored as a hash and cannot be shown again.
            return render(request, "tracking/source_created.html", {"source": source, "write_key": key})
    return render(
        request,
        "tracking/source_form.html",
        {"form": form, "source": None},
        status=400 if form.is_bound and form.errors else 200,
    )


def _source_page(
    request: HttpRequest,
    source: Source,
    form: SourceForm,
    plan_form: TrackingPlanForm | None = None,
    status: int = 200,
) -> HttpResponse:
    cursor = request.GET.get("cursor") or None
    try:
        page = keyset_page(queries.recent_events(source), ordering="-id", cursor=cursor, size=PAGE_SIZE)
    except InvalidCursorError:
        cursor = None
        page = keyset_page(queries.recent_events(source), ordering="-id", cursor=None, size=PAGE_SIZE)
    hourly = queries.hourly_counts(source)
    if plan_form is None:
        exported = plans.export_tracking_plan(source)
        text = json.dumps({"events": exported["events"]}, ensure_ascii=False, indent=2) if exported["events"] else ""
        plan_form = TrackingPlanForm(initial={"plan": text})
    context = {
        "source": source,
        "form": form,
        "plan_form": plan_form,
        "report": plans.plan_report(source),
        "lag": queries.processing_lag(source),
        "page": page,
        "events": page.items,
        "processed_up_to": queries.processed_up_to(),
        "chart": bar_chart(hourly, label=_("Events received per hour, last 24 hours")),
        "received_24h": sum(n for _hour, n in hourly),
    }
    return render(request, "tracking/source_detail.html", context, status=status)


@login_required
def source_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require_admin(request)
    source = get_object_or_404(Source, pk=pk)
    form = SourceForm(request.POST or None, source=source)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_source(user, source, form.service_data())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved the source “%(name)s”.") % {"name": form.cleaned_data["name"]})
            return redirect("tracking:source-detail", pk=source.pk)
    return _source_page(request, source, form, status=400 if form.is_bound and form.errors else 200)


@login_required
@require_POST
def source_plan(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the tracking plan typed in the source's page or imported from a JSON file."""
    user = _require_admin(request)
    source = get_object_or_404(Source, pk=pk)
    plan_form = TrackingPlanForm(request.POST, request.FILES)
    if plan_form.is_valid():
        try:
            plan = plans.save_tracking_plan(user, source, plan_form.cleaned_data["data"])
        except ValidationError as exc:
            for message in exc.message_dict.get("events", exc.messages):
                plan_form.add_error(None, message)
        else:
            count = len(plan.events)
            messages.success(
                request,
                ngettext(
                    "Saved the tracking plan: %(count)s event.", "Saved the tracking plan: %(count)s events.", count
                )
                % {"count": count},
            )
            return redirect(reverse("tracking:source-detail", args=[source.pk]) + "#plan")
    return _source_page(request, source, SourceForm(source=source), plan_form, status=400)


@login_required
@require_GET
def source_plan_export(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    source = get_object_or_404(Source, pk=pk)
    body = json.dumps(plans.export_tracking_plan(source), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="tracking-plan-{source.pk}.json"'
    return response


@login_required
@require_POST
def source_plan_clear(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require_admin(request)
    source = get_object_or_404(Source, pk=pk)
    plans.clear_plan_report(user, source)
    messages.success(request, _("Cleared the counted plan violations."))
    return redirect(reverse("tracking:source-detail", args=[source.pk]) + "#quality")


@login_required
def source_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require_admin(request)
    source = get_object_or_404(Source, pk=pk)
    if request.method == "POST":
        services.revoke_source(user, source)
        messages.success(request, _("Revoked the write key of “%(name)s”.") % {"name": source.name})
        return redirect("tracking:source-detail", pk=source.pk)
    return render(request, "tracking/source_revoke.html", {"source": source})


# ---------------------------------------------------------------------------------------------
# Profiles (visitors and known contacts)


@login_required
@require_GET
def profile_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = ProfileFilterForm(request.GET or None)
    known, q = "anonymous", ""
    if form.is_valid():
        known = form.cleaned_data["known"] or "anonymous"
        q = form.cleaned_data["q"]
    queryset = queries.filter_profiles(queries.visible_profiles(user), known=known, q=q)
    ordering = parse_ordering(request.GET.get("ordering"), queries.PROFILE_ORDERING, "-last_seen")
    cursor = request.GET.get("cursor") or None
    rows = queryset.select_related("person")
    try:
        page = keyset_page(rows, ordering=ordering, cursor=cursor, size=PAGE_SIZE)
    except InvalidCursorError:
        cursor = None
        page = keyset_page(rows, ordering=ordering, cursor=None, size=PAGE_SIZE)
    total, more = capped_count(queryset)
    position = _position(request, cursor)
    identifiers = queries.identifiers_by_profile([p.pk for p in page.items])
    context = {
        "form": form,
        "items": [(profile, identifiers.get(profile.pk, [])) for profile in page.items],
        "page": page,
        "total": total,
        "total_more": more,
        "first": position,
        "last": position + len(page.items) - 1,
        "next_pos": position + len(page.items),
        "prev_pos": max(1, position - PAGE_SIZE),
        "ordering": ordering,
        "is_filtered": bool(q) or known != "anonymous",
    }
    return render(request, "tracking/profile_list.html", context)


@login_required
@require_GET
def profile_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    profile = get_object_or_404(queries.visible_profiles(user).select_related("person"), pk=pk)
    cursor = request.GET.get("cursor") or None
    events = queries.profile_events(profile)
    try:
        page = keyset_page(events, ordering="-id", cursor=cursor, size=PAGE_SIZE)
    except InvalidCursorError:
        page = keyset_page(events, ordering="-id", cursor=None, size=PAGE_SIZE)
    context = {
        "profile": profile,
        "traits": queries.computed_traits(profile),
        "sessions": list(queries.profile_sessions(profile)[:SESSIONS_SHOWN]),
        "identifiers": queries.profile_identifiers(profile),
        "merges": list(queries.profile_merges(profile).select_related("source")[:50]),
        "page": page,
        "events": page.items,
        "processed_up_to": queries.processed_up_to(),
        "can_undo": access.can_manage_settings(user),
    }
    return render(request, "tracking/profile_detail.html", context)


@login_required
@require_POST
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require_admin(request)
    merge = get_object_or_404(ProfileMerge, pk=pk)
    try:
        services.undo_profile_merge(user, merge)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The merge was undone."))
    return redirect("tracking:profile-detail", pk=merge.merged_from_id)
