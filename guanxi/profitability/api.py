"""REST endpoints of the profitability app; `register` adds them to /api/.

- `GET /api/profitability/customers/` every visible customer's figures from the latest run
  (`?account=`, `?person=`, `?loss=true`, `?owner=`, `?team=`), `…/<id>/` one row;
- `GET /api/profitability/review/` the review list: customers served at a loss, biggest loss first;
- `POST /api/profitability/review/actions/` `{"ids": [...], "action": "price_list" |
  "service_level" | "release", "price_list": id, "service_level": "basic"}` → changed / skipped.

Rows follow the customer's visibility (`staff.access`), read live; writes go through `services`.
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from guanxi.commerce.models import PriceList
from guanxi.core.api import KeysetCursorPagination, StrictInputMixin
from guanxi.customers.api.common import actor_of
from guanxi.customers.models import ServiceLevel
from guanxi.profitability import queries, services
from guanxi.profitability.models import CustomerProfit

MAX_IDS = 500


class CustomerProfitSerializer(serializers.ModelSerializer[CustomerProfit]):
    customer_type = serializers.SerializerMethodField(help_text="account | person")
    owner = serializers.SerializerMethodField(help_text="The customer's owner's user id now; null: shared pool.")
    service_level = serializers.SerializerMethodField(help_text="premium | standard | basic, as it is now.")
    price_list = serializers.SerializerMethodField(help_text="The customer's assigned price list id; null: default.")
    run = serializers.IntegerField(source="run_id", read_only=True)
    # A plain string in the schema: an enum named "source" would collide with other apps' choices.
    acquisition_source = serializers.CharField(
        source="source", read_only=True, help_text="Where the customer came from (a lead source)."
    )

    class Meta:
        model = CustomerProfit
        fields = [
            "id",
            "run",
            "customer_type",
            "account",
            "person",
            "name",
            "owner",
            "orders",
            "revenue",
            "discounts",
            "activities",
            "activity_cost",
            "tickets",
            "ticket_cost",
            "cost_to_serve",
            "profit",
            "acquisition_source",
            "cohort",
            "predicted_clv",
            "cac",
            "clv_to_cac",
            "service_level",
            "price_list",
        ]

    def get_customer_type(self, obj: CustomerProfit) -> str:
        return "account" if obj.account_id else "person"

    def get_owner(self, obj: CustomerProfit) -> int | None:
        party = obj.party
        return party.owner_id if party is not None else None

    def get_service_level(self, obj: CustomerProfit) -> str:
        party = obj.party
        return str(party.service_level) if party is not None else ""

    def get_price_list(self, obj: CustomerProfit) -> int | None:
        party = obj.party
        assigned = getattr(party, "assigned_price_list", None) if party is not None else None
        return assigned.price_list_id if assigned is not None else None


class ReviewActionSerializer(StrictInputMixin, serializers.Serializer[Any]):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=MAX_IDS)
    action = serializers.ChoiceField(choices=list(services.ReviewAction.CHOICES))
    price_list = serializers.PrimaryKeyRelatedField(
        queryset=PriceList.objects.filter(is_active=True), required=False, allow_null=True
    )
    service_level = serializers.ChoiceField(choices=ServiceLevel.choices, required=False)


FILTER_PARAMETERS = [
    OpenApiParameter("account", int, description="Only this account's row."),
    OpenApiParameter("person", int, description="Only this contact's row."),
    OpenApiParameter("owner", str, description="The customer's owner: a user id, or `pool`."),
    OpenApiParameter("team", int, description="Customers of this team."),
    OpenApiParameter("q", str, description="Part of the customer's name."),
]


def _whole(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not str(raw).isdigit():
        raise exceptions.ValidationError({name: ["Enter a record id."]})
    return int(raw)


@extend_schema_view(
    list=extend_schema(
        parameters=[*FILTER_PARAMETERS, OpenApiParameter("loss", bool, description="Only customers at a loss.")]
    )
)
class CustomerProfitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Each visible customer's revenue, discounts, cost to serve, profit and CLV:CAC (latest run)."""

    serializer_class = CustomerProfitSerializer
    permission_classes = [permissions.IsAuthenticated]
    filter_backends = []
    pagination_class = KeysetCursorPagination
    ordering_fields = queries.REVIEW_ORDERING
    default_ordering = "profit_cents"
    lookup_value_regex = r"\d+"
    losses_only = False

    def get_queryset(self) -> QuerySet[CustomerProfit]:
        rows = queries.visible_rows(actor_of(self.request), queries.latest_run())
        if self.action in ("list", "actions"):
            params = self.request.query_params
            owner_raw = params.get("owner", "")
            filters = queries.ReviewFilters(
                q=str(params.get("q", "")).strip()[:100],
                owner=None if owner_raw == "pool" else _whole(params, "owner"),
                pool=owner_raw == "pool",
                team=_whole(params, "team"),
                losses_only=self.losses_only or str(params.get("loss", "")).lower() in ("1", "true"),
            )
            rows = queries.filter_rows(rows, filters)
            account, person = _whole(params, "account"), _whole(params, "person")
            if account is not None:
                rows = rows.filter(account_id=account)
            if person is not None:
                rows = rows.filter(person_id=person)
        return queries.with_customers(rows)


@extend_schema_view(list=extend_schema(parameters=FILTER_PARAMETERS))
class ReviewViewSet(CustomerProfitViewSet):
    """The review list: visible customers served at a loss, biggest loss first."""

    losses_only = True

    @extend_schema(
        request=ReviewActionSerializer,
        responses={
            200: inline_serializer(
                "ProfitabilityActionResult",
                {"changed": serializers.IntegerField(), "skipped": serializers.IntegerField()},
            )
        },
    )
    @action(detail=False, methods=["post"])
    def actions(self, request: Request) -> Response:
        """Move the listed rows' customers to a price list or service level, or hand them back to the pool.

        Each change is recorded in the customer's history; customers the caller may not change are
        skipped and counted. Price lists and service levels: admins and sales managers.
        """
        actor = actor_of(request)
        serializer = ReviewActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rows = list(
            queries.with_customers(queries.visible_rows(actor, queries.latest_run()).filter(pk__in=data["ids"]))
        )
        result = services.apply_review_action(
            actor,
            rows,
            data["action"],
            price_list=data.get("price_list"),
            service_level=data.get("service_level", ""),
        )
        return Response({"changed": result.changed, "skipped": result.skipped})


def register(router: DefaultRouter) -> None:
    """Add this app's viewsets to the project's router."""
    router.register("profitability/customers", CustomerProfitViewSet, basename="profitability-customer")
    router.register("profitability/review", ReviewViewSet, basename="profitability-review")
