"""REST endpoints of the leads app: /api/leads/ (list, detail, create, update, convert).

Reads start from `leads.queries` (the API sees what the UI sees); every write goes through
`leads.services`, so history, assignment rules, scores and permissions are the same as in the UI.
"""

from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from guanxi.core.api import KeysetCursorPagination, StrictInputMixin
from guanxi.customers.api.common import actor_of
from guanxi.customers.api.fields import VisibleAccountField, VisiblePersonField, VisibleTeamField, optional_text
from guanxi.customers.models import Grade, RoleKind
from guanxi.leads import queries, services
from guanxi.leads.models import Lead, LeadSource, LeadStatus
from guanxi.staff.models import User

OUTPUT_FIELDS = [
    "id",
    "url",
    "family_name",
    "given_name",
    "full_name",
    "company_name",
    "job_title",
    "email",
    "phone",
    "industry",
    "region",
    "country",
    "message",
    "source",
    "source_detail",
    "referred_by_account",
    "referred_by_person",
    "status",
    "disqualified_reason",
    "owner",
    "team",
    "assigned_by_rule",
    "score",
    "score_reasons",
    "grade",
    "grade_is_manual",
    "activity_count",
    "last_activity_at",
    "attributes",
    "converted_account",
    "converted_person",
    "converted_opportunity",
    "converted_at",
    "created_at",
    "updated_at",
]


class ScoreReasonSerializer(serializers.Serializer[Any]):
    rule = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # DRF pops declared fields
    points = serializers.IntegerField()


class LeadSerializer(serializers.ModelSerializer[Lead]):
    url = serializers.HyperlinkedIdentityField(view_name="api:lead-detail")
    score_reasons = ScoreReasonSerializer(many=True, read_only=True)
    attributes = serializers.DictField(read_only=True)

    class Meta:
        model = Lead
        fields = OUTPUT_FIELDS
        read_only_fields = OUTPUT_FIELDS


class LeadInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    """What a client may send. Status moves with `status` (+ `disqualified_reason`) on update;
    `grade` set here is the rep's own and wins over the suggested one (empty: suggestion)."""

    ignored_fields = frozenset(set(OUTPUT_FIELDS) - {"status", "disqualified_reason", "grade", "attributes", "owner"})

    family_name = optional_text(100)
    given_name = optional_text(100)
    company_name = optional_text(200)
    job_title = optional_text(100)
    email = optional_text(254)
    phone = optional_text(32)
    industry = optional_text(100)
    region = optional_text(100)
    country = optional_text(2)
    message = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    source = serializers.ChoiceField(choices=LeadSource.choices, required=False)  # type: ignore[assignment]  # DRF pops declared fields
    source_detail = optional_text(200)
    referred_by_account = VisibleAccountField(required=False, allow_null=True)
    referred_by_person = VisiblePersonField(required=False, allow_null=True)
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    team = VisibleTeamField(required=False, allow_null=True)
    grade = serializers.ChoiceField(choices=[("", "—"), *Grade.choices], required=False, allow_blank=True)
    attributes = serializers.DictField(required=False)
    status = serializers.ChoiceField(
        choices=[c for c in LeadStatus.choices if c[0] != LeadStatus.CONVERTED], required=False
    )
    disqualified_reason = optional_text(255)


class ConvertInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    account = VisibleAccountField(
        required=False, allow_null=True, help_text="An existing account to link instead of creating one."
    )
    person = VisiblePersonField(required=False, allow_null=True, help_text="An existing contact to link.")
    create_account = serializers.BooleanField(default=True)
    role_kind = serializers.ChoiceField(choices=RoleKind.choices, default=RoleKind.DECISION_MAKER)
    create_opportunity = serializers.BooleanField(default=False)
    opportunity = serializers.DictField(
        required=False, help_text="Fields of the new opportunity: name, amount, expected_close_date…"
    )


class ConversionSerializer(serializers.Serializer[Any]):
    lead = LeadSerializer()
    account = serializers.IntegerField(allow_null=True)
    person = serializers.IntegerField()
    opportunity = serializers.IntegerField(allow_null=True)
    account_created = serializers.BooleanField()
    person_created = serializers.BooleanField()


class LeadFilterSerializer(serializers.Serializer[Any]):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    status = serializers.ChoiceField(choices=[("open", "open"), *LeadStatus.choices], required=False, allow_blank=True)
    source = serializers.ChoiceField(choices=LeadSource.choices, required=False, allow_blank=True)  # type: ignore[assignment]  # DRF pops declared fields
    owner = serializers.RegexField(r"^(me|pool|\d+)$", required=False, allow_blank=True)
    grade = serializers.ChoiceField(choices=Grade.choices, required=False, allow_blank=True)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Search name, company, e-mail and phone."),
            OpenApiParameter("status", str, description="A status, or `open` (new, working or qualified)."),
            OpenApiParameter("source", str, enum=list(LeadSource.values)),
            OpenApiParameter("owner", str, description="A user id, `me`, or `pool` (leads with no owner)."),
            OpenApiParameter("grade", str, enum=list(Grade.values)),
        ]
    ),
    create=extend_schema(request=LeadInputSerializer, responses={201: LeadSerializer}),
    update=extend_schema(request=LeadInputSerializer),
    partial_update=extend_schema(request=LeadInputSerializer),
)
class LeadViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]  # DRF stubs: generic only in stubs
    """Leads: interest not yet qualified. A lead created without `owner` goes by the assignment rules."""

    queryset = Lead.objects.none()
    serializer_class = LeadSerializer
    pagination_class = KeysetCursorPagination
    filter_backends = []
    ordering_fields = queries.LEAD_ORDERING
    default_ordering = "-created_at"
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Lead]:
        if getattr(self, "swagger_fake_view", False):
            return Lead.objects.none()
        user = actor_of(self.request)
        queryset = queries.visible_leads(user)
        if self.action == "list":
            params = self.request.query_params
            names: list[str] = list(LeadFilterSerializer().get_fields())
            serializer = LeadFilterSerializer(data={k: params[k] for k in names if k in params})
            serializer.is_valid(raise_exception=True)
            queryset = queries.filter_leads(queryset, queries.LeadFilters(**serializer.validated_data), user)
        return queries.lead_list_rows(queryset)

    def keyset_branches(self) -> list[Q]:
        return queries.visible_lead_branches(actor_of(self.request))

    def get_object(self) -> Any:
        """404 for a lead the user may not see; 403 for one they see but may not change."""
        instance = super().get_object()
        editing = self.action in ("update", "partial_update", "convert")
        if editing and not queries.editable_leads(actor_of(self.request)).filter(pk=instance.pk).exists():
            raise exceptions.PermissionDenied("You may not change this lead.")
        return instance

    def render(self, lead: Lead, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = queries.lead_list_rows(Lead.objects.filter(pk=lead.pk)).get()
        data = LeadSerializer(fresh, context=self.get_serializer_context()).data
        headers = {"Location": data["url"]} if status_code == status.HTTP_201_CREATED else None
        return Response(data, status=status_code, headers=headers)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = LeadInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        attributes = data.pop("attributes", None)
        if "status" in data or "disqualified_reason" in data:
            raise exceptions.ValidationError({"status": ["A new lead starts as new; change the status afterwards."]})
        data.setdefault("source", LeadSource.API)
        lead = services.create_lead(actor_of(request), data, attributes=attributes)
        return self.render(lead, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lead = self.get_object()
        serializer = LeadInputSerializer(
            data=request.data, partial=kwargs.get("partial", False), context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        attributes = data.pop("attributes", None)
        new_status = data.pop("status", None)
        reason = data.pop("disqualified_reason", "")
        user = actor_of(request)
        with transaction.atomic():
            if data or attributes is not None:
                services.update_lead(user, lead, data, attributes=attributes)
            if new_status is not None and new_status != lead.status:
                services.set_lead_status(user, lead, new_status, reason=reason)
        return self.render(lead)

    @extend_schema(request=ConvertInputSerializer, responses=ConversionSerializer)
    @action(detail=True, methods=["post"])
    def convert(self, request: Request, pk: str) -> Response:
        """Turn a qualified lead into an account (or link `account`), a contact with their role,
        and optionally an opportunity, all in one transaction."""
        lead = self.get_object()
        serializer = ConvertInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = services.convert_lead(
            actor_of(request),
            lead,
            account=data.get("account"),
            person=data.get("person"),
            create_account=data["create_account"],
            create_opportunity=data["create_opportunity"],
            opportunity_data=data.get("opportunity"),
            role_kind=data["role_kind"],
        )
        fresh = queries.lead_list_rows(Lead.objects.filter(pk=lead.pk)).get()
        return Response(
            {
                "lead": LeadSerializer(fresh, context=self.get_serializer_context()).data,
                "account": result.account.pk if result.account else None,
                "person": result.person.pk,
                "opportunity": result.opportunity.pk if result.opportunity else None,
                "account_created": result.account_created,
                "person_created": result.person_created,
            }
        )


def register(router: DefaultRouter) -> None:
    router.register("leads", LeadViewSet, basename="lead")
