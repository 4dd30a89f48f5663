"""Pages of the tracking app: sources and write keys (admins), processing lag, visitor profiles.

Views read through `tracking.queries` (visibility applied) and write through `tracking.services`.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from guanxi.core.pagination import InvalidCursorError, capped_count, keyset_page, parse_ordering
from guanxi.customers.forms.common import add_service_errors
from guanxi.staff import access
from guanxi.staff.models import User
from guanxi.tracking import queries, services
from guanxi.tracking.charts import bar_chart
from guanxi.tracking.forms import ProfileFilterForm, SourceForm
from guanxi.tracking.models import ProfileMerge, Source

PAGE_SIZE = 25


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
    cursor = request.GET.get("cursor") or None
    try:
        page = keyset_page(queries.recent_events(source), ordering="-id", cursor=cursor, size=PAGE_SIZE)
    except InvalidCursorError:
        cursor = None
        page = keyset_page(queries.recent_events(source), ordering="-id", cursor=None, size=PAGE_SIZE)
    hourly = queries.hourly_counts(source)
    context = {
        "source": source,
        "form": form,
        "lag": queries.processing_lag(source),
        "page": page,
        "events": page.items,
        "chart": bar_chart(hourly, label=_("Events received per hour, last 24 hours")),
        "received_24h": sum(n for _hour, n in hourly),
    }
    return render(request, "tracking/source_detail.html", context, status=400 if form.is_bound and form.errors else 200)


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
        "identifiers": queries.profile_identifiers(profile),
        "merges": list(queries.profile_merges(profile).select_related("source")[:50]),
        "page": page,
        "events": page.items,
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
