"""Web pages for duplicates and merges: the candidate pairs, the merge screen, the merge history.

The pairs come from the last whole-database search (`dataio.duplicates`, stored in the
`DuplicateCandidate` table by the background job); each page is a keyset page of the pairs
whose two records the user may see, filtered in SQL. Merging,
undoing and dismissing are one call each to `dataio.services.merging`, which re-checks that
the user may change both records.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.core.pagination import InvalidCursorError, keyset_page
from guanxi.customers import queries
from guanxi.customers.views.common import request_user, safe_next
from guanxi.dataio import duplicates
from guanxi.dataio.forms.merging import MergeForm, PairForm
from guanxi.dataio.models import MergeRecord, Target
from guanxi.dataio.services import merging
from guanxi.staff.models import StaffRole, User

PAIRS_PER_PAGE = 25
MERGES_PER_PAGE = 25


def _target(value: str | None) -> str:
    return str(Target.ACCOUNT) if value in ("account", "accounts") else str(Target.PERSON)


def _visible(user: User, target: str) -> QuerySet[Any]:
    return queries.visible_accounts(user) if target == Target.ACCOUNT else queries.visible_people(user)


def _detail_url(target: str, pk: int) -> str:
    name = "customers:account-detail" if target == Target.ACCOUNT else "customers:person-detail"
    return reverse(name, args=[pk])


def _writer(request: HttpRequest) -> User:
    """Analysts read everything and change nothing: merging and dismissing are closed to them."""
    user = request_user(request)
    if user.role == StaffRole.ANALYST and not user.is_admin:
        raise PermissionDenied(_("Analysts may not merge records."))
    return user


@login_required
def duplicate_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    target = _target(request.GET.get("target"))
    cursor = request.GET.get("cursor") or None
    try:
        page = duplicates.visible_pairs(user, target, cursor=cursor, size=PAIRS_PER_PAGE)
    except duplicates.InvalidPairCursorError:
        return redirect(reverse("dataio:duplicate-list") + f"?target={target}")
    return render(
        request,
        "dataio/duplicate_list.html",
        {
            "target": target,
            "state": duplicates.search_state(target),
            "rows": page.rows,
            "next_cursor": page.next_cursor,
            "is_first_page": cursor is None,
            "can_search": merging.can_search_duplicates(user),
            "can_merge": user.role != StaffRole.ANALYST or user.is_admin,
            "detail_name": "customers:account-detail" if target == Target.ACCOUNT else "customers:person-detail",
        },
    )


@login_required
@require_POST
def duplicate_search(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    target = _target(request.POST.get("target"))
    merging.request_duplicate_search(user, target)
    messages.success(request, _("Looking for duplicates. Reload this page in a minute to see the result."))
    return redirect(reverse("dataio:duplicate-list") + f"?target={target}")


@login_required
@require_POST
def duplicate_dismiss(request: HttpRequest) -> HttpResponse:
    user = _writer(request)
    form = PairForm(request.POST)
    fallback = reverse("dataio:duplicate-list")
    if not form.is_valid():
        messages.error(request, _("Choose two different records."))
        return redirect(fallback)
    data = form.cleaned_data
    visible = _visible(user, data["target"])
    for pk in (data["first"], data["second"]):
        get_object_or_404(visible, pk=pk)
    merging.dismiss_pair(user, data["target"], data["first"], data["second"])
    messages.success(request, _("Marked as not duplicates: this pair will not be proposed again."))
    return redirect(safe_next(request, request.POST.get("next"), fallback + f"?target={data['target']}"))


@login_required
def merge_screen(request: HttpRequest, target: str, survivor_id: int, merged_id: int) -> HttpResponse:
    user = _writer(request)
    target = _target(target)
    visible = _visible(user, target)
    survivor = get_object_or_404(visible.select_related("owner"), pk=survivor_id)
    merged = get_object_or_404(visible.select_related("owner"), pk=merged_id)
    if survivor.pk == merged.pk:
        raise PermissionDenied(_("Choose two different records."))
    may_edit = merging.editable_records(user, type(survivor)).filter(pk__in=[survivor.pk, merged.pk]).count() == 2
    form = MergeForm(request.POST if request.method == "POST" else None, survivor=survivor, merged=merged)
    if request.method == "POST" and form.is_valid():
        try:
            record = merging.merge(user, target, survivor.pk, merged.pk, form.chosen_fields())
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(
                request,
                _("Merged %(merged)s into %(kept)s. You can undo this from the merge history.")
                % {"merged": record.merged_label, "kept": str(survivor)},
            )
            return redirect(_detail_url(target, survivor.pk))
    return render(
        request,
        "dataio/merge_form.html",
        {
            "target": target,
            "survivor": survivor,
            "merged": merged,
            "form": form,
            "preview": merging.merge_preview(survivor, merged),
            "may_edit": may_edit,
            "detail_name": "customers:account-detail" if target == Target.ACCOUNT else "customers:person-detail",
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def merge_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    records = merging.visible_merges(user)
    try:
        page = keyset_page(records, ordering="-id", cursor=request.GET.get("cursor"), size=MERGES_PER_PAGE)
    except InvalidCursorError:
        return redirect("dataio:merge-list")
    person_ids = [r.survivor_id for r in page.items if r.target == Target.PERSON]
    account_ids = [r.survivor_id for r in page.items if r.target == Target.ACCOUNT]
    editable = {
        (str(Target.PERSON), pk)
        for pk in queries.editable_people(user).filter(pk__in=person_ids).values_list("pk", flat=True)
    } | {
        (str(Target.ACCOUNT), pk)
        for pk in queries.editable_accounts(user).filter(pk__in=account_ids).values_list("pk", flat=True)
    }
    rows = [
        {
            "record": r,
            "survivor_url": _detail_url(r.target, r.survivor_id),
            "can_undo": r.undone_at is None and (r.target, r.survivor_id) in editable,
        }
        for r in page.items
    ]
    return render(request, "dataio/merge_list.html", {"rows": rows, "page": page})


@login_required
@require_POST
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    user = _writer(request)
    record: MergeRecord = get_object_or_404(merging.visible_merges(user), pk=pk)
    try:
        report = merging.undo_merge(user, record)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("dataio:merge-list")
    text = _("Undid the merge: %(name)s is back.") % {"name": record.merged_label}
    if report.fields_kept:
        text += " " + _("Fields changed since the merge were left as they are now: %(fields)s.") % {
            "fields": ", ".join(report.fields_kept)
        }
    messages.success(request, text)
    return redirect(_detail_url(record.target, record.merged_id))


urlpatterns: list[URLPattern] = [
    path("duplicates/", duplicate_list, name="duplicate-list"),
    path("duplicates/search/", duplicate_search, name="duplicate-search"),
    path("duplicates/dismiss/", duplicate_dismiss, name="duplicate-dismiss"),
    path("merge/<str:target>/<int:survivor_id>/<int:merged_id>/", merge_screen, name="merge"),
    path("merges/", merge_list, name="merge-list"),
    path("merges/<int:pk>/undo/", merge_undo, name="merge-undo"),
]
