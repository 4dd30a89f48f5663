"""REST endpoints for duplicates and merges.

`GET /api/duplicates/?target=people` lists the stored likely duplicate pairs whose two records
the caller may see, best first, a keyset page at a time (`cursor` from `next`); `POST
/api/merges/` merges (`{target, survivor, merged, fields}`), `GET /api/merges/` lists the
merges the caller may see and `POST /api/merges/{id}/undo/` undoes one.
Each write is one call to `dataio.services.merging`, which checks that the caller may change
both records; errors are problem+json (`core.api`).
"""

from typing import Any
from urllib.parse import urlencode

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from guanxi.core.api import KeysetCursorPagination, StrictInputMixin
from guanxi.customers.api.common import actor_of
from guanxi.dataio import duplicates
from guanxi.dataio.models import MergeRecord, Target
from guanxi.dataio.services import merging
from guanxi.staff.models import StaffRole

TARGETS = {"people": Target.PERSON, "person": Target.PERSON, "accounts": Target.ACCOUNT, "account": Target.ACCOUNT}
MAX_PAGE = 200


class CanMerge(permissions.BasePermission):
    """Analysts read everything and change nothing; the service checks each record again."""

    message = "Analysts may not merge records."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        user = request.user
        return bool(getattr(user, "role", "") != StaffRole.ANALYST or getattr(user, "is_admin", False))


def _target(value: str | None) -> str:
    target = TARGETS.get((value or "").strip().lower())
    if target is None:
        raise exceptions.ValidationError({"target": ["Choose people or accounts."]})
    return str(target)


# ---------------------------------------------------------------------------------------------
# Duplicates


class RecordRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class DuplicatePairSerializer(serializers.Serializer[Any]):
    score = serializers.IntegerField(help_text="0-100; pairs from 50 on are listed.")
    reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="Why: email, phone, account, registration, domain, name, similar_name, other_birthday, ...",
    )
    first = RecordRefSerializer()
    second = RecordRefSerializer()


class DuplicatePageSerializer(serializers.Serializer[Any]):
    status = serializers.CharField(
        help_text="Of the latest search: pending, running, done or failed; empty if none ran."
    )
    finished_at = serializers.DateTimeField(
        allow_null=True, help_text="When the search whose pairs are listed finished; null if none has."
    )
    pairs_found = serializers.IntegerField(help_text="Pairs that search found (across all records).")
    next = serializers.CharField(allow_null=True, help_text="URL of the next page, or null.")
    results = DuplicatePairSerializer(many=True)


class DuplicateViewSet(viewsets.ViewSet):
    """Likely duplicate pairs from the last whole-database search, best first."""

    @extend_schema(
        parameters=[
            OpenApiParameter("target", OpenApiTypes.STR, enum=["people", "accounts"], required=True),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="Where to continue from (from `next`)."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description=f"Pairs per page, 1 to {MAX_PAGE}."),
        ],
        responses={200: DuplicatePageSerializer},
    )
    def list(self, request: Request) -> Response:
        user = actor_of(request)
        target = _target(request.query_params.get("target"))
        try:
            size = int(request.query_params.get("page_size", "25"))
        except ValueError as exc:
            raise exceptions.ValidationError({"page_size": ["Enter a whole number."]}) from exc
        if not 1 <= size <= MAX_PAGE:
            raise exceptions.ValidationError({"page_size": [f"Must be between 1 and {MAX_PAGE}."]})
        try:
            page = duplicates.visible_pairs(user, target, cursor=request.query_params.get("cursor"), size=size)
        except duplicates.InvalidPairCursorError as exc:
            raise exceptions.ValidationError({"cursor": ["Invalid cursor."]}) from exc
        state = duplicates.search_state(target)
        next_url = None
        if page.next_cursor is not None:
            query = urlencode({"target": target, "cursor": page.next_cursor, "page_size": size})
            next_url = request.build_absolute_uri(f"{request.path}?{query}")
        done = state.last_done
        body = {
            "status": state.latest.status if state.latest else "",
            "finished_at": done.finished_at if done else None,
            "pairs_found": done.pairs_found if done else 0,
            "next": next_url,
            "results": [
                {
                    "score": row.pair.score,
                    "reasons": list(row.pair.reasons),
                    "first": {"id": row.first.pk, "name": str(row.first)},
                    "second": {"id": row.second.pk, "name": str(row.second)},
                }
                for row in page.rows
            ],
        }
        return Response(DuplicatePageSerializer(body).data)


# ---------------------------------------------------------------------------------------------
# Merges


class MergeRecordSerializer(serializers.ModelSerializer[MergeRecord]):
    merged_by: serializers.StringRelatedField[Any] = serializers.StringRelatedField()
    undone_by: serializers.StringRelatedField[Any] = serializers.StringRelatedField()
    moved_rows = serializers.SerializerMethodField()

    class Meta:
        model = MergeRecord
        fields = [
            "id",
            "target",
            "survivor_id",
            "merged_id",
            "merged_label",
            "merged_by",
            "merged_at",
            "undone_by",
            "undone_at",
            "moved_rows",
        ]
        read_only_fields = fields

    def get_moved_rows(self, record: MergeRecord) -> int:
        return sum(1 for entry in record.moved if len(entry) == 3)


class MergeInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    target = serializers.ChoiceField(choices=sorted(TARGETS))
    survivor = serializers.IntegerField(min_value=1, help_text="Id of the record that is kept.")
    merged = serializers.IntegerField(min_value=1, help_text="Id of the record merged into it and deleted.")
    fields = serializers.ListField(  # type: ignore[assignment]  # the input key is "fields", as documented
        child=serializers.CharField(),
        required=False,
        default=list,
        help_text="Fields to take from the merged record (e.g. given_name, notes, attributes.wechat_id); "
        "the others keep the survivor's values.",
    )


class MergeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[MergeRecord]):
    """Merges the caller may see (those whose kept record they may see); merge and undo."""

    serializer_class = MergeRecordSerializer
    pagination_class = KeysetCursorPagination
    permission_classes = [permissions.IsAuthenticated, CanMerge]
    ordering_fields = ("id",)
    default_ordering = "-id"

    def get_queryset(self) -> Any:
        return merging.visible_merges(actor_of(self.request))

    @extend_schema(
        request=MergeInputSerializer,
        responses={201: MergeRecordSerializer, 400: OpenApiResponse(description="problem+json")},
    )
    def create(self, request: Request) -> Response:
        user = actor_of(request)
        data = MergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        target = _target(values["target"])
        visible = merging.visible_records(user, target)
        for key in ("survivor", "merged"):
            if not visible.filter(pk=values[key]).exists():
                raise exceptions.NotFound(f"No {key} record with this id.")
        record = merging.merge(user, target, values["survivor"], values["merged"], values["fields"])
        return Response(MergeRecordSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: MergeRecordSerializer})
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str | None = None) -> Response:
        record = self.get_object()
        report = merging.undo_merge(actor_of(request), record)
        return Response(MergeRecordSerializer(report.record).data)


def register(router: DefaultRouter) -> None:
    """Add this area's viewsets to the project router."""
    router.register("duplicates", DuplicateViewSet, basename="duplicate")
    router.register("merges", MergeViewSet, basename="merge")
