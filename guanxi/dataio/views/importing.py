"""Web pages for importing: the list of imports, upload, column mapping, dry run, import, cancel.

One import walks upload → mapping → dry run (a background job) → import (a background job).
Each step is one call to `dataio.services.importing`, which checks permission and does the work;
these views only parse the request, pick the page for the job's stage and status, and redirect.
The job page reads the job's own progress, so a reload while it runs simply shows the bar again.
Only the job's creator (or an admin) finds it at all: anyone else gets a 404.
"""

from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from guanxi.core.pagination import InvalidCursorError, capped_count, keyset_page
from guanxi.customers.forms.common import add_service_errors
from guanxi.customers.views.common import request_user
from guanxi.dataio import readers
from guanxi.dataio.forms.importing import MappingForm, RunForm, UploadForm
from guanxi.dataio.models import ImportJob, ImportMode, ImportProblem, ImportStage, JobStatus, Target
from guanxi.dataio.services import importing, importing_orders
from guanxi.dataio.views.common import job_progress_response
from guanxi.staff.models import StaffRole, User

JOBS_PER_PAGE = 25
PROBLEMS_PER_PAGE = 50
SAMPLE_ROWS = 3


def _require_importer(request: HttpRequest) -> User:
    """Analysts read but never write, so the import pages are closed to them (403)."""
    user = request_user(request)
    if user.role == StaffRole.ANALYST and not user.is_admin:
        raise PermissionDenied(_("Analysts may not import."))
    return user


def _get_job(request: HttpRequest, pk: int) -> ImportJob:
    """The job if the user may see it (its creator or an admin), else 404 so its existence does not leak;
    an orders import is closed (403) to whoever may not take orders, as the shop feed is."""
    user = _require_importer(request)
    job = get_object_or_404(importing.visible_import_jobs(user).select_related("created_by"), pk=pk)
    if job.target == Target.ORDER:
        importing.require_order_importer(user)
    return job


def is_queued_or_running(job: ImportJob) -> bool:
    """Whether a dry run or import of the job waits for a worker or runs now.

    A just-uploaded job is also "pending" (the model's default) but nothing is queued until
    the mapping is chosen, so the upload stage never counts.
    """
    return job.status in (JobStatus.PENDING, JobStatus.RUNNING) and job.stage != ImportStage.UPLOADED


def _target_noun(target: str) -> str:
    if target == Target.ORDER:
        return _("orders")
    return _("accounts") if target == Target.ACCOUNT else _("contacts")


def _list_url(target: str) -> str:
    if target == Target.ORDER:
        return reverse("commerce:order-list")
    return reverse("customers:account-list" if target == Target.ACCOUNT else "customers:person-list")


# ---------------------------------------------------------------------------------------------
# The list of imports and the upload


@login_required
@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    user = _require_importer(request)
    jobs = importing.visible_import_jobs(user).select_related("created_by")
    cursor = request.GET.get("cursor") or None
    try:
        page = keyset_page(jobs, ordering="-id", cursor=cursor, size=JOBS_PER_PAGE)
    except InvalidCursorError:
        page = keyset_page(jobs, ordering="-id", cursor=None, size=JOBS_PER_PAGE)
    return render(
        request,
        "dataio/import_list.html",
        {
            "page": page,
            "jobs": page.items,
            "targets": Target.choices,
            "can_import_orders": importing.can_import_orders(user),
        },
    )


@login_required
def import_upload(request: HttpRequest) -> HttpResponse:
    user = _require_importer(request)
    initial_target = request.GET.get("target") if request.GET.get("target") in Target.values else Target.PERSON
    form = UploadForm(request.POST or None, request.FILES or None, initial={"target": initial_target})
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = importing.start_import(user, upload, upload.name or "", form.cleaned_data["target"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Read %(name)s: %(count)s columns. Check how they map onto fields.")
                % {"name": job.original_name, "count": len(job.columns)},
            )
            return redirect("dataio:import-mapping", pk=job.pk)
    return render(
        request,
        "dataio/import_upload.html",
        {"form": form, "can_import_orders": importing.can_import_orders(user)},
        status=400 if form.is_bound and form.errors else 200,
    )


# ---------------------------------------------------------------------------------------------
# Mapping, dry run and import


def _samples(job: ImportJob) -> list[list[str]]:
    """The first few values of each column, in column order, to help the user map them.

    A read of the stored file (never served itself); a file that has become unreadable shows
    no samples rather than an error, since the dry run reports what is wrong with it.
    """
    rows: list[dict[str, str]] = []
    try:
        reader = readers.open_reader(Path(settings.DATA_DIR) / job.stored_path, job.file_format, job.encoding)
        rows = [row.cells for row in islice(reader.rows(), SAMPLE_ROWS)]
    except (readers.UnreadableFileError, OSError):
        pass
    return [[row.get(column, "") for row in rows] for column in job.columns]


@login_required
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require_importer(request)
    job = _get_job(request, pk)
    if job.status == JobStatus.RUNNING or job.stage == ImportStage.IMPORTED:
        return redirect("dataio:import-detail", pk=job.pk)
    form = MappingForm(request.POST or None, job=job, fields=importing.importable_fields(job.target))
    if request.method == "POST" and form.is_valid():
        try:
            job = importing.set_mapping(
                user,
                job,
                form.mapping(),
                form.cleaned_data["mode"],
                form.cleaned_data["on_duplicate"],
                save_as=form.cleaned_data["save_as"].strip(),
            )
            job = importing.request_run(user, job, dry_run=True)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            if form.cleaned_data["save_as"].strip():
                messages.success(
                    request, _("Saved the mapping “%(name)s”.") % {"name": form.cleaned_data["save_as"].strip()}
                )
            return redirect("dataio:import-detail", pk=job.pk)
    rows = list(zip(form.column_fields(), _samples(job), strict=True))
    return render(
        request,
        "dataio/import_mapping.html",
        {"job": job, "form": form, "rows": rows},
        status=400 if form.is_bound and form.errors else 200,
    )


def _problem_page(request: HttpRequest, job: ImportJob) -> dict[str, Any]:
    """One page of the rejected rows' problems (a row skipped as a duplicate is not rejected)."""
    problems = ImportProblem.objects.filter(job=job).exclude(row={})
    cursor = request.GET.get("cursor") or None
    try:
        page = keyset_page(problems, ordering="line", cursor=cursor, size=PROBLEMS_PER_PAGE)
    except InvalidCursorError:
        page = keyset_page(problems, ordering="line", cursor=None, size=PROBLEMS_PER_PAGE)
    total, more = capped_count(problems)
    return {"problems": page.items, "problem_page": page, "problem_total": total, "problem_total_more": more}


def _may_run(job: ImportJob) -> bool:
    """After a dry run (or an all-or-nothing import refused for its rejected rows) the user may import."""
    return job.stage == ImportStage.CHECKED and job.status in (JobStatus.DONE, JobStatus.FAILED)


@login_required
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's page for where it stands: progress while it runs, else what it found or did."""
    job = _get_job(request, pk)
    running = is_queued_or_running(job)
    if job.stage == ImportStage.UPLOADED or (job.stage == ImportStage.MAPPED and job.status == JobStatus.DONE):
        return redirect("dataio:import-mapping", pk=job.pk)
    context: dict[str, Any] = {
        "job": job,
        "running": running,
        "progress_url": reverse("dataio:import-progress", args=[job.pk]),
        "noun": _target_noun(job.target),
        "list_url": _list_url(job.target),
        "checked": job.stage == ImportStage.CHECKED,
        "imported": job.stage == ImportStage.IMPORTED,
        "may_run": _may_run(job),
        "modes": ImportMode,
    }
    if not running and job.rejected_count:
        context.update(_problem_page(request, job))
    return render(request, "dataio/import_detail.html", context)


@login_required
@require_GET
def import_progress(request: HttpRequest, pk: int) -> JsonResponse:
    return job_progress_response(_get_job(request, pk))


@login_required
@require_POST
def import_run(request: HttpRequest, pk: int) -> HttpResponse:
    """After a dry run: import with the chosen mode (all or nothing, or only the good rows)."""
    user = _require_importer(request)
    job = _get_job(request, pk)
    form = RunForm(request.POST)
    if not _may_run(job):
        messages.error(request, _("Run a dry run of this import first."))
        return redirect("dataio:import-detail", pk=job.pk)
    if not form.is_valid():
        messages.error(request, _("Choose how to import."))
        return redirect("dataio:import-detail", pk=job.pk)
    try:
        if form.cleaned_data["mode"] != job.mode:
            job = importing.set_mapping(user, job, job.mapping, form.cleaned_data["mode"], job.on_duplicate)
        job = importing.request_run(user, job, dry_run=False)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.info(request, _("The import has started; you may leave this page and come back."))
    return redirect("dataio:import-detail", pk=job.pk)


@login_required
@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require_importer(request)
    job = _get_job(request, pk)
    if not is_queued_or_running(job):
        messages.info(request, _("This import is not running."))
    else:
        importing.cancel_import(user, job)
        messages.success(request, _("Cancelling the import: it stops after the current batch."))
    return redirect("dataio:import-detail", pk=job.pk)


@login_required
@require_GET
def import_sample_orders(request: HttpRequest) -> HttpResponse:
    """A CSV to fill in: the orders header in the user's language and two lines of one order."""
    importing.require_order_importer(_require_importer(request))
    response = HttpResponse(importing_orders.sample_orders_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, "orders-sample.csv")
    return response


@login_required
@require_GET
def import_rejected(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The rejected rows as a CSV to fix and import again, streamed so a big file costs little memory."""
    job = _get_job(request, pk)
    stem = job.original_name.rsplit(".", 1)[0] or "import"
    response = StreamingHttpResponse(importing.rejected_rows_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}-rejected.csv")
    return response


urlpatterns: list[URLPattern] = [
    path("imports/", import_list, name="import-list"),
    path("imports/new/", import_upload, name="import-upload"),
    path("imports/sample-orders.csv", import_sample_orders, name="import-sample-orders"),
    path("imports/<int:pk>/", import_detail, name="import-detail"),
    path("imports/<int:pk>/mapping/", import_mapping, name="import-mapping"),
    path("imports/<int:pk>/progress/", import_progress, name="import-progress"),
    path("imports/<int:pk>/run/", import_run, name="import-run"),
    path("imports/<int:pk>/cancel/", import_cancel, name="import-cancel"),
    path("imports/<int:pk>/rejected.csv", import_rejected, name="import-rejected"),
]
