"""Settings endpoints: tags and custom attribute definitions, which everyone reads and only
admins change."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from guanxi.core.api import KeysetCursorPagination, StrictInputMixin
from guanxi.core.models import AttributeDefinition, AttributeType, Tag
from guanxi.customers import services
from guanxi.customers.api.common import PARTY_TYPES, actor_of
from guanxi.staff import access


class AdminWritesOnly(permissions.BasePermission):
    """Everyone signed in reads; only admins change settings (the services check it again)."""

    message = "Only an admin may change this setting."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return access.can_manage_settings(request.user)


class TagSerializer(serializers.ModelSerializer[Tag]):
    class Meta:
        model = Tag
        fields = ["id", "name", "color", "created_at"]
        read_only_fields = fields


class TagInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    ignored_fields = frozenset({"id", "created_at"})

    name = serializers.CharField(max_length=64)
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False, help_text="A colour as #rrggbb.")


@extend_schema_view(
    create=extend_schema(request=TagInputSerializer, responses={201: TagSerializer}),
    update=extend_schema(request=TagInputSerializer),
    partial_update=extend_schema(request=TagInputSerializer),
)
class TagViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """Tags: everyone reads; admins add, rename and remove them."""

    queryset = Tag.objects.all()
    serializer_class = TagSerializer
    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]
    filter_backends = []
    pagination_class = KeysetCursorPagination
    ordering_fields = ("name", "created_at")
    default_ordering = "name"
    lookup_value_regex = r"\d+"

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = TagInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tag = services.create_tag(actor_of(request), **serializer.validated_data)
        return Response(TagSerializer(tag).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        tag = self.get_object()
        serializer = TagInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        tag = services.update_tag(actor_of(request), tag, serializer.validated_data)
        return Response(TagSerializer(tag).data)

    def perform_destroy(self, instance: Tag) -> None:
        services.delete_tag(actor_of(self.request), instance)


class AttributeDefinitionSerializer(serializers.ModelSerializer[AttributeDefinition]):
    choices = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = AttributeDefinition
        fields = ["id", "target", "key", "label", "data_type", "choices", "required", "position", "created_at"]
        read_only_fields = fields


class AttributeDefinitionInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    """`target`, `key` and `data_type` are fixed once created."""

    ignored_fields = frozenset({"id", "created_at"})

    target = serializers.ChoiceField(choices=PARTY_TYPES)
    key = serializers.SlugField(max_length=64)
    label = serializers.CharField(max_length=100)  # type: ignore[assignment]  # DRF pops declared fields
    data_type = serializers.ChoiceField(choices=AttributeType.choices)
    choices = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=200)
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]  # DRF pops declared fields
    position = serializers.IntegerField(min_value=0, max_value=32767, required=False)


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("target", str, enum=list(PARTY_TYPES), description="Record type.")]
    ),
    create=extend_schema(request=AttributeDefinitionInputSerializer, responses={201: AttributeDefinitionSerializer}),
    update=extend_schema(request=AttributeDefinitionInputSerializer),
    partial_update=extend_schema(request=AttributeDefinitionInputSerializer),
)
class AttributeDefinitionViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """Custom attributes on accounts and people: everyone reads; admins define them."""

    queryset = AttributeDefinition.objects.all()
    serializer_class = AttributeDefinitionSerializer
    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]
    filter_backends = []
    pagination_class = KeysetCursorPagination
    ordering_fields: tuple[str, ...] = ()
    default_ordering = "id"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[AttributeDefinition]:
        queryset = AttributeDefinition.objects.all()
        target = self.request.query_params.get("target") if self.action == "list" else None
        if target:
            if target not in PARTY_TYPES:
                raise serializers.ValidationError({"target": [f"Choose one of: {', '.join(PARTY_TYPES)}."]})
            queryset = queryset.filter(target=target)
        return queryset

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = AttributeDefinitionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        definition = services.create_attribute_definition(actor_of(request), serializer.validated_data)
        return Response(AttributeDefinitionSerializer(definition).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        definition = self.get_object()
        serializer = AttributeDefinitionInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        definition = services.update_attribute_definition(actor_of(request), definition, serializer.validated_data)
        return Response(AttributeDefinitionSerializer(definition).data)

    def perform_destroy(self, instance: AttributeDefinition) -> None:
        services.delete_attribute_definition(actor_of(self.request), instance)
