"""Viewsets of the sales API. Reads start from `sales.queries` (the API sees what the UI sees);
every write is one `sales.services` call (same permissions, validation and history as the UI)."""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from guanxi.core.api import KeysetCursorPagination
from guanxi.customers.api.common import actor_of
from guanxi.sales import queries, services
from guanxi.sales.api.serializers import (
    CompetitorOfferInputSerializer,
    CompetitorOfferSerializer,
    OpportunityContactInputSerializer,
    OpportunityContactSerializer,
    OpportunityInputSerializer,
    OpportunityLineInputSerializer,
    OpportunityLineSerializer,
    OpportunityMoveSerializer,
    OpportunitySerializer,
    PipelineInputSerializer,
    PipelineSerializer,
    PipelineStageInputSerializer,
    QuoteInputSerializer,
    QuoteSerializer,
    StageReorderSerializer,
    StageSerializer,
)
from guanxi.sales.models import (
    CompetitorOffer,
    Opportunity,
    OpportunityContact,
    OpportunityLine,
    Pipeline,
    Quote,
    QuoteLine,
    QuoteStatus,
    Stage,
    StageKind,
)


@extend_schema_view(
    create=extend_schema(request=PipelineInputSerializer, responses={201: PipelineSerializer}),
    update=extend_schema(request=PipelineInputSerializer),
    partial_update=extend_schema(request=PipelineInputSerializer),
)
class PipelineViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """Pipelines with their ordered stages. Everyone reads; only admins change them."""

    serializer_class = PipelineSerializer
    pagination_class = None
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Pipeline]:
        return Pipeline.objects.prefetch_related("stages").order_by("position", "name")

    def _render(self, pipeline: Pipeline, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=pipeline.pk)
        return Response(PipelineSerializer(fresh).data, status=status_code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PipelineInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pipeline = services.create_pipeline(actor_of(request), serializer.validated_data)
        return self._render(pipeline, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pipeline = self.get_object()
        serializer = PipelineInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._render(services.update_pipeline(actor_of(request), pipeline, serializer.validated_data))

    def perform_destroy(self, instance: Pipeline) -> None:
        services.delete_pipeline(actor_of(self.request), instance)

    @extend_schema(request=PipelineStageInputSerializer, responses={201: StageSerializer})
    @action(detail=True, methods=["post"])
    def stages(self, request: Request, pk: str) -> Response:
        """Add a stage at the end of the pipeline."""
        serializer = PipelineStageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stage = services.create_stage(actor_of(request), self.get_object(), serializer.validated_data)
        return Response(StageSerializer(stage).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=StageReorderSerializer, responses=PipelineSerializer)
    @action(detail=True, methods=["post"])
    def reorder(self, request: Request, pk: str) -> Response:
        """Put the stages in the given order (every stage id of the pipeline once)."""
        pipeline = self.get_object()
        serializer = StageReorderSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.reorder_stages(actor_of(request), pipeline, serializer.validated_data["stages"])
        return self._render(pipeline)


@extend_schema_view(
    update=extend_schema(request=PipelineStageInputSerializer),
    partial_update=extend_schema(request=PipelineStageInputSerializer),
)
class StageViewSet(
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """One stage: rename, change its probability or kind (admins), delete an empty one."""

    serializer_class = StageSerializer
    queryset = Stage.objects.all()
    lookup_value_regex = r"\d+"

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        stage = self.get_object()
        serializer = PipelineStageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(
            StageSerializer(services.update_stage(actor_of(request), stage, serializer.validated_data)).data
        )

    def perform_destroy(self, instance: Stage) -> None:
        services.delete_stage(actor_of(self.request), instance)


OPPORTUNITY_FILTERS = [
    OpenApiParameter("q", str, description="Opportunity or account name contains."),
    OpenApiParameter("pipeline", int),
    OpenApiParameter("stage", int),
    OpenApiParameter("status", str, enum=list(StageKind.values)),
    OpenApiParameter("owner", str, description="A user id, `me`, or `pool`."),
    OpenApiParameter("team", int, description="The owner's team."),
    OpenApiParameter("close_from", str, description="Expected close date on or after (YYYY-MM-DD)."),
    OpenApiParameter("close_to", str, description="Expected close date on or before (YYYY-MM-DD)."),
]


@extend_schema_view(
    list=extend_schema(parameters=OPPORTUNITY_FILTERS),
    create=extend_schema(request=OpportunityInputSerializer, responses={201: OpportunitySerializer}),
    update=extend_schema(request=OpportunityInputSerializer),
    partial_update=extend_schema(request=OpportunityInputSerializer),
)
class OpportunityViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """Opportunities the user may see; writes need the right to change the deal (404 if unseen)."""

    serializer_class = OpportunitySerializer
    pagination_class = KeysetCursorPagination
    ordering_fields = queries.OPPORTUNITY_ORDERING
    default_ordering = "-created_at"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Opportunity]:
        if getattr(self, "swagger_fake_view", False):
            return Opportunity.objects.none()
        user = actor_of(self.request)
        queryset = queries.visible_opportunities(user)
        if self.action == "list":
            filters = queries.OpportunityFilters.from_query(self.request.query_params)
            queryset = queries.filter_opportunities(queryset, filters, user)
        return queryset.select_related("stage")

    def keyset_branches(self) -> list[Any]:
        return queries.visible_opportunity_branches(actor_of(self.request))

    def _render(self, opportunity: Opportunity, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = Opportunity.objects.select_related("stage").get(pk=opportunity.pk)
        data = OpportunitySerializer(fresh, context=self.get_serializer_context()).data
        headers = {"Location": data["url"]} if status_code == status.HTTP_201_CREATED else None
        return Response(data, status=status_code, headers=headers)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = OpportunityInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        contacts = data.pop("contacts", [])
        lines = data.pop("lines", [])
        opportunity = services.create_opportunity(actor_of(request), data, contacts=contacts, lines=lines)
        return self._render(opportunity, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        opportunity = self.get_object()
        serializer = OpportunityInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if {"pipeline", "stage", "contacts", "lines"} & set(data):
            raise exceptions.ValidationError(
                {
                    key: ["Use the move, contacts or lines endpoints."]
                    for key in ("pipeline", "stage", "contacts", "lines")
                    if key in data
                }
            )
        return self._render(services.update_opportunity(actor_of(request), opportunity, data))

    def perform_destroy(self, instance: Opportunity) -> None:
        services.delete_opportunity(actor_of(self.request), instance)

    @extend_schema(request=OpportunityMoveSerializer, responses=OpportunitySerializer)
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str) -> Response:
        """Move to a stage; a lost stage needs `lost_reason`. Winning updates the customer's last won date."""
        opportunity = self.get_object()
        serializer = OpportunityMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        moved = services.move_opportunity(
            actor_of(request), opportunity, data["stage"], lost_reason=data["lost_reason"], lost_note=data["lost_note"]
        )
        return self._render(moved)

    @extend_schema(methods=["GET"], responses=OpportunityContactSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=OpportunityContactInputSerializer, responses={201: OpportunityContactSerializer}
    )
    @action(detail=True, methods=["get", "post"])
    def contacts(self, request: Request, pk: str) -> Response:
        """The deal's contacts with their roles; POST adds one."""
        opportunity = self.get_object()
        if request.method == "GET":
            rows = opportunity.contacts.select_related("person").order_by("-is_primary", "id")
            return Response(OpportunityContactSerializer(rows, many=True).data)
        serializer = OpportunityContactInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        contact = services.add_contact(
            actor_of(request), opportunity, data["person"], role=data["role"], is_primary=data["is_primary"]
        )
        return Response(OpportunityContactSerializer(contact).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["DELETE"], responses={204: None})
    @extend_schema(
        methods=["PATCH"], request=OpportunityContactInputSerializer, responses={200: OpportunityContactSerializer}
    )
    @action(detail=True, methods=["patch", "delete"], url_path=r"contacts/(?P<contact_id>\d+)")
    def contact(self, request: Request, pk: str, contact_id: str) -> Response:
        """PATCH changes a contact's role or whether they are the primary contact; DELETE unlinks them."""
        opportunity = self.get_object()
        contact = get_object_or_404(OpportunityContact, pk=int(contact_id), opportunity=opportunity)
        if request.method == "DELETE":
            services.remove_contact(actor_of(request), contact)
            return Response(status=status.HTTP_204_NO_CONTENT)
        serializer = OpportunityContactInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        contact = services.update_contact(actor_of(request), contact, serializer.validated_data)
        return Response(OpportunityContactSerializer(contact).data)

    @extend_schema(methods=["GET"], responses=OpportunityLineSerializer(many=True))
    @extend_schema(methods=["POST"], request=OpportunityLineInputSerializer, responses={201: OpportunityLineSerializer})
    @action(detail=True, methods=["get", "post"])
    def lines(self, request: Request, pk: str) -> Response:
        """Line items; POST adds one priced from its product unless `unit_price` is given."""
        opportunity = self.get_object()
        if request.method == "GET":
            return Response(OpportunityLineSerializer(opportunity.lines.all(), many=True).data)
        serializer = OpportunityLineInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        line = services.add_line(actor_of(request), opportunity, serializer.validated_data)
        return Response(OpportunityLineSerializer(line).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["DELETE"], responses={204: None})
    @extend_schema(
        methods=["PATCH"], request=OpportunityLineInputSerializer, responses={200: OpportunityLineSerializer}
    )
    @action(detail=True, methods=["patch", "delete"], url_path=r"lines/(?P<line_id>\d+)")
    def line(self, request: Request, pk: str, line_id: str) -> Response:
        """PATCH changes a line (the deal's amount follows); DELETE removes it."""
        opportunity = self.get_object()
        line = get_object_or_404(OpportunityLine, pk=int(line_id), opportunity=opportunity)
        if request.method == "DELETE":
            services.remove_line(actor_of(request), line)
            return Response(status=status.HTTP_204_NO_CONTENT)
        serializer = OpportunityLineInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        line = services.update_line(actor_of(request), line, serializer.validated_data)
        return Response(OpportunityLineSerializer(line).data)

    @extend_schema(methods=["GET"], responses=CompetitorOfferSerializer(many=True))
    @extend_schema(methods=["POST"], request=CompetitorOfferInputSerializer, responses={201: CompetitorOfferSerializer})
    @action(detail=True, methods=["get", "post"])
    def competitors(self, request: Request, pk: str) -> Response:
        """Competitors in the deal (accounts of kind competitor) and their offers; POST adds one."""
        opportunity = self.get_object()
        if request.method == "GET":
            rows = opportunity.competitors.select_related("competitor")
            return Response(CompetitorOfferSerializer(rows, many=True).data)
        serializer = CompetitorOfferInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        row = services.add_competitor(
            actor_of(request), opportunity, data["competitor"], offer=data["offer"], amount=data["amount"]
        )
        return Response(CompetitorOfferSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["DELETE"], responses={204: None})
    @extend_schema(
        methods=["PATCH"], request=CompetitorOfferInputSerializer, responses={200: CompetitorOfferSerializer}
    )
    @action(detail=True, methods=["patch", "delete"], url_path=r"competitors/(?P<competitor_id>\d+)")
    def competitor(self, request: Request, pk: str, competitor_id: str) -> Response:
        """PATCH changes a competitor's offer or amount; DELETE takes them out of the deal."""
        opportunity = self.get_object()
        row = get_object_or_404(CompetitorOffer, pk=int(competitor_id), opportunity=opportunity)
        if request.method == "DELETE":
            services.remove_competitor(actor_of(request), row)
            return Response(status=status.HTTP_204_NO_CONTENT)
        serializer = CompetitorOfferInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "competitor" in data:
            raise exceptions.ValidationError(
                {"competitor": [_("Remove this competitor and add the other one instead.")]}
            )
        row = services.update_competitor(actor_of(request), row, data)
        return Response(CompetitorOfferSerializer(row).data)


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("status", str, enum=list(QuoteStatus.values))]),
    create=extend_schema(request=QuoteInputSerializer, responses={201: QuoteSerializer}),
    update=extend_schema(request=QuoteInputSerializer),
    partial_update=extend_schema(request=QuoteInputSerializer),
)
class QuoteViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """Quotes the user may see. Drafts change; `send`, `accept` (takes the order) and `decline` decide."""

    serializer_class = QuoteSerializer
    pagination_class = KeysetCursorPagination
    ordering_fields = ("created_at", "updated_at")
    default_ordering = "-created_at"
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "put", "head", "options"]

    def get_queryset(self) -> QuerySet[Quote]:
        if getattr(self, "swagger_fake_view", False):
            return Quote.objects.none()
        queryset = queries.visible_quotes(actor_of(self.request)).select_related("order").prefetch_related("lines")
        status_filter = self.request.query_params.get("status", "")
        if self.action == "list" and status_filter in QuoteStatus.values:
            queryset = queryset.filter(status=status_filter)
        return queryset

    def keyset_branches(self) -> list[Any]:
        return queries.visible_opportunity_branches(actor_of(self.request))

    def _render(self, quote: Quote, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = Quote.objects.select_related("order").prefetch_related("lines").get(pk=quote.pk)
        data = QuoteSerializer(fresh, context=self.get_serializer_context()).data
        headers = {"Location": data["url"]} if status_code == status.HTTP_201_CREATED else None
        return Response(data, status=status_code, headers=headers)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = QuoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        lines = data.pop("lines", [])
        copy_lines = data.pop("from_opportunity_lines", False)
        user = actor_of(request)
        if copy_lines and data.get("opportunity") is not None:
            opportunity = data.pop("opportunity")
            quote = services.create_quote_from_opportunity(user, opportunity, data)
            for line in lines:
                services.add_quote_line(user, quote, line)
        else:
            quote = services.create_quote(user, data, lines=lines)
        return self._render(quote, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        quote = self.get_object()
        serializer = QuoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("from_opportunity_lines", None)
        lines = data.pop("lines", None)
        user = actor_of(request)
        services.update_quote(user, quote, data)
        if lines:
            for line in lines:
                services.add_quote_line(user, quote, line)
        return self._render(quote)

    @extend_schema(responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"lines/(?P<line_id>\d+)")
    def remove_line(self, request: Request, pk: str, line_id: str) -> Response:
        quote = self.get_object()
        line = get_object_or_404(QuoteLine, pk=int(line_id), quote=quote)
        services.remove_quote_line(actor_of(request), line)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=QuoteSerializer)
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str) -> Response:
        return self._render(services.send_quote(actor_of(request), self.get_object()))

    @extend_schema(request=None, responses=QuoteSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        """Accept: takes the order with the quote's lines and tax, and wins an open opportunity."""
        return self._render(services.accept_quote(actor_of(request), self.get_object()))

    @extend_schema(request=None, responses=QuoteSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        return self._render(services.decline_quote(actor_of(request), self.get_object()))
