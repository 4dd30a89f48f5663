"""REST endpoints of the tracking app; `register` adds them to /api/.

Sources (admins only: the write key is returned once, at creation) with their tracking plan and
its data-quality report, visitor profiles with their identifiers, events, sessions and computed
traits (visible as their contact is), a contact's computed traits over all their profiles, and
profile merges with undo (admins).
Events themselves arrive at /v1/ (see `ingest.py`), not here.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view, inline_serializer
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from guanxi.core.api import KeysetCursorPagination, StrictInputMixin
from guanxi.customers.queries import visible_people
from guanxi.staff import access
from guanxi.staff.models import User
from guanxi.tracking import queries, services
from guanxi.tracking.models import (
    ComputedTraits,
    Identifier,
    LandedEvent,
    PlanViolation,
    Profile,
    ProfileMerge,
    SeenEvent,
    Session,
    Source,
)
from guanxi.tracking.services import plans


def _actor(request: Request) -> User:
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied
    return user


class AdminOnly(permissions.BasePermission):
    message = "Only an admin may manage tracking sources and merges."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return access.can_manage_settings(request.user)


# ---------------------------------------------------------------------------------------------
# Sources


class SourceSerializer(serializers.ModelSerializer[Source]):
    # Plain strings rather than model choices keep the schema's enum names free of clashes.
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = Source
        fields = [
            "id",
            "name",
            "write_key_prefix",
            "is_active",
            "require_consent_for_joining",
            "traits_overwrite_manual_edits",
            "identifier_limits",
            "created_at",
            "revoked_at",
        ]
        read_only_fields = fields


class SourceCreatedSerializer(SourceSerializer):
    write_key = serializers.CharField(read_only=True, help_text="Shown once; only its hash is stored.")

    class Meta(SourceSerializer.Meta):
        fields = [*SourceSerializer.Meta.fields, "write_key"]
        read_only_fields = fields


class SourceInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    ignored_fields = frozenset({"id", "write_key_prefix", "is_active", "created_at", "revoked_at"})

    name = serializers.CharField(max_length=100)
    require_consent_for_joining = serializers.BooleanField(required=False)
    traits_overwrite_manual_edits = serializers.BooleanField(required=False)
    identifier_limits = serializers.DictField(child=serializers.IntegerField(min_value=1), required=False)


LagSerializer = inline_serializer(
    "ProcessingLag",
    {
        "backlog": serializers.IntegerField(),
        "backlog_more": serializers.BooleanField(),
        "oldest_received_at": serializers.DateTimeField(allow_null=True),
        "oldest_age_seconds": serializers.FloatField(allow_null=True),
    },
)


PLAN_PROPERTY_FIELDS: dict[str, serializers.Field[Any, Any, Any, Any]] = {
    "name": serializers.CharField(),
    "type": serializers.ChoiceField(choices=["string", "number", "integer", "boolean", "object", "array"]),
    "required": serializers.BooleanField(default=False),
}
PLAN_EVENT_FIELDS: dict[str, serializers.Field[Any, Any, Any, Any]] = {
    "type": serializers.ChoiceField(choices=list(plans.PLAN_TYPES), default="track"),
    "name": serializers.CharField(allow_blank=True),
    "description": serializers.CharField(allow_blank=True, required=False),
    "properties": inline_serializer("TrackingPlanProperty", PLAN_PROPERTY_FIELDS, many=True, required=False),
}
# Schema only: `plans.save_tracking_plan` validates the plan itself (the page's import does too).
TrackingPlanSerializer = inline_serializer(
    "TrackingPlan",
    {
        "source": serializers.CharField(read_only=True),
        "events": inline_serializer("TrackingPlanEvent", PLAN_EVENT_FIELDS, many=True),
    },
)


class PlanViolationSerializer(serializers.ModelSerializer[PlanViolation]):
    kind = serializers.CharField(
        read_only=True, help_text="unexpected_event, missing_required, wrong_type or unexpected_property"
    )
    type = serializers.CharField(read_only=True)

    class Meta:
        model = PlanViolation
        fields = ["kind", "type", "event", "property", "count", "examples", "first_seen", "last_seen"]
        read_only_fields = fields


class SeenEventSerializer(serializers.ModelSerializer[SeenEvent]):
    type = serializers.CharField(read_only=True)

    class Meta:
        model = SeenEvent
        fields = ["type", "name", "count", "first_seen", "last_seen"]
        read_only_fields = fields


QualitySerializer = inline_serializer(
    "TrackingPlanQuality",
    {
        "never_seen": serializers.ListField(child=serializers.DictField()),
        "unexpected": PlanViolationSerializer(many=True),
        "violations": PlanViolationSerializer(many=True),
        "seen": SeenEventSerializer(many=True),
    },
)


def _lag_data(source: Source | None) -> dict[str, Any]:
    lag = queries.processing_lag(source)
    age = lag.oldest_age
    return {
        "backlog": lag.backlog,
        "backlog_more": lag.backlog_more,
        "oldest_received_at": lag.oldest_received_at,
        "oldest_age_seconds": age.total_seconds() if age is not None else None,
    }


@extend_schema_view(
    create=extend_schema(request=SourceInputSerializer, responses={201: SourceCreatedSerializer}),
    partial_update=extend_schema(request=SourceInputSerializer),
)
class SourceViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Tracking sources and their write keys: admins only."""

    serializer_class = SourceSerializer
    permission_classes = [permissions.IsAuthenticated, AdminOnly]
    filter_backends = []
    pagination_class = KeysetCursorPagination
    ordering_fields = ("name", "created_at")
    default_ordering = "name"
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Source]:
        return Source.objects.all()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SourceSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(SourceSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        serializer = SourceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source, key = services.create_source(_actor(request), serializer.validated_data)
        data = dict(SourceSerializer(source).data)
        data["write_key"] = key
        return Response(data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        source = self.get_object()
        serializer = SourceInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        source = services.update_source(_actor(request), source, serializer.validated_data)
        return Response(SourceSerializer(source).data)

    @extend_schema(request=None, responses={200: SourceSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        source = services.revoke_source(_actor(request), self.get_object())
        return Response(SourceSerializer(source).data)

    @extend_schema(responses={200: LagSerializer})
    @action(detail=True, methods=["get"])
    def lag(self, request: Request, pk: str | None = None) -> Response:
        return Response(_lag_data(self.get_object()))

    @extend_schema(methods=["GET"], responses={200: TrackingPlanSerializer})
    @extend_schema(methods=["PUT"], request=TrackingPlanSerializer, responses={200: TrackingPlanSerializer})
    @action(detail=True, methods=["get", "put"])
    def plan(self, request: Request, pk: str | None = None) -> Response:
        """The source's tracking plan (the same JSON the source page imports and exports)."""
        source = self.get_object()
        if request.method == "PUT":
            plans.save_tracking_plan(_actor(request), source, request.data)
        return Response(plans.export_tracking_plan(source))

    @extend_schema(responses={200: QualitySerializer})
    @action(detail=True, methods=["get"])
    def quality(self, request: Request, pk: str | None = None) -> Response:
        """Planned events never seen, unexpected events and property violations, with counts and examples."""
        report = plans.plan_report(self.get_object())
        return Response(
            {
                "never_seen": [{"type": e["type"], "name": e["name"]} for e in report.never_seen],
                "unexpected": PlanViolationSerializer(report.unexpected, many=True).data,
                "violations": PlanViolationSerializer(report.violations, many=True).data,
                "seen": SeenEventSerializer(report.seen, many=True).data,
            }
        )


# ---------------------------------------------------------------------------------------------
# Profiles and merges


class IdentifierSerializer(serializers.ModelSerializer[Identifier]):
    type = serializers.CharField(read_only=True, help_text="anonymous_id, user_id, email, phone, wechat_openid…")

    class Meta:
        model = Identifier
        fields = ["type", "value", "created_at"]
        read_only_fields = fields


class ComputedTraitsSerializer(serializers.ModelSerializer[ComputedTraits]):
    """Orders and revenue count tracked "Order Completed" events only, not orders recorded in Guanxi."""

    top_products = serializers.SerializerMethodField()
    top_categories = serializers.SerializerMethodField()
    channels = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = ComputedTraits
        fields = [
            "event_count",
            "session_count",
            "page_views",
            "product_views",
            "top_products",
            "top_categories",
            "order_count",
            "revenue",
            "last_order_at",
            "channels",
            "device",
            "os",
            "browser",
            "location",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_top_products(self, traits: ComputedTraits) -> list[dict[str, Any]]:
        return [{"product": key, "views": n} for key, n in traits.top_products(10)]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_top_categories(self, traits: ComputedTraits) -> list[dict[str, Any]]:
        return [{"category": key, "views": n} for key, n in traits.top_categories(10)]


class ProfileSerializer(serializers.ModelSerializer[Profile]):
    identifiers = IdentifierSerializer(many=True, read_only=True)
    computed_traits = ComputedTraitsSerializer(source="computed", read_only=True, allow_null=True)

    class Meta:
        model = Profile
        fields = ["id", "person", "traits", "first_seen", "last_seen", "identifiers", "computed_traits"]
        read_only_fields = fields


class SessionSerializer(serializers.ModelSerializer[Session]):
    channel = serializers.CharField(read_only=True, help_text="web, app or server")

    class Meta:
        model = Session
        fields = [
            "id",
            "source",
            "started_at",
            "ended_at",
            "event_count",
            "page_views",
            "first_page",
            "referrer",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "channel",
            "device",
            "os",
            "browser",
            "location",
            "ip",
        ]
        read_only_fields = fields


class PersonTraitsSerializer(serializers.Serializer[Any]):
    person = serializers.IntegerField()
    profiles = serializers.IntegerField(help_text="visible profiles of the contact that were added up")
    first_seen = serializers.DateTimeField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    computed_traits = ComputedTraitsSerializer(allow_null=True)


class EventSerializer(serializers.ModelSerializer[LandedEvent]):
    type = serializers.CharField(read_only=True)
    processed = serializers.SerializerMethodField(help_text="whether processing has taken the event yet")

    def get_processed(self, event: LandedEvent) -> bool:
        # The view reads the watermark once per response and passes it in the context.
        watermark = self.context.get("processed_up_to")
        return bool(event.pk <= (queries.processed_up_to() if watermark is None else watermark))

    class Meta:
        model = LandedEvent
        fields = [
            "id",
            "source",
            "message_id",
            "type",
            "event",
            "user_id",
            "anonymous_id",
            "timestamp",
            "received_at",
            "processed",
            "payload",
        ]
        read_only_fields = fields


class ProfileMergeSerializer(serializers.ModelSerializer[ProfileMerge]):
    reason = serializers.CharField(read_only=True, help_text="identify, alias or trait_match")
    status = serializers.CharField(read_only=True, help_text="pending_consent, done or undone")

    class Meta:
        model = ProfileMerge
        fields = ["id", "merged_from", "merged_into", "reason", "status", "created_at", "merged_at", "undone_at"]
        read_only_fields = fields


class _SessionOrdering(APIView):
    """The sessions pager's orderings (newest first, along the (profile, -started_at, -id) index)."""

    ordering_fields = ("started_at",)
    default_ordering = "-started_at"


class ProfileViewSet(viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """Visitor profiles: anonymous ones (like the shared pool) and known ones as their contact."""

    serializer_class = ProfileSerializer
    filter_backends = []
    pagination_class = KeysetCursorPagination
    ordering_fields = ("last_seen", "first_seen")
    default_ordering = "-last_seen"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Profile]:
        return queries.visible_profiles(self.request.user).select_related("computed").prefetch_related("identifiers")

    @extend_schema(responses={200: SessionSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def sessions(self, request: Request, pk: str | None = None) -> Response:
        sessions = Session.objects.filter(profile=self.get_object())
        paginator = KeysetCursorPagination()
        # Newest first along the (profile, -started_at, -id) index.
        page = paginator.paginate_queryset(sessions, request, view=_SessionOrdering())
        return paginator.get_paginated_response(SessionSerializer(page, many=True).data)

    @extend_schema(responses={200: EventSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str | None = None) -> Response:
        events = queries.profile_events(self.get_object()).order_by()
        paginator = KeysetCursorPagination()
        page = paginator.paginate_queryset(events, request, view=None)
        context = {"processed_up_to": queries.processed_up_to()}
        return paginator.get_paginated_response(EventSerializer(page, many=True, context=context).data)


class ProfileMergeViewSet(viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """Recorded profile merges (done, undone, waiting for consent): admins only."""

    serializer_class = ProfileMergeSerializer
    permission_classes = [permissions.IsAuthenticated, AdminOnly]
    filter_backends = []
    pagination_class = KeysetCursorPagination
    ordering_fields = ("created_at",)
    default_ordering = "-created_at"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[ProfileMerge]:
        return ProfileMerge.objects.all()

    @extend_schema(request=None, responses={200: ProfileMergeSerializer})
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str | None = None) -> Response:
        merge = services.undo_profile_merge(_actor(request), self.get_object())
        return Response(ProfileMergeSerializer(merge).data)


class PersonTraitsViewSet(viewsets.ViewSet):
    """A contact's computed traits, added up over their visible tracking profiles (404 when the
    contact is not visible)."""

    lookup_value_regex = r"\d+"

    @extend_schema(responses={200: PersonTraitsSerializer})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        user = _actor(request)
        person = visible_people(user).filter(pk=int(pk or 0)).first()
        if person is None:
            raise NotFound
        traits, profiles = queries.person_traits(user, person)
        first_seen, last_seen = queries.person_seen(user, person)
        return Response(
            {
                "person": person.pk,
                "profiles": profiles,
                "first_seen": first_seen,
                "last_seen": last_seen,
                "computed_traits": ComputedTraitsSerializer(traits).data if traits else None,
            }
        )


def register(router: DefaultRouter) -> None:
    router.register("tracking/sources", SourceViewSet, basename="tracking-source")
    router.register("tracking/profiles", ProfileViewSet, basename="tracking-profile")
    router.register("tracking/merges", ProfileMergeViewSet, basename="tracking-merge")
    router.register("tracking/person-traits", PersonTraitsViewSet, basename="tracking-person-traits")
