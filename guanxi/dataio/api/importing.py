"""REST endpoints for importing: upload a file, map its columns, dry-run it, run it, follow it.

The same steps as the web pages, each one call to `dataio.services.importing` (which checks
permission and does the work): `POST /api/imports/` (multipart `file` + `target`) answers with
the file's columns and the suggested mapping; `mapping/`, `check/` (dry run), `run/` and
`cancel/` act on the job; `problems/` pages through the rejected rows and `rejected.csv`
downloads them. Only the job's creator or an admin finds a job (404 otherwise); analysts may
not import at all (403).
"""

import json
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from guanxi.core.api import KeysetCursorPagination, StrictInputMixin
from guanxi.customers.api.common import actor_of
from guanxi.dataio.models import DuplicatePolicy, ImportJob, ImportMode, ImportProblem, Target
from guanxi.dataio.services import importing
from guanxi.staff.models import StaffRole, User

# ---------------------------------------------------------------------------------------------
# Permission and rendering


class CanImport(permissions.BasePermission):
    """Analysts read but never write, so imports are closed to them; the service checks it again."""

    message = "Analysts may not import."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and (getattr(user, "role", "") != StaffRole.ANALYST or user.is_superuser)
        )


class CSVRenderer(BaseRenderer):
    """Lets `rejected.csv` (the `.csv` format suffix) be negotiated; the view streams the body itself.

    Errors raised before the view runs (401, 403, 404) still reach a renderer: they are written
    as the problem+json they are, with that content type.
    """

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode()
        return json.dumps(data, ensure_ascii=False).encode()


# ---------------------------------------------------------------------------------------------
# Serializers


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    url = serializers.HyperlinkedIdentityField(view_name="api:import-detail")
    created_by: serializers.PrimaryKeyRelatedField[User] = serializers.PrimaryKeyRelatedField(read_only=True)
    percent = serializers.IntegerField(read_only=True)
    finished = serializers.BooleanField(source="is_finished", read_only=True)
    columns = serializers.ListField(child=serializers.CharField(), read_only=True)
    mapping = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        read_only=True,
        help_text='File column → field key ("" ignores the column); the suggestion until a mapping is set.',
    )

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "url",
            "original_name",
            "target",
            "file_format",
            "encoding",
            "columns",
            "mapping",
            "mode",
            "on_duplicate",
            "stage",
            "status",
            "dry_run",
            "total",
            "processed",
            "percent",
            "finished",
            "cancel_requested",
            "created_count",
            "updated_count",
            "skipped_count",
            "rejected_count",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ImportableFieldSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text='A field key, or "attr:<key>" for a custom attribute.')
    # Declared fields are popped off the class by DRF, so this does not shadow Field.label at run time.
    label = serializers.CharField()  # type: ignore[assignment]


class ImportJobDetailSerializer(ImportJobSerializer):
    importable_fields = serializers.SerializerMethodField(help_text="The fields a column may be mapped to.")

    class Meta(ImportJobSerializer.Meta):
        fields = [*ImportJobSerializer.Meta.fields, "importable_fields"]
        read_only_fields = fields

    @extend_schema_field(ImportableFieldSerializer(many=True))
    def get_importable_fields(self, job: ImportJob) -> list[dict[str, str]]:
        return [{"key": key, "label": str(label)} for key, label in importing.importable_fields(job.target)]


class UploadSerializer(StrictInputMixin, serializers.Serializer[Any]):
    file = serializers.FileField(help_text="CSV (UTF-8, GBK/GB18030, Latin-1…), XLSX or vCard 3.0/4.0.")
    target = serializers.ChoiceField(
        choices=Target.choices,
        help_text="What the rows are: accounts, people, or order lines (rows sharing an order reference make one "
        "order; only staff who take orders may import them).",
    )


class MappingInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    mapping = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        help_text='File column → field key ("" ignores the column). Columns left out are ignored.',
    )
    mode = serializers.ChoiceField(choices=ImportMode.choices, required=False)
    on_duplicate = serializers.ChoiceField(choices=DuplicatePolicy.choices, required=False)
    save_as = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Keep this mapping under a name for next time."
    )


class RunInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    mode = serializers.ChoiceField(
        choices=ImportMode.choices, required=False, help_text="Change the mode before running; default: the job's."
    )


class ImportProblemSerializer(serializers.ModelSerializer[ImportProblem]):
    skipped = serializers.SerializerMethodField(
        help_text="True for a row left out as a duplicate (not rejected); its reason names the match."
    )
    row = serializers.DictField(read_only=True, help_text="A rejected row's cells as read from the file.")

    class Meta:
        model = ImportProblem
        fields = ["line", "column", "reason", "skipped", "row"]
        read_only_fields = fields

    def get_skipped(self, problem: ImportProblem) -> bool:
        return importing.is_skipped(problem)


class ImportProblemPageSerializer(serializers.Serializer[Any]):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ImportProblemSerializer(many=True)


# ---------------------------------------------------------------------------------------------
# The viewset


def _problem_paginator(view: APIView, request: Request, queryset: QuerySet[ImportProblem]) -> KeysetCursorPagination:
    """Keyset paging of the rejected rows, in file order."""
    paginator = KeysetCursorPagination()
    paginator.paginate_queryset(
        queryset,
        request,
        SimpleNamespace(ordering_fields=("line",), default_ordering="line"),  # type: ignore[arg-type]  # only its two attributes are read
    )
    return paginator


PAGING = [
    OpenApiParameter("cursor", str, description="Opaque cursor from a previous page's link."),
    OpenApiParameter("page_size", int, description="Rows per page, 1 to 200."),
]


@extend_schema_view(
    list=extend_schema(summary="Your imports, newest first (admins see everyone's)."),
    retrieve=extend_schema(responses=ImportJobDetailSerializer),
)
class ImportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Imports of accounts, people and orders: upload → mapping → check (dry run) → run."""

    serializer_class = ImportJobSerializer
    permission_classes = [permissions.IsAuthenticated, CanImport]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filter_backends = []
    pagination_class = KeysetCursorPagination
    ordering_fields = ("created_at",)
    default_ordering = "-id"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[ImportJob]:
        if getattr(self, "swagger_fake_view", False):
            return ImportJob.objects.none()
        return importing.visible_import_jobs(actor_of(self.request))

    def get_object(self) -> ImportJob:
        """The job; an orders import is closed (403) to whoever may not take orders, as the shop feed is."""
        job: ImportJob = super().get_object()
        if job.target == Target.ORDER:
            importing.require_order_importer(actor_of(self.request))
        return job

    def render(self, job: ImportJob, status_code: int = status.HTTP_200_OK) -> Response:
        data = ImportJobDetailSerializer(job, context=self.get_serializer_context()).data
        headers = (
            {"Location": data["url"]} if status_code in (status.HTTP_201_CREATED, status.HTTP_202_ACCEPTED) else None
        )
        return Response(data, status=status_code, headers=headers)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.render(self.get_object())

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={201: ImportJobDetailSerializer},
        summary="Upload a file: answers with its columns and the suggested mapping.",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        job = importing.start_import(actor_of(request), upload, upload.name or "", serializer.validated_data["target"])
        return self.render(job, status.HTTP_201_CREATED)

    @extend_schema(
        request=MappingInputSerializer,
        responses=ImportJobDetailSerializer,
        summary="Set the column mapping, mode and duplicate policy; optionally save the mapping by name.",
    )
    @action(detail=True, methods=["post"])
    def mapping(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        serializer = MappingInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = importing.set_mapping(
            actor_of(request),
            job,
            data["mapping"],
            data.get("mode", job.mode),
            data.get("on_duplicate", job.on_duplicate),
            save_as=data.get("save_as", "").strip(),
        )
        return self.render(job)

    @extend_schema(
        request=None,
        responses={202: ImportJobDetailSerializer},
        summary="Start a dry run: counts what would be created, updated, skipped and rejected; writes nothing.",
    )
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str) -> Response:
        job = importing.request_run(actor_of(request), self.get_object(), dry_run=True)
        return self.render(job, status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=RunInputSerializer,
        responses={202: ImportJobDetailSerializer},
        summary="Start the import in the background; follow it with GET on the job.",
    )
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str) -> Response:
        user = actor_of(request)
        job = self.get_object()
        serializer = RunInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mode = serializer.validated_data.get("mode")
        if mode and mode != job.mode:
            job = importing.set_mapping(user, job, job.mapping, mode, job.on_duplicate)
        job = importing.request_run(user, job, dry_run=False)
        return self.render(job, status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses=ImportJobDetailSerializer,
        summary="Ask a running import to stop after its current batch.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        if job.is_finished:
            raise exceptions.ValidationError({"status": ["This import is not running."]})
        return self.render(importing.cancel_import(actor_of(request), job))

    @extend_schema(
        responses=ImportProblemPageSerializer,
        parameters=[
            *PAGING,
            OpenApiParameter(
                "kind", str, enum=["rejected", "skipped"], description="Only rejected rows, or only duplicates."
            ),
        ],
        summary="Why rows were rejected or skipped as duplicates, in file order (one entry per bad cell).",
    )
    @action(detail=True, methods=["get"])
    def problems(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        problems = ImportProblem.objects.filter(job=job)
        kind = request.query_params.get("kind", "")
        if kind == "rejected":
            problems = problems.exclude(row={})
        elif kind == "skipped":
            problems = problems.filter(row={})
        elif kind:
            raise exceptions.ValidationError({"kind": ["Choose rejected or skipped."]})
        paginator = _problem_paginator(self, request, problems)
        return paginator.get_paginated_response(ImportProblemSerializer(paginator.page.items, many=True).data)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="UTF-8 CSV with a BOM.")},
        summary="The rejected rows as CSV (original columns, plus line and problem), to fix and import again.",
    )
    @action(detail=True, methods=["get"], renderer_classes=[CSVRenderer], url_path="rejected")
    def rejected(self, request: Request, pk: str, format: str | None = None) -> StreamingHttpResponse:
        job = self.get_object()
        stem = job.original_name.rsplit(".", 1)[0] or "import"
        response = StreamingHttpResponse(importing.rejected_rows_csv(job), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(True, f"{stem}-rejected.csv")
        return response


def register(router: DefaultRouter) -> None:
    """Add this area's viewsets to the project router."""
    router.register("imports", ImportJobViewSet, basename="import")
