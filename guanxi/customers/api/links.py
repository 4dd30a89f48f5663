"""Endpoints for the links between parties: a person's roles at accounts, and relationships
from one party to another.

A link is visible when both of its ends are; every write goes through `services`.
"""

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from guanxi.core.api import KeysetCursorPagination, StrictInputMixin, django_error_detail
from guanxi.customers import queries, services
from guanxi.customers.api.common import EDIT_ACTIONS, PARTY_TYPES, actor_of
from guanxi.customers.api.fields import VisibleAccountField, VisiblePersonField, optional_text
from guanxi.customers.models import Account, Person, Relationship, RelationshipKind, Role, RoleKind
from guanxi.staff.models import User


def _raise_renamed(exc: DjangoValidationError, renames: Mapping[str, str]) -> NoReturn:
    detail = django_error_detail(exc)
    raise serializers.ValidationError({renames.get(key, key): value for key, value in detail.items()}) from exc


# ---------------------------------------------------------------------------------------------
# Roles


class RoleSerializer(serializers.ModelSerializer[Role]):
    person_name = serializers.CharField(source="person.full_name", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)

    class Meta:
        model = Role
        fields = [
            "id",
            "person",
            "person_name",
            "account",
            "account_name",
            "kind",
            "job_title",
            "is_primary_contact",
            "note",
            "created_at",
        ]
        read_only_fields = fields


ROLE_OUTPUT_ONLY = frozenset({"id", "person_name", "account_name", "created_at"})


class RoleInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    ignored_fields = ROLE_OUTPUT_ONLY

    person = VisiblePersonField(queryset=Person.objects.all())
    account = VisibleAccountField(queryset=Account.objects.all())
    kind = serializers.ChoiceField(choices=RoleKind.choices)
    job_title = optional_text(100)
    is_primary_contact = serializers.BooleanField(required=False)
    note = optional_text(255)


class RoleUpdateSerializer(StrictInputMixin, serializers.Serializer[Any]):
    """A role's person and account are fixed; they may be sent back unchanged."""

    ignored_fields = ROLE_OUTPUT_ONLY

    person = serializers.IntegerField(required=False)
    account = serializers.IntegerField(required=False)
    kind = serializers.ChoiceField(choices=RoleKind.choices, required=False)
    job_title = optional_text(100)
    is_primary_contact = serializers.BooleanField(required=False)
    note = optional_text(255)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        role = self.instance
        errors: dict[str, list[str]] = {
            name: ["Cannot be changed; remove the role and add a new one."]
            for name in ("person", "account")
            if name in attrs and attrs[name] != getattr(role, f"{name}_id")
        }
        if errors:
            raise serializers.ValidationError(errors)
        attrs.pop("person", None)
        attrs.pop("account", None)
        return attrs


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("person", int, description="Only roles of this person."),
            OpenApiParameter("account", int, description="Only roles at this account."),
        ]
    ),
    create=extend_schema(request=RoleInputSerializer, responses={201: RoleSerializer}),
    update=extend_schema(request=RoleUpdateSerializer),
    partial_update=extend_schema(request=RoleUpdateSerializer),
)
class RoleViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """A person's roles at accounts; visible when both the person and the account are."""

    queryset = Role.objects.none()
    serializer_class = RoleSerializer
    filter_backends = []
    pagination_class = KeysetCursorPagination
    ordering_fields: tuple[str, ...] = ()
    default_ordering = "id"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Role]:
        if getattr(self, "swagger_fake_view", False):
            return Role.objects.none()
        user = actor_of(self.request)
        queryset = Role.objects.filter(
            person__in=queries.visible_people(user).values("pk"),
            account__in=queries.visible_accounts(user).values("pk"),
        ).select_related("person", "account")
        if self.action == "list":
            params = _id_params(self.request, ("person", "account"))
            if "person" in params:
                queryset = queryset.filter(person_id=params["person"])
            if "account" in params:
                queryset = queryset.filter(account_id=params["account"])
        return queryset

    def get_object(self) -> Role:
        """404 for a role the user may not see; 403 when they may change neither its account nor its person."""
        role: Role = super().get_object()
        if self.action in EDIT_ACTIONS:
            user = actor_of(self.request)
            if not (
                queries.editable_accounts(user).filter(pk=role.account_id).exists()
                or queries.editable_people(user).filter(pk=role.person_id).exists()
            ):
                raise exceptions.PermissionDenied("You may not change this role.")
        return role

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = RoleInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        role = services.add_role(actor_of(request), data.pop("person"), data.pop("account"), data.pop("kind"), **data)
        return Response(RoleSerializer(self.get_queryset().get(pk=role.pk)).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        role = self.get_object()
        serializer = RoleUpdateSerializer(role, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        services.update_role(actor_of(request), role, serializer.validated_data)
        return Response(RoleSerializer(self.get_queryset().get(pk=role.pk)).data)

    def perform_destroy(self, instance: Role) -> None:
        services.remove_role(actor_of(self.request), instance)


def _id_params(request: Request, names: Iterable[str]) -> dict[str, int]:
    values: dict[str, int] = {}
    errors: dict[str, list[str]] = {}
    for name in names:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            continue
        if not raw.isdigit():
            errors[name] = ["Enter a record id."]
            continue
        values[name] = int(raw)
    if errors:
        raise serializers.ValidationError(errors)
    return values


# ---------------------------------------------------------------------------------------------
# Relationships


class RelationshipSerializer(serializers.ModelSerializer[Relationship]):
    from_type = serializers.SerializerMethodField()
    from_id = serializers.SerializerMethodField()
    from_name = serializers.SerializerMethodField()
    to_type = serializers.SerializerMethodField()
    to_id = serializers.SerializerMethodField()
    to_name = serializers.SerializerMethodField()

    class Meta:
        model = Relationship
        fields = [
            "id",
            "kind",
            "from_type",
            "from_id",
            "from_name",
            "to_type",
            "to_id",
            "to_name",
            "note",
            "created_at",
        ]
        read_only_fields = fields

    def get_from_type(self, relationship: Relationship) -> str:
        return "account" if relationship.from_account_id else "person"

    def get_from_id(self, relationship: Relationship) -> int:
        return int(relationship.source_party.pk)

    def get_from_name(self, relationship: Relationship) -> str:
        return str(relationship.source_party)

    def get_to_type(self, relationship: Relationship) -> str:
        return "account" if relationship.to_account_id else "person"

    def get_to_id(self, relationship: Relationship) -> int:
        return int(relationship.target_party.pk)

    def get_to_name(self, relationship: Relationship) -> str:
        return str(relationship.target_party)


class RelationshipInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    """ "<from> <kind> <to>", e.g. a person `referred_by` another person."""

    kind = serializers.ChoiceField(choices=RelationshipKind.choices)
    from_type = serializers.ChoiceField(choices=PARTY_TYPES)
    from_id = serializers.IntegerField(min_value=1)
    to_type = serializers.ChoiceField(choices=PARTY_TYPES)
    to_id = serializers.IntegerField(min_value=1)
    note = optional_text(255)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = actor_of(self.context["request"])
        errors: dict[str, list[str]] = {}
        for side in ("from", "to"):
            kind = attrs[f"{side}_type"]
            visible = queries.visible_accounts(user) if kind == "account" else queries.visible_people(user)
            party = visible.filter(pk=attrs[f"{side}_id"]).first()
            if party is None:
                errors[f"{side}_id"] = [f"No {kind} with this id."]
            attrs[side] = party
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def _visible_relationships(user: User) -> QuerySet[Relationship]:
    accounts = queries.visible_accounts(user).values("pk")
    people = queries.visible_people(user).values("pk")
    return Relationship.objects.filter(
        (Q(from_account__in=accounts) | Q(from_person__in=people))
        & (Q(to_account__in=accounts) | Q(to_person__in=people))
    ).select_related("from_account", "from_person", "to_account", "to_person")


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("person", int, description="Only relationships from or to this person."),
            OpenApiParameter("account", int, description="Only relationships from or to this account."),
        ]
    ),
    create=extend_schema(request=RelationshipInputSerializer, responses={201: RelationshipSerializer}),
)
class RelationshipViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """Directed links between parties; visible when both ends are. Recorded or removed, never edited."""

    queryset = Relationship.objects.none()
    serializer_class = RelationshipSerializer
    filter_backends = []
    pagination_class = KeysetCursorPagination
    ordering_fields: tuple[str, ...] = ()
    default_ordering = "id"
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Relationship]:
        if getattr(self, "swagger_fake_view", False):
            return Relationship.objects.none()
        queryset = _visible_relationships(actor_of(self.request))
        if self.action == "list":
            params = _id_params(self.request, ("person", "account"))
            if "person" in params:
                queryset = queryset.filter(Q(from_person_id=params["person"]) | Q(to_person_id=params["person"]))
            if "account" in params:
                queryset = queryset.filter(Q(from_account_id=params["account"]) | Q(to_account_id=params["account"]))
        return queryset

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = RelationshipInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            relationship = services.add_relationship(
                actor_of(request), data["from"], data["kind"], data["to"], note=data.get("note", "")
            )
        except DjangoValidationError as exc:
            _raise_renamed(exc, {"target": "to_id"})
        return Response(
            RelationshipSerializer(self.get_queryset().get(pk=relationship.pk)).data, status=status.HTTP_201_CREATED
        )

    def perform_destroy(self, instance: Relationship) -> None:
        services.remove_relationship(actor_of(self.request), instance)
