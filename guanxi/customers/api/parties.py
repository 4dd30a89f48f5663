"""Viewsets for accounts and people, with their list filters, bulk actions, stage, history and consent.

Reads start from `queries` (so the API sees what the UI sees) and every write goes through
`services` (so the API keeps history, search keys and permissions exactly as the UI does).
"""

from types import SimpleNamespace
from typing import Any, ClassVar

from django.db import transaction
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from guanxi.core.api import KeysetCursorPagination
from guanxi.core.history import history_for
from guanxi.customers import queries, services
from guanxi.customers.api.common import EDIT_ACTIONS, actor_of
from guanxi.customers.api.serializers import (
    AccountInputSerializer,
    AccountSerializer,
    BulkActionSerializer,
    BulkResultSerializer,
    ChangeRecordPageSerializer,
    ChangeRecordSerializer,
    ConsentInputSerializer,
    ConsentOverviewSerializer,
    ConsentSerializer,
    PersonInputSerializer,
    PersonSerializer,
    StageInputSerializer,
)
from guanxi.customers.models import Account, AccountKind, ConsentRecord, LifecycleStage, MarketSegment, Person
from guanxi.staff.models import User


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
                changed = services.bulk_set_stage(
                    user, model, ids, data["stage"], data.get("reason", ""), data.get("lost_reason", "")
                )
        return Response({"changed": changed})

    @extend_schema(request=StageInputSerializer)
    @action(detail=True, methods=["post"])
    def stage(self, request: Request, pk: str) -> Response:
        """Move the record to a lifecycle stage, keeping the move and its reason."""
        instance = self.get_object()
        serializer = StageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.set_lifecycle_stage(
            actor_of(request),
            instance,
            data["stage"],
            reason=data.get("reason", ""),
            lost_reason=data.get("lost_reason", ""),
        )
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

    def keyset_branches(self) -> list[Q]:
        return queries.visible_person_branches(actor_of(self.request))

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

    def keyset_branches(self) -> list[Q]:
        return queries.visible_account_branches(actor_of(self.request))

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
