"""REST endpoints of the analytics app: next offers for a shop, the run history, and the
per-customer scores (4 I's, churn risk, account health) with the models and definitions behind them.

`GET /api/next-offers/?person=<id>` (or `?account=<id>`) answers from the suggestions each
rules run precomputes, with one indexed read, so a shop can call it while a page loads.
The customer must be visible to the caller (else 404, as everywhere in the API).
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, serializers, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from guanxi.analytics import labels, permissions, queries
from guanxi.analytics.models import (
    AccountHealth,
    AnalyticsRun,
    ChurnModel,
    CustomerScore,
    EngagementDefinition,
    OfferSuggestion,
)
from guanxi.core.api import KeysetCursorPagination
from guanxi.customers import queries as customer_queries
from guanxi.staff import access
from guanxi.staff.models import User

MAX_OFFERS = 20


class OfferSerializer(serializers.ModelSerializer[OfferSuggestion]):
    product = serializers.IntegerField(source="product_id")
    product_name = serializers.CharField(source="product.name")
    sku = serializers.CharField(source="product.sku")

    class Meta:
        model = OfferSuggestion
        fields = ["rank", "product", "product_name", "sku", "because", "because_names", "confidence", "lift"]


class RunSerializer(serializers.ModelSerializer[AnalyticsRun]):
    # Plain strings in the schema: enums named "kind"/"status" collide with other apps' choices.
    kind = serializers.CharField(read_only=True, help_text="scoring | rules")
    status = serializers.CharField(read_only=True, help_text="running | succeeded | failed")

    class Meta:
        model = AnalyticsRun
        fields = [
            "id",
            "kind",
            "status",
            "parameters",
            "engine_version",
            "seed",
            "started_at",
            "finished_at",
            "processed",
            "total",
            "quality",
            "error",
        ]


def _whole(request: Request, name: str, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise exceptions.ValidationError({name: ["Enter a whole number."]}) from exc
    if not low <= value <= high:
        raise exceptions.ValidationError({name: [f"Must be between {low} and {high}."]})
    return value


class NextOffersViewSet(viewsets.ViewSet):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("person", int, description="The contact to suggest products for."),
            OpenApiParameter("account", int, description="The account to suggest products for."),
            OpenApiParameter("limit", int, description=f"How many suggestions, 1 to {MAX_OFFERS} (default 5)."),
        ],
        responses={200: OfferSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        """Suggested next products for one customer, best first, with confidence and lift."""
        user = request.user
        if not isinstance(user, User):  # IsAuthenticated ran first
            raise exceptions.NotAuthenticated()
        person = _whole(request, "person", 1, 2**63 - 1)
        account = _whole(request, "account", 1, 2**63 - 1)
        limit = _whole(request, "limit", 1, MAX_OFFERS) or 5
        if (person is None) == (account is None):
            raise exceptions.ValidationError({"person": ["Give exactly one of person and account."]})
        # One query on the usual path: the offers, filtered by the caller's visibility of their
        # customer. Only an empty answer asks whether the customer exists for the caller at all.
        if person is not None:
            rows = queries.offer_rows(
                access.visible_q(user, owner_field="person__owner"), person_id=person, limit=limit
            )
            if not rows and not customer_queries.visible_people(user).filter(pk=person).exists():
                raise exceptions.NotFound()
        elif account is not None:
            rows = queries.offer_rows(
                access.visible_q(user, owner_field="account__owner", team_field="account__team"),
                account_id=account,
                limit=limit,
            )
            if not rows and not customer_queries.visible_accounts(user).filter(pk=account).exists():
                raise exceptions.NotFound()
        else:  # excluded by the check above; keeps the types exact
            rows = []
        return Response(
            [
                {
                    "rank": row["rank"],
                    "product": row["product_id"],
                    "product_name": row["product__name"],
                    "sku": row["product__sku"],
                    "because": row["because"],
                    "because_names": row["because_names"],
                    "confidence": row["confidence"],
                    "lift": row["lift"],
                }
                for row in rows
            ]
        )


class CanViewAnalytics(IsAuthenticated):
    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and permissions.can_view(request.user)


class AnalyticsRunViewSet(viewsets.ReadOnlyModelViewSet[AnalyticsRun]):
    """Analytics runs with their parameters and quality figures, newest first."""

    serializer_class = RunSerializer
    permission_classes = [CanViewAnalytics]
    pagination_class = KeysetCursorPagination
    ordering_fields = ("started_at",)
    default_ordering = "-id"
    queryset = AnalyticsRun.objects.all()


class CustomerScoreSerializer(serializers.ModelSerializer[CustomerScore]):
    definition_version = serializers.IntegerField(source="definition.version", read_only=True)
    churn_source = serializers.CharField(read_only=True, help_text="model | p_alive | empty")

    class Meta:
        model = CustomerScore
        fields = [
            "id",
            "account",
            "person",
            "is_contract",
            "churn_risk",
            "churn_source",
            "involvement",
            "interaction",
            "intimacy",
            "influence",
            "engagement",
            "definition_version",
            "run",
        ]


class HealthReasonSerializer(serializers.Serializer[dict[str, Any]]):
    code = serializers.CharField(help_text="payments | cases | engagement | usage")
    points = serializers.FloatField(help_text="Points of health this reason cost.")
    figures = serializers.DictField(child=serializers.FloatField())
    text = serializers.CharField()


class AccountHealthSerializer(serializers.ModelSerializer[AccountHealth]):
    reasons = serializers.SerializerMethodField()
    components = serializers.DictField(child=serializers.FloatField(allow_null=True))

    class Meta:
        model = AccountHealth
        fields = [
            "id",
            "account",
            "person",
            "health",
            "components",
            "reasons",
            "churn_risk",
            "engagement",
            "last_order_at",
            "run",
        ]

    @extend_schema_field(HealthReasonSerializer(many=True))
    def get_reasons(self, obj: AccountHealth) -> list[dict[str, Any]]:
        return [{**reason, "text": labels.reason_text(reason)} for reason in obj.reasons]


class ChurnModelSerializer(serializers.ModelSerializer[ChurnModel]):
    class Meta:
        model = ChurnModel
        fields = [
            "id",
            "run",
            "fitted",
            "reason",
            "algorithm",
            "features",
            "cutoff",
            "labelled",
            "churned",
            "train_size",
            "test_size",
            "auc",
            "brier",
            "base_rate",
            "calibration",
            "importances",
            "coefficients",
            "scored",
        ]


class EngagementDefinitionSerializer(serializers.ModelSerializer[EngagementDefinition]):
    class Meta:
        model = EngagementDefinition
        fields = ["id", "version", "items", "note", "created_at"]


def _party_filters(request: Request) -> dict[str, int]:
    found = {}
    for name in ("account", "person"):
        value = _whole(request, name, 1, 2**63 - 1)
        if value is not None:
            found[f"{name}_id"] = value
    return found


_PARTY_PARAMETERS = [
    OpenApiParameter("account", int, description="Only this account."),
    OpenApiParameter("person", int, description="Only this contact."),
]


@extend_schema_view(list=extend_schema(parameters=_PARTY_PARAMETERS))
class CustomerScoreViewSet(viewsets.ReadOnlyModelViewSet[CustomerScore]):
    """Each customer's latest 4 I's and churn risk, with the engagement definition version that made them."""

    serializer_class = CustomerScoreSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = KeysetCursorPagination
    ordering_fields = ("id",)
    default_ordering = "id"

    def get_queryset(self) -> QuerySet[CustomerScore]:
        qs = queries.customer_scores(self.request.user)
        if self.action == "list":
            qs = qs.filter(**_party_filters(self.request))
        return qs


@extend_schema_view(
    list=extend_schema(
        parameters=[*_PARTY_PARAMETERS, OpenApiParameter("owner", int, description="Only customers of this owner.")]
    )
)
class AccountHealthViewSet(viewsets.ReadOnlyModelViewSet[AccountHealth]):
    """Contract customers' health with its reasons, worst first (`?ordering=-health` for best first)."""

    serializer_class = AccountHealthSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = KeysetCursorPagination
    ordering_fields = ("health",)
    default_ordering = "health"

    def get_queryset(self) -> QuerySet[AccountHealth]:
        owner = _whole(self.request, "owner", 1, 2**63 - 1) if self.action == "list" else None
        qs = queries.health_rows(self.request.user, owner_id=owner)
        if self.action == "list":
            qs = qs.filter(**_party_filters(self.request))
        return qs


class ChurnModelViewSet(viewsets.ReadOnlyModelViewSet[ChurnModel]):
    """Churn classifiers trained by scoring runs: features, hold-out AUC and Brier score, calibration."""

    serializer_class = ChurnModelSerializer
    permission_classes = [CanViewAnalytics]
    pagination_class = KeysetCursorPagination
    ordering_fields = ("id",)
    default_ordering = "-id"
    queryset = ChurnModel.objects.all()


class EngagementDefinitionViewSet(viewsets.ReadOnlyModelViewSet[EngagementDefinition]):
    """Versions of the engagement definition (per I, the behaviours and weights); the highest is in force."""

    serializer_class = EngagementDefinitionSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = KeysetCursorPagination
    ordering_fields = ("version",)
    default_ordering = "-version"
    queryset = EngagementDefinition.objects.all()


def register(router: DefaultRouter) -> None:
    router.register("next-offers", NextOffersViewSet, basename="next-offer")
    router.register("analytics-runs", AnalyticsRunViewSet, basename="analytics-run")
    router.register("customer-scores", CustomerScoreViewSet, basename="customer-score")
    router.register("account-health", AccountHealthViewSet, basename="account-health")
    router.register("churn-models", ChurnModelViewSet, basename="churn-model")
    router.register("engagement-definitions", EngagementDefinitionViewSet, basename="engagement-definition")
