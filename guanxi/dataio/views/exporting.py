"""Web pages for exporting: the export form, the list of exports, a job's page, download, cancel.

The account and contact lists post their query string (filters, search, sort) here with the
chosen format. A small list comes straight back as a download; a large one becomes a background
job whose page shows a live progress bar and, when done, the download link. Each action is one
call to `dataio.services.exporting`. Only a job's creator (or an admin) finds it at all: anyone
else gets a 404, so its existence does not leak.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from guanxi.core.pagination import InvalidCursorError, keyset_page
from guanxi.customers.views.common import request_user
from guanxi.dataio.forms.exporting import ExportForm
from guanxi.dataio.models import CUSTOMER_TARGETS, ExportJob, FileFormat, JobStatus, Target
from guanxi.dataio.services import exporting
from guanxi.dataio.views.common import job_progress_response

JOBS_PER_PAGE = 25


def _get_job(request: HttpRequest, pk: int) -> ExportJob:
    return get_object_or_404(exporting.visible_export_jobs(request_user(request)), pk=pk)


def _list_url(target: str, query: str = "") -> str:
    url = reverse("customers:account-list" if target == Target.ACCOUNT else "customers:person-list")
    return f"{url}?{query}" if query else url


@login_required
def export_start(request: HttpRequest) -> HttpResponseBase:
    """GET: the form (reached from a list's Export control or a link); POST: export."""
    user = request_user(request)
    if request.method == "POST":
        form = ExportForm(request.POST)
    else:
        target = request.GET.get("target") if request.GET.get("target") in CUSTOMER_TARGETS else Target.PERSON
        params = request.GET.copy()
        params.pop("target", None)
        form = ExportForm(initial={"target": target, "format": FileFormat.CSV, "query": params.urlencode()})
    if request.method == "POST" and form.is_valid():
        try:
            result = exporting.start_export(user, form.spec(), form.cleaned_data["format"])
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            if isinstance(result, exporting.InlineExport):
                return FileResponse(
                    result.file, as_attachment=True, filename=result.file_name, content_type=result.content_type
                )
            messages.info(request, _("The export has started; you may leave this page and come back."))
            return redirect("dataio:export-detail", pk=result.pk)
    target = str(form["target"].value() or "")
    query = str(form["query"].value() or "")
    return render(
        request,
        "dataio/export_start.html",
        {"form": form, "list_url": _list_url(target if target in CUSTOMER_TARGETS else Target.PERSON, query)},
        status=400 if form.is_bound else 200,
    )


@login_required
@require_GET
def export_list(request: HttpRequest) -> HttpResponse:
    jobs = exporting.visible_export_jobs(request_user(request))
    cursor = request.GET.get("cursor") or None
    try:
        page = keyset_page(jobs, ordering="-id", cursor=cursor, size=JOBS_PER_PAGE)
    except InvalidCursorError:
        page = keyset_page(jobs, ordering="-id", cursor=None, size=JOBS_PER_PAGE)
    return render(request, "dataio/export_list.html", {"page": page, "jobs": page.items})


@login_required
@require_GET
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job(request, pk)
    downloadable = exporting.export_file(request_user(request), job) is not None
    return render(
        request,
        "dataio/export_detail.html",
        {
            "job": job,
            "running": job.status in (JobStatus.PENDING, JobStatus.RUNNING),
            "downloadable": downloadable,
            "expired": job.status == JobStatus.DONE and not downloadable,
            "progress_url": reverse("dataio:export-progress", args=[job.pk]),
        },
    )


@login_required
@require_GET
def export_progress(request: HttpRequest, pk: int) -> JsonResponse:
    return job_progress_response(_get_job(request, pk))


@login_required
@require_GET
def export_download(request: HttpRequest, pk: int) -> FileResponse:
    job = _get_job(request, pk)
    path = exporting.export_file(request_user(request), job)
    if path is None:
        raise Http404
    content_type = exporting.CONTENT_TYPES[FileFormat(job.file_format)]
    return FileResponse(path.open("rb"), as_attachment=True, filename=job.file_name, content_type=content_type)


@login_required
@require_POST
def export_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job(request, pk)
    try:
        exporting.cancel_export(request_user(request), job)
    except ValidationError as exc:
        messages.info(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The export is cancelled."))
    return redirect("dataio:export-detail", pk=job.pk)


urlpatterns: list[URLPattern] = [
    path("exports/", export_list, name="export-list"),
    path("exports/new/", export_start, name="export-start"),
    path("exports/<int:pk>/", export_detail, name="export-detail"),
    path("exports/<int:pk>/progress/", export_progress, name="export-progress"),
    path("exports/<int:pk>/download/", export_download, name="export-download"),
    path("exports/<int:pk>/cancel/", export_cancel, name="export-cancel"),
]
