"""REST API for customer records: accounts, people, roles, relationships, tags, custom attributes.

Reads start from `queries` (so the API sees what the UI sees) and every write goes through
`services` (so the API keeps history, search keys and permissions exactly as the UI does).
Input and output have separate serializers: output is what a record looks like, input is
what a client may send; unknown input fields are refused, never silently dropped.
"""

from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any, ClassVar, NoReturn

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from guanxi.core.api import KeysetCursorPagination, django_error_detail
from guanxi.core.history import history_for
from guanxi.core.models import AttributeDefinition, AttributeType, ChangeRecord, Tag
from guanxi.customers import queries, services
from guanxi.customers.models import (
    Account,
    AccountKind,
    Address,
    Channel,
    ConsentPurpose,
    ConsentRecord,
    EmailAddress,
    LifecycleStage,
    MarketSegment,
    Person,
    PhoneNumber,
    Relationship,
    RelationshipKind,
    Role,
    RoleKind,
)
from guanxi.staff import access
from guanxi.staff.models import Team, User

UNKNOWN_FIELD = "Unknown field."
PARTY_TYPES = ("account", "person")


def actor_of(request: Request) -> User:
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    return user


# ---------------------------------------------------------------------------------------------
# Input plumbing


class StrictInputMixin:
    """Refuse input keys the serializer does not know, naming each one.

    `ignored_fields` are output-only fields (id, url, timestamps...) a client may send back
    unchanged after a GET; they are accepted and ignored, never written.
    """

    ignored_fields: ClassVar[frozenset[str]] = frozenset()
    fields: Any

    def to_internal_value(self, data: Any) -> Any:
        errors: dict[str, Any] = {}
        if isinstance(data, Mapping):
            errors = {key: [UNKNOWN_FIELD] for key in data if key not in self.fields and key not in self.ignored_fields}
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]  # mixed into a Serializer
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            raise serializers.ValidationError({**detail, **errors}) from exc
        if errors:
            raise serializers.ValidationError(errors)
        return value


class _ContactInputField(serializers.Field):  # type: ignore[type-arg]  # a str-or-object field
    """One e-mail address or phone number: a plain string, or an object with kind and primary flag."""

    value_key: ClassVar[str]
    kinds: ClassVar[Iterable[str]]

    def to_internal_value(self, data: Any) -> str | dict[str, Any]:
        if isinstance(data, str):
            return data
        if not isinstance(data, dict):
            raise serializers.ValidationError(f"Enter a string or an object with `{self.value_key}`.")
        errors: dict[str, list[str]] = {
            key: [UNKNOWN_FIELD] for key in data if key not in (self.value_key, "kind", "is_primary")
        }
        value = data.get(self.value_key)
        if not isinstance(value, str):
            errors[self.value_key] = ["This field is required and must be a string."]
        kind = data.get("kind", "")
        if kind not in ("", *self.kinds):
            errors["kind"] = [f"Choose one of: {', '.join(self.kinds)}."]
        is_primary = data.get("is_primary", False)
        if not isinstance(is_primary, bool):
            errors["is_primary"] = ["Must be true or false."]
        if errors:
            raise serializers.ValidationError(errors)
        return {self.value_key: value, "kind": kind, "is_primary": is_primary}

    def to_representation(self, value: Any) -> Any:
        return value


def _contact_schema(value_key: str, kinds: list[str]) -> dict[str, Any]:
    return {
        "oneOf": [
            {"type": "string"},
            {
                "type": "object",
                "properties": {
                    value_key: {"type": "string"},
                    "kind": {"type": "string", "enum": kinds},
                    "is_primary": {"type": "boolean"},
                },
                "required": [value_key],
                "additionalProperties": False,
            },
        ]
    }


@extend_schema_field(_contact_schema("address", list(EmailAddress.Kind.values)))
class EmailInputField(_ContactInputField):
    value_key = "address"
    kinds = tuple(EmailAddress.Kind.values)


@extend_schema_field(_contact_schema("number", list(PhoneNumber.Kind.values)))
class PhoneInputField(_ContactInputField):
    value_key = "number"
    kinds = tuple(PhoneNumber.Kind.values)


class TagNamesField(serializers.ListField):
    """Tags shown by name; reads the (prefetched) related manager."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(), **kwargs)

    def to_representation(self, data: Any) -> list[Any]:
        return [tag.name for tag in data.all()]


class _VisibleRelatedField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A related id the requesting user may see; the input's current value always stays valid."""

    def visible(self, user: User) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        user = actor_of(self.context["request"])
        queryset = self.visible(user)
        instance = getattr(self.parent, "instance", None)
        current = getattr(instance, f"{self.field_name}_id", None) if isinstance(instance, Model) else None
        if current is not None:
            queryset = queryset.model.objects.filter(Q(pk__in=queryset.values("pk")) | Q(pk=current))
        return queryset


class VisibleAccountField(_VisibleRelatedField):
    def visible(self, user: User) -> QuerySet[Account]:
        return queries.visible_accounts(user)


class VisiblePersonField(_VisibleRelatedField):
    def visible(self, user: User) -> QuerySet[Person]:
        return queries.visible_people(user)


class VisibleTeamField(_VisibleRelatedField):
    """Admins pick any team; others the teams they manage or belong to."""

    def visible(self, user: User) -> QuerySet[Team]:
        if user.is_admin:
            return Team.objects.all()
        return Team.objects.filter(Q(pk__in=access.managed_team_ids(user)) | Q(pk=user.team_id))


def _optional_text(max_length: int) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True)


# ---------------------------------------------------------------------------------------------
# Output serializers


class EmailSerializer(serializers.ModelSerializer[EmailAddress]):
    class Meta:
        model = EmailAddress
        fields = ["address", "kind", "is_primary"]


class PhoneSerializer(serializers.ModelSerializer[PhoneNumber]):
    class Meta:
        model = PhoneNumber
        fields = ["number", "kind", "is_primary"]


class AddressSerializer(StrictInputMixin, serializers.ModelSerializer[Address]):
    """An account's address; the same shape in and out."""

    class Meta:
        model = Address
        fields = ["kind", "line1", "line2", "city", "region", "postal_code", "country"]


class RoleSummarySerializer(serializers.ModelSerializer[Role]):
    account_name = serializers.CharField(source="account.name", read_only=True)

    class Meta:
        model = Role
        fields = ["id", "account", "account_name", "kind", "job_title", "is_primary_contact"]
        read_only_fields = fields


PERSON_OUTPUT_FIELDS = [
    "id",
    "url",
    "family_name",
    "given_name",
    "full_name",
    "birthday",
    "preferred_language",
    "preferred_channel",
    "preferences",
    "buying_motives",
    "source",
    "notes",
    "owner",
    "lifecycle_stage",
    "emails",
    "phones",
    "tags",
    "attributes",
    "roles",
    "created_at",
    "updated_at",
]


class PersonSerializer(serializers.ModelSerializer[Person]):
    url = serializers.HyperlinkedIdentityField(view_name="api:person-detail")
    emails = EmailSerializer(many=True, read_only=True)
    phones = PhoneSerializer(many=True, read_only=True)
    tags = TagNamesField(read_only=True)
    attributes = serializers.DictField(read_only=True)
    roles = RoleSummarySerializer(many=True, read_only=True)

    class Meta:
        model = Person
        fields = PERSON_OUTPUT_FIELDS
        read_only_fields = fields


class PersonInputSerializer(StrictInputMixin, serializers.ModelSerializer[Person]):
    ignored_fields = frozenset(set(PERSON_OUTPUT_FIELDS) - {*services.PERSON_FIELDS, "lifecycle_stage"})

    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), allow_null=True, required=False)
    emails = serializers.ListField(child=EmailInputField(), required=False, max_length=50)
    phones = serializers.ListField(child=PhoneInputField(), required=False, max_length=50)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=100)
    attributes = serializers.DictField(required=False)

    class Meta:
        model = Person
        fields = [*services.PERSON_FIELDS, "lifecycle_stage", "emails", "phones", "tags", "attributes"]


ACCOUNT_OUTPUT_FIELDS = [
    "id",
    "url",
    "name",
    "kind",
    "organisation_type",
    "industry",
    "market_segment",
    "grade",
    "parent",
    "website",
    "domain",
    "registration_number",
    "phone",
    "status",
    "source",
    "notes",
    "owner",
    "team",
    "lifecycle_stage",
    "tags",
    "attributes",
    "addresses",
    "created_at",
    "updated_at",
]


class AccountSerializer(serializers.ModelSerializer[Account]):
    url = serializers.HyperlinkedIdentityField(view_name="api:account-detail")
    tags = TagNamesField(read_only=True)
    attributes = serializers.DictField(read_only=True)
    addresses = AddressSerializer(many=True, read_only=True)

    class Meta:
        model = Account
        fields = ACCOUNT_OUTPUT_FIELDS
        read_only_fields = fields


class AccountInputSerializer(StrictInputMixin, serializers.ModelSerializer[Account]):
    ignored_fields = frozenset(set(ACCOUNT_OUTPUT_FIELDS) - {*services.ACCOUNT_FIELDS, "lifecycle_stage"})

    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), allow_null=True, required=False)
    parent = VisibleAccountField(  # type: ignore[assignment]  # DRF pops declared fields off the class
        queryset=Account.objects.all(), allow_null=True, required=False
    )
    team = VisibleTeamField(queryset=Team.objects.all(), allow_null=True, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=100)
    attributes = serializers.DictField(required=False)
    addresses = AddressSerializer(many=True, required=False)

    class Meta:
        model = Account
        fields = [*services.ACCOUNT_FIELDS, "lifecycle_stage", "tags", "attributes", "addresses"]


class ChangeRecordSerializer(serializers.ModelSerializer[ChangeRecord]):
    actor_name = serializers.SerializerMethodField()
    changes = serializers.DictField(child=serializers.ListField(), read_only=True)

    class Meta:
        model = ChangeRecord
        fields = ["id", "action", "at", "actor", "actor_name", "changes", "note"]
        read_only_fields = fields

    def get_actor_name(self, record: ChangeRecord) -> str | None:
        return str(record.actor) if record.actor is not None else None


class ChangeRecordPageSerializer(serializers.Serializer[Any]):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ChangeRecordSerializer(many=True)


class StageInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    stage = serializers.ChoiceField(choices=LifecycleStage.choices)
    reason = _optional_text(255)


class BulkActionSerializer(StrictInputMixin, serializers.Serializer[Any]):
    ACTIONS = ("assign_owner", "release", "claim", "add_tag", "remove_tag", "set_stage")

    action = serializers.ChoiceField(choices=ACTIONS)
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000)
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), allow_null=True, required=False)
    tag = serializers.CharField(max_length=64, required=False)
    stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False)
    reason = _optional_text(255)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        needs = {"assign_owner": "owner", "add_tag": "tag", "remove_tag": "tag", "set_stage": "stage"}
        needed = needs.get(attrs["action"])
        if needed and needed not in attrs:
            raise serializers.ValidationError({needed: [f"Required for the action {attrs['action']}."]})
        return attrs


class BulkResultSerializer(serializers.Serializer[Any]):
    changed = serializers.IntegerField()


class ConsentSerializer(serializers.ModelSerializer[ConsentRecord]):
    class Meta:
        model = ConsentRecord
        fields = ["id", "purpose", "channel", "granted", "source", "wording", "recorded_at", "recorded_by"]
        read_only_fields = fields


class ConsentInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    purpose = serializers.ChoiceField(choices=ConsentPurpose.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    granted = serializers.BooleanField()
    source = serializers.CharField(max_length=100)  # type: ignore[assignment]  # DRF pops declared fields
    wording = serializers.CharField()


class ConsentOverviewSerializer(serializers.Serializer[Any]):
    state = ConsentSerializer(many=True, help_text="The newest record per purpose and channel: what is in force.")
    records = ConsentSerializer(many=True, help_text="Every grant and withdrawal, newest first.")


# ---------------------------------------------------------------------------------------------
# Shared view pieces


def _paginate(view: APIView, request: Request, queryset: QuerySet[Any], ordering: str) -> KeysetCursorPagination:
    """Keyset paging of a secondary list (history) that has its own ordering field."""
    paginator = KeysetCursorPagination()
    name = ordering.lstrip("-")
    paginator.paginate_queryset(
        queryset,
        request,
        SimpleNamespace(ordering_fields=(name,), default_ordering=ordering),  # type: ignore[arg-type]
    )
    return paginator


class AdminWritesOnly(permissions.BasePermission):
    """Everyone signed in reads; only admins change settings (the services check it again)."""

    message = "Only an admin may change this setting."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return access.can_manage_settings(request.user)


def _raise_renamed(exc: DjangoValidationError, renames: Mapping[str, str]) -> NoReturn:
    detail = django_error_detail(exc)
    raise serializers.ValidationError({renames.get(key, key): value for key, value in detail.items()}) from exc


def _filter_parameters(*extra: OpenApiParameter) -> list[OpenApiParameter]:
    return [
        OpenApiParameter("q", str, description="Search names, e-mail addresses and phone numbers."),
        OpenApiParameter("owner", str, description="A user id, `me`, or `pool` (records with no owner)."),
        OpenApiParameter("tag", str, description="Tag name."),
        OpenApiParameter("stage", str, enum=list(LifecycleStage.values), description="Lifecycle stage."),
        *extra,
        OpenApiParameter(
            "attr.<key>",
            str,
            description="Custom attribute filter: replace `<key>` with the attribute's key, e.g. `attr.shoe_size=42`.",
        ),
    ]


class PartyFilterSerializer(serializers.Serializer[Any]):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    owner = serializers.RegexField(r"^(me|pool|\d+)$", required=False, allow_blank=True)
    tag = serializers.CharField(required=False, allow_blank=True, max_length=64)
    stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False, allow_blank=True)


class AccountFilterSerializer(PartyFilterSerializer):
    market_segment = serializers.ChoiceField(choices=MarketSegment.choices, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=AccountKind.choices, required=False, allow_blank=True)


class PersonFilterSerializer(PartyFilterSerializer):
    account = serializers.IntegerField(required=False, min_value=1)


def _party_filters(request: Request, serializer_class: type[PartyFilterSerializer]) -> queries.PartyFilters:
    params = request.query_params
    serializer = serializer_class(data={k: params[k] for k in serializer_class().get_fields() if k in params})
    serializer.is_valid(raise_exception=True)
    attributes = {key[5:]: params[key] for key in params if key.startswith("attr.") and key[5:]}
    return queries.PartyFilters(**serializer.validated_data, attributes=attributes)


EDIT_ACTIONS = frozenset({"update", "partial_update", "destroy", "stage"})


class _PartyViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """What accounts and people share: visibility, edit checks, bulk actions, stage, history."""

    party_model: ClassVar[type[Account] | type[Person]]
    output_serializer: ClassVar[type[serializers.ModelSerializer[Any]]]
    filter_backends = []
    pagination_class = KeysetCursorPagination
    lookup_value_regex = r"\d+"

    def visible(self, user: User) -> QuerySet[Any]:
        raise NotImplementedError

    def editable(self, user: User) -> QuerySet[Any]:
        raise NotImplementedError

    def rows(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        raise NotImplementedError

    def filtered(self, queryset: QuerySet[Any], user: User) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return self.party_model.objects.none()
        user = actor_of(self.request)
        queryset = self.visible(user)
        if self.action == "list":
            queryset = self.filtered(queryset, user)
        return self.rows(queryset)

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return self.output_serializer

    def get_object(self) -> Any:
        """404 for a record the user may not see; 403 for one they see but may not change."""
        instance = super().get_object()
        if self.action in EDIT_ACTIONS and not self.editable(actor_of(self.request)).filter(pk=instance.pk).exists():
            raise exceptions.PermissionDenied("You may not change this record.")
        return instance

    def render(self, instance: Account | Person, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = self.rows(self.party_model.objects.filter(pk=instance.pk)).get()
        data = self.output_serializer(fresh, context=self.get_serializer_context()).data
        headers = {"Location": data["url"]} if status_code == status.HTTP_201_CREATED else None
        return Response(data, status=status_code, headers=headers)

    def perform_destroy(self, instance: Any) -> None:
        raise NotImplementedError

    @extend_schema(request=BulkActionSerializer, responses=BulkResultSerializer)
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """Apply one action to many records; records the user may not change are skipped."""
        serializer = BulkActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        model: Any = self.party_model  # Account or Person, each fits the services' type variable
        user, ids = actor_of(request), data["ids"]
        match data["action"]:
            case "assign_owner":
                changed = services.bulk_assign_owner(user, model, ids, data["owner"])
            case "release":
                changed = services.bulk_release_to_pool(user, model, ids)
            case "claim":
                changed = services.claim_from_pool(user, model, ids)
            case "add_tag":
                changed = services.bulk_add_tag(user, model, ids, data["tag"])
            case "remove_tag":
                changed = services.bulk_remove_tag(user, model, ids, data["tag"])
            case _:
                changed = services.bulk_set_stage(user, model, ids, data["stage"], data.get("reason", ""))
        return Response({"changed": changed})

    @extend_schema(request=StageInputSerializer)
    @action(detail=True, methods=["post"])
    def stage(self, request: Request, pk: str) -> Response:
        """Move the record to a lifecycle stage, keeping the move and its reason."""
        instance = self.get_object()
        serializer = StageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.set_lifecycle_stage(actor_of(request), instance, data["stage"], reason=data.get("reason", ""))
        return self.render(instance)

    @extend_schema(
        responses=ChangeRecordPageSerializer,
        parameters=[
            OpenApiParameter("cursor", str, description="Opaque cursor from a previous page's link."),
            OpenApiParameter("page_size", int, description="Rows per page, 1 to 200."),
        ],
    )
    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk: str) -> Response:
        """Who changed what and when, newest first."""
        instance = self.get_object()
        paginator = _paginate(self, request, history_for(instance), "-at")
        return paginator.get_paginated_response(ChangeRecordSerializer(paginator.page.items, many=True).data)


LIST_ORDERING_NOTE = "Ordering: `?ordering=<field>` or `-<field>`; paging: follow `next`/`previous`."


@extend_schema_view(
    list=extend_schema(parameters=_filter_parameters(OpenApiParameter("account", int, description="Account id."))),
    create=extend_schema(request=PersonInputSerializer, responses={201: PersonSerializer}),
    update=extend_schema(request=PersonInputSerializer),
    partial_update=extend_schema(request=PersonInputSerializer),
    stage=extend_schema(responses=PersonSerializer),
)
class PersonViewSet(_PartyViewSet):
    """People: contacts at accounts and consumers."""

    queryset = Person.objects.none()
    party_model = Person
    output_serializer = PersonSerializer
    ordering_fields = queries.PERSON_ORDERING
    default_ordering = "full_name"

    def visible(self, user: User) -> QuerySet[Person]:
        return queries.visible_people(user)

    def editable(self, user: User) -> QuerySet[Person]:
        return queries.editable_people(user)

    def rows(self, queryset: QuerySet[Any]) -> QuerySet[Person]:
        # Role summaries name accounts: show only roles at accounts the user may see.
        return queries.person_list_rows_for(queryset, actor_of(self.request))

    def filtered(self, queryset: QuerySet[Any], user: User) -> QuerySet[Person]:
        return queries.filter_people(queryset, _party_filters(self.request, PersonFilterSerializer), user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PersonInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        extras = {
            key: data.pop(key) for key in ("emails", "phones", "tags", "attributes", "lifecycle_stage") if key in data
        }
        person = services.create_person(actor_of(request), data, **extras)
        return self.render(person, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        person = self.get_object()
        serializer = PersonInputSerializer(
            person, data=request.data, partial=kwargs.get("partial", False), context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        stage = data.pop("lifecycle_stage", None)
        extras = {key: data.pop(key) for key in ("emails", "phones", "tags", "attributes") if key in data}
        user = actor_of(request)
        with transaction.atomic():
            services.update_person(user, person, data, **extras)
            if stage is not None:
                services.set_lifecycle_stage(user, person, stage)
        return self.render(person)

    def perform_destroy(self, instance: Person) -> None:
        services.delete_person(actor_of(self.request), instance)

    @extend_schema(methods=["GET"], request=None, responses=ConsentOverviewSerializer)
    @extend_schema(methods=["POST"], request=ConsentInputSerializer, responses={201: ConsentSerializer})
    @action(detail=True, methods=["get", "post"])
    def consents(self, request: Request, pk: str) -> Response:
        """Consent is append-only: POST records a grant or withdrawal; GET shows records and what is in force."""
        person = self.get_object()
        if request.method == "POST":
            serializer = ConsentInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            record = services.record_consent(actor_of(request), person, **serializer.validated_data)
            return Response(ConsentSerializer(record).data, status=status.HTTP_201_CREATED)
        records = list(person.consents.order_by("-recorded_at", "-id"))
        state: dict[tuple[str, str], ConsentRecord] = {}
        for record in records:
            state.setdefault((record.purpose, record.channel), record)
        current = sorted(state.values(), key=lambda r: (r.purpose, r.channel))
        return Response(
            {
                "state": ConsentSerializer(current, many=True).data,
                "records": ConsentSerializer(records, many=True).data,
            }
        )


@extend_schema_view(
    list=extend_schema(
        parameters=_filter_parameters(
            OpenApiParameter("market_segment", str, enum=list(MarketSegment.values), description="Market segment."),
            OpenApiParameter("kind", str, enum=list(AccountKind.values), description="Account kind."),
        )
    ),
    create=extend_schema(request=AccountInputSerializer, responses={201: AccountSerializer}),
    update=extend_schema(request=AccountInputSerializer),
    partial_update=extend_schema(request=AccountInputSerializer),
    stage=extend_schema(responses=AccountSerializer),
)
class AccountViewSet(_PartyViewSet):
    """Accounts: organisations, whether customers, distributors, partners or others."""

    queryset = Account.objects.none()
    party_model = Account
    output_serializer = AccountSerializer
    ordering_fields = queries.ACCOUNT_ORDERING
    default_ordering = "name"

    def visible(self, user: User) -> QuerySet[Account]:
        return queries.visible_accounts(user)

    def editable(self, user: User) -> QuerySet[Account]:
        return queries.editable_accounts(user)

    def rows(self, queryset: QuerySet[Any]) -> QuerySet[Account]:
        return queries.account_list_rows(queryset).prefetch_related("addresses")

    def filtered(self, queryset: QuerySet[Any], user: User) -> QuerySet[Account]:
        return queries.filter_accounts(queryset, _party_filters(self.request, AccountFilterSerializer), user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = AccountInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        extras = {key: data.pop(key) for key in ("tags", "attributes", "addresses", "lifecycle_stage") if key in data}
        account = services.create_account(actor_of(request), data, **extras)
        return self.render(account, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        account = self.get_object()
        serializer = AccountInputSerializer(
            account, data=request.data, partial=kwargs.get("partial", False), context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        stage = data.pop("lifecycle_stage", None)
        extras = {key: data.pop(key) for key in ("tags", "attributes", "addresses") if key in data}
        user = actor_of(request)
        with transaction.atomic():
            services.update_account(user, account, data, **extras)
            if stage is not None:
                services.set_lifecycle_stage(user, account, stage)
        return self.render(account)

    def perform_destroy(self, instance: Account) -> None:
        services.delete_account(actor_of(self.request), instance)


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
    job_title = _optional_text(100)
    is_primary_contact = serializers.BooleanField(required=False)
    note = _optional_text(255)


class RoleUpdateSerializer(StrictInputMixin, serializers.Serializer[Any]):
    """A role's person and account are fixed; they may be sent back unchanged."""

    ignored_fields = ROLE_OUTPUT_ONLY

    person = serializers.IntegerField(required=False)
    account = serializers.IntegerField(required=False)
    kind = serializers.ChoiceField(choices=RoleKind.choices, required=False)
    job_title = _optional_text(100)
    is_primary_contact = serializers.BooleanField(required=False)
    note = _optional_text(255)

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
    note = _optional_text(255)

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


# ---------------------------------------------------------------------------------------------
# Settings: tags and custom attribute definitions


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
