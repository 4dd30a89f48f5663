"""Pipelines and their stages: configuration pages for admins only."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from guanxi.customers.forms.common import add_service_errors
from guanxi.sales import services
from guanxi.sales.forms import PipelineForm, StageForm
from guanxi.sales.models import Pipeline, Stage
from guanxi.sales.views.common import report_errors, request_user
from guanxi.staff import access
from guanxi.staff.models import User


def _admin(request: HttpRequest) -> User:
    user = request_user(request)
    if not access.can_manage_settings(user):
        raise PermissionDenied(_("Only an admin may change pipelines and stages."))
    return user


@login_required
@require_GET
def pipeline_list(request: HttpRequest) -> HttpResponse:
    _admin(request)
    pipelines = Pipeline.objects.prefetch_related("stages").order_by("position", "name")
    return render(request, "sales/settings/pipeline_list.html", {"pipelines": pipelines})


@login_required
def pipeline_create(request: HttpRequest) -> HttpResponse:
    user = _admin(request)
    form = PipelineForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v is not None}
        try:
            pipeline = services.create_pipeline(user, data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Created the pipeline %(name)s.") % {"name": pipeline.name})
            return redirect("sales:pipeline-edit", pk=pipeline.pk)
    return render(request, "sales/settings/pipeline_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def pipeline_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    pipeline = get_object_or_404(Pipeline, pk=pk)
    form = PipelineForm(
        request.POST or None,
        initial={
            "name": pipeline.name,
            "position": pipeline.position,
            "is_default": pipeline.is_default,
            "is_active": pipeline.is_active,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v is not None}
        try:
            services.update_pipeline(user, pipeline, data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("sales:pipeline-edit", pk=pipeline.pk)
    stages = list(pipeline.stages.order_by("position", "id"))
    stage_forms = [
        (
            stage,
            StageForm(
                initial={"name": stage.name, "probability": stage.probability, "kind": stage.kind},
                prefix=f"s{stage.pk}",
            ),
        )
        for stage in stages
    ]
    return render(
        request,
        "sales/settings/pipeline_form.html",
        {"form": form, "pipeline": pipeline, "stage_forms": stage_forms, "new_stage_form": StageForm(prefix="new")},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def pipeline_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    pipeline = get_object_or_404(Pipeline, pk=pk)
    try:
        services.delete_pipeline(user, pipeline)
    except ValidationError as exc:
        report_errors(request, exc)
        return redirect("sales:pipeline-edit", pk=pk)
    messages.success(request, _("Deleted the pipeline %(name)s.") % {"name": pipeline.name})
    return redirect("sales:pipeline-list")


@login_required
@require_POST
def stage_create(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    pipeline = get_object_or_404(Pipeline, pk=pk)
    form = StageForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            services.create_stage(user, pipeline, form.cleaned_data)
        except ValidationError as exc:
            report_errors(request, exc)
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("sales:pipeline-edit", pk=pk)


@login_required
@require_POST
def stage_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    stage = get_object_or_404(Stage, pk=pk)
    form = StageForm(request.POST, prefix=f"s{stage.pk}")
    if form.is_valid():
        try:
            services.update_stage(user, stage, form.cleaned_data)
        except ValidationError as exc:
            report_errors(request, exc)
        else:
            messages.success(request, _("Saved."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("sales:pipeline-edit", pk=stage.pipeline_id)


@login_required
@require_POST
def stage_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    stage = get_object_or_404(Stage, pk=pk)
    try:
        services.delete_stage(user, stage)
    except ValidationError as exc:
        report_errors(request, exc)
    return redirect("sales:pipeline-edit", pk=stage.pipeline_id)


@login_required
@require_POST
def stage_shift(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a stage one place up or down (buttons, so ordering works by keyboard)."""
    user = _admin(request)
    stage = get_object_or_404(Stage, pk=pk)
    ids = list(stage.pipeline.stages.order_by("position", "id").values_list("pk", flat=True))
    index = ids.index(stage.pk)
    other = index - 1 if request.POST.get("direction") == "up" else index + 1
    if 0 <= other < len(ids):
        ids[index], ids[other] = ids[other], ids[index]
        services.reorder_stages(user, stage.pipeline, ids)
    return redirect("sales:pipeline-edit", pk=stage.pipeline_id)
