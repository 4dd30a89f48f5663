"""REST endpoints for exports under /api/exports/.

`POST /api/exports/` with `{target, format, filters}` starts a background export of the list
those filters describe (the same filters, meaning the same, as `GET /api/accounts/` and
`GET /api/people/`), as the caller sees it; the job is polled at `/api/exports/{id}/` and its
file fetched from `/api/exports/{id}/download/` when `status` is `done`. Only the creator (or
an admin) finds a job at all; anyone else gets a 404.
"""

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.routers import DefaultRouter

from guanxi.core.api import KeysetCursorPagination, StrictInputMixin, problem_response
from guanxi.customers import queries
from guanxi.customers.api.common import actor_of
from guanxi.customers.models import AccountKind, LifecycleStage, MarketSegment
from guanxi.dataio.models import CUSTOMER_TARGET_CHOICES, ExportJob, FileFormat, JobStatus, Target
from guanxi.dataio.services import exporting

ACCOUNT_ONLY = ("market_segment", "kind")
PERSON_ONLY = ("account",)


class ExportFiltersSerializer(StrictInputMixin, serializers.Serializer[Any]):
    """The list filters of `GET /api/accounts/` and `GET /api/people/`, plus the sort."""

    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    owner = serializers.RegexField(r"^(me|pool|\d+)$", required=False, allow_blank=True)
    tag = serializers.CharField(required=False, allow_blank=True, max_length=64)
    stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False, allow_blank=True)
    market_segment = serializers.ChoiceField(
        choices=MarketSegment.choices, required=False, allow_blank=True, help_text="Accounts only."
    )
    kind = serializers.ChoiceField(
        choices=AccountKind.choices, required=False, allow_blank=True, help_text="Accounts only."
    )
    account = serializers.IntegerField(required=False, min_value=1, help_text="People only: people with a role there.")
    attributes = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=1000),
        required=False,
        help_text='Custom attribute filters by key, e.g. `{"shoe_size": "42"}`.',
    )
    ordering = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="The list's sort: accounts `name`, `created_at`, `updated_at`; people `full_name`, "
        "`created_at`, `updated_at`; `-` prefix for descending.",
    )


class ExportInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    target = serializers.ChoiceField(choices=CUSTOMER_TARGET_CHOICES)
    format = serializers.ChoiceField(choices=FileFormat.choices)
    filters = ExportFiltersSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        filters = attrs.get("filters") or {}
        other = PERSON_ONLY if attrs["target"] == Target.ACCOUNT else ACCOUNT_ONLY
        errors = {f"filters.{name}": ["Not a filter of this record type."] for name in other if filters.get(name)}
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def spec(self) -> exporting.ExportSpec:
        data = dict(self.validated_data.get("filters") or {})
        ordering = data.pop("ordering", "")
        return exporting.ExportSpec(
            target=self.validated_data["target"], filters=queries.PartyFilters(**data), ordering=ordering
        )


class ExportJobSerializer(serializers.ModelSerializer[ExportJob]):
    format = serializers.CharField(source="file_format", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    percent = serializers.IntegerField(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "target",
            "format",
            "status",
            "filters",
            "total",
            "processed",
            "percent",
            "file_name",
            "download_url",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_download_url(self, job: ExportJob) -> str | None:
        if job.status != JobStatus.DONE or not job.stored_path:
            return None
        request = self.context.get("request")
        return reverse("api:export-download", args=[job.pk], request=request)


@extend_schema_view(
    list=extend_schema(summary="Your exports (an admin sees everyone's), newest first."),
    retrieve=extend_schema(summary="One export: its status and progress."),
    create=extend_schema(
        summary="Start an export of a filtered list.",
        request=ExportInputSerializer,
        responses={202: ExportJobSerializer},
    ),
)
class ExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    serializer_class = ExportJobSerializer
    pagination_class = KeysetCursorPagination
    filter_backends = []
    ordering_fields = ("id",)
    default_ordering = "-id"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return ExportJob.objects.none()
        return exporting.visible_export_jobs(actor_of(self.request))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        actor = actor_of(request)
        serializer = ExportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = exporting.start_export(actor, serializer.spec(), serializer.validated_data["format"], allow_inline=False)
        assert isinstance(job, ExportJob)  # noqa: S101  # allow_inline=False always makes a job
        job.refresh_from_db()  # the immediate task backend may already have run it
        data = ExportJobSerializer(job, context={"request": request}).data
        location = reverse("api:export-detail", args=[job.pk], request=request)
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})

    @extend_schema(
        summary="Stop an export (a waiting one at once, a running one before its next batch).",
        request=None,
        responses={200: ExportJobSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = exporting.cancel_export(actor_of(request), self.get_object())
        return Response(ExportJobSerializer(job, context={"request": request}).data)

    @extend_schema(
        summary="The exported file, once the export is done.",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
            409: OpenApiResponse(description="Not finished yet, or its file has been deleted."),
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None) -> Any:
        job = self.get_object()
        path = exporting.export_file(actor_of(request), job)
        if path is None:
            if job.status == JobStatus.DONE and not job.stored_path:
                return problem_response(409, "Conflict", "The file of this export has been deleted; export again.")
            if job.status != JobStatus.DONE:
                return problem_response(409, "Conflict", "The export is not finished.", job_status=job.status)
            raise NotFound()
        content_type = exporting.CONTENT_TYPES[FileFormat(job.file_format)]
        return FileResponse(path.open("rb"), as_attachment=True, filename=job.file_name, content_type=content_type)


def register(router: DefaultRouter) -> None:
    """Add this area's viewsets to the project router."""
    router.register("exports", ExportViewSet, basename="export")
