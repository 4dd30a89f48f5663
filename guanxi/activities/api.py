"""REST endpoints of the activities app; `register` adds them to /api/.

/api/follow-ups/ (follow-up records: list, read, log), /api/tasks/ (list, read, create, change,
`complete`, `snooze`) and /api/follow-up-plans/ (read). Reads apply the same visibility as the
pages; every write goes through `services`.
"""

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from guanxi.activities import queries, services
from guanxi.activities.models import Activity, ActivityKind, FollowUpPlan, Initiator, Task, TaskStatus
from guanxi.core.api import KeysetCursorPagination, StrictInputMixin
from guanxi.customers import queries as customer_queries
from guanxi.customers.api.common import actor_of
from guanxi.leads.models import Lead
from guanxi.sales.models import Opportunity
from guanxi.staff import access
from guanxi.staff.models import User

TARGETS = ("account", "person", "lead", "opportunity")


class ActivitySerializer(serializers.ModelSerializer[Activity]):
    response_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        fields = [
            "id",
            "kind",
            "subject",
            "body",
            "outcome",
            "next_step",
            "initiated_by",
            "occurred_at",
            "answered_at",
            "response_seconds",
            "owner",
            "account",
            "person",
            "lead",
            "opportunity",
            "created_at",
        ]
        read_only_fields = fields

    def get_response_seconds(self, obj: Activity) -> int | None:
        """Seconds the customer waited for our answer (customer-started contacts only)."""
        value = obj.response_time
        return int(value.total_seconds()) if value is not None else None


class TargetInputMixin(serializers.Serializer[Any]):
    account = serializers.IntegerField(required=False, allow_null=True)
    person = serializers.IntegerField(required=False, allow_null=True)
    lead = serializers.IntegerField(required=False, allow_null=True)
    opportunity = serializers.IntegerField(required=False, allow_null=True)


class ActivityInputSerializer(StrictInputMixin, TargetInputMixin):
    kind = serializers.ChoiceField(choices=ActivityKind.choices, required=False)
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(required=False, allow_blank=True)
    outcome = serializers.CharField(max_length=255, required=False, allow_blank=True)
    next_step = serializers.CharField(max_length=255, required=False, allow_blank=True)
    initiated_by = serializers.ChoiceField(choices=Initiator.choices, required=False)
    occurred_at = serializers.DateTimeField(required=False)
    answered_at = serializers.DateTimeField(required=False, allow_null=True)


class TaskSerializer(serializers.ModelSerializer[Task]):
    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "notes",
            "due_at",
            "remind_at",
            "assignee",
            "status",
            "completed_at",
            "origin",
            "activity",
            "account",
            "person",
            "lead",
            "opportunity",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TaskInputSerializer(StrictInputMixin, TargetInputMixin):
    ignored_fields = frozenset({"id", "status", "completed_at", "origin", "activity", "created_at", "updated_at"})

    title = serializers.CharField(max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True)
    due_at = serializers.DateTimeField()
    remind_at = serializers.DateTimeField(required=False, allow_null=True)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )


class SnoozeInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    until = serializers.DateTimeField()


class FollowUpPlanSerializer(serializers.ModelSerializer[FollowUpPlan]):
    class Meta:
        model = FollowUpPlan
        fields = ["id", "grade", "interval_days", "is_active", "updated_at"]
        read_only_fields = fields


def _resolve_targets(user: User, data: dict[str, Any]) -> dict[str, Any]:
    """Turn target ids into records the user may see; an unknown or invisible id is a field error."""
    resolved: dict[str, Any] = {}
    for name in TARGETS:
        pk = data.pop(name, None)
        if pk is None:
            continue
        queryset: QuerySet[Any]
        if name == "account":
            queryset = customer_queries.visible_accounts(user)
        elif name == "person":
            queryset = customer_queries.visible_people(user)
        elif name == "lead":
            queryset = Lead.objects.filter(access.visible_q(user, team_field="team"))
        else:
            queryset = Opportunity.objects.filter(access.visible_q(user))
        record = queryset.filter(pk=pk).first()
        if record is None:
            raise exceptions.ValidationError({name: ["No such record."]})
        resolved[name] = record
    return resolved


TARGET_PARAMETERS = [OpenApiParameter(name, int, description=f"Only those about this {name} (id).") for name in TARGETS]


@extend_schema_view(
    list=extend_schema(
        parameters=[
            *TARGET_PARAMETERS,
            OpenApiParameter("kind", str, enum=list(ActivityKind.values), description="Kind of follow-up."),
        ]
    ),
    create=extend_schema(request=ActivityInputSerializer, responses={201: ActivitySerializer}),
)
class ActivityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Follow-up records (跟进记录) on accounts, contacts, leads and opportunities the user may see."""

    serializer_class = ActivitySerializer
    permission_classes = [permissions.IsAuthenticated]
    filter_backends = []
    pagination_class = KeysetCursorPagination
    ordering_fields = ("occurred_at",)
    default_ordering = "-occurred_at"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Activity]:
        queryset = queries.visible_activities(actor_of(self.request))
        if self.action == "list":
            params = self.request.query_params
            for name in TARGETS:
                value = params.get(name)
                if value:
                    if not value.isdigit():
                        raise exceptions.ValidationError({name: ["Enter a record id."]})
                    queryset = queryset.filter(**{f"{name}_id": int(value)})
            kind = params.get("kind")
            if kind:
                if kind not in ActivityKind.values:
                    raise exceptions.ValidationError({"kind": [f"Choose one of: {', '.join(ActivityKind.values)}."]})
                queryset = queryset.filter(kind=kind)
        return queryset

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        actor = actor_of(request)
        serializer = ActivityInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        targets = _resolve_targets(actor, data)
        activity = services.log_activity(actor, data, **targets)
        return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            *TARGET_PARAMETERS,
            OpenApiParameter("status", str, enum=list(TaskStatus.values), description="Task status."),
            OpenApiParameter("assignee", str, description="A user id, `me` or `none`."),
            OpenApiParameter("due", str, enum=["overdue", "today", "week"], description="Due window."),
        ]
    ),
    create=extend_schema(request=TaskInputSerializer, responses={201: TaskSerializer}),
    update=extend_schema(request=TaskInputSerializer),
    partial_update=extend_schema(request=TaskInputSerializer),
)
class TaskViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Tasks with due dates and assignees; `complete` and `snooze` act on one."""

    serializer_class = TaskSerializer
    permission_classes = [permissions.IsAuthenticated]
    filter_backends = []
    pagination_class = KeysetCursorPagination
    ordering_fields = ("due_at", "created_at")
    default_ordering = "due_at"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Task]:
        user = actor_of(self.request)
        queryset = queries.visible_tasks(user)
        if self.action == "list":
            params = self.request.query_params
            filters = queries.TaskFilters(
                status=params.get("status", ""), assignee=params.get("assignee", ""), due=params.get("due", "")
            )
            queryset = queries.filter_tasks(queryset, filters, user, timezone.now())
            for name in TARGETS:
                value = params.get(name)
                if value and value.isdigit():
                    queryset = queryset.filter(**{f"{name}_id": int(value)})
        return queryset

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        actor = actor_of(request)
        serializer = TaskInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        targets = _resolve_targets(actor, data)
        task = services.create_task(actor, data, **targets)
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        task = self.get_object()
        serializer = TaskInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if k not in TARGETS}
        task = services.update_task(actor_of(request), task, data)
        return Response(TaskSerializer(task).data)

    @extend_schema(request=None, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        task = services.complete_task(actor_of(request), self.get_object())
        return Response(TaskSerializer(task).data)

    @extend_schema(request=SnoozeInputSerializer, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def snooze(self, request: Request, pk: str | None = None) -> Response:
        serializer = SnoozeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = services.snooze_task(actor_of(request), self.get_object(), serializer.validated_data["until"])
        return Response(TaskSerializer(task).data)


class FollowUpPlanViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """How often customers of each grade are followed up (admins change them on the settings page)."""

    queryset = FollowUpPlan.objects.all()
    serializer_class = FollowUpPlanSerializer
    permission_classes = [permissions.IsAuthenticated]
    filter_backends = []
    pagination_class = KeysetCursorPagination
    ordering_fields = ("grade",)
    default_ordering = "grade"


def register(router: DefaultRouter) -> None:
    router.register("follow-ups", ActivityViewSet, basename="follow-up")
    router.register("tasks", TaskViewSet, basename="task")
    router.register("follow-up-plans", FollowUpPlanViewSet, basename="follow-up-plan")
