"""Serializers of the sales API: records as shown, and the input a client may send (unknown
input fields are refused). Visibility and rules are checked by the services, not here."""

from typing import Any

from rest_framework import serializers

from guanxi.commerce.models import PriceList, Product
from guanxi.core.api import StrictInputMixin
from guanxi.customers.models import Account, Person, Source
from guanxi.sales.models import (
    CompetitorOffer,
    ContactRole,
    LostReason,
    Opportunity,
    OpportunityContact,
    OpportunityLine,
    Pipeline,
    Quote,
    QuoteLine,
    Stage,
    StageKind,
)
from guanxi.staff.models import User


class StageSerializer(serializers.ModelSerializer[Stage]):
    class Meta:
        model = Stage
        fields = ["id", "pipeline", "name", "position", "probability", "kind"]
        read_only_fields = ["id", "pipeline"]


class PipelineStageInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False)
    position = serializers.IntegerField(min_value=0, required=False)
    probability = serializers.IntegerField(min_value=0, max_value=100, required=False)
    kind = serializers.ChoiceField(choices=StageKind.choices, required=False)


class PipelineSerializer(serializers.ModelSerializer[Pipeline]):
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = Pipeline
        fields = ["id", "name", "is_default", "position", "is_active", "stages"]


class PipelineInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False)
    is_default = serializers.BooleanField(required=False)
    position = serializers.IntegerField(min_value=0, required=False)
    is_active = serializers.BooleanField(required=False)


class StageReorderSerializer(StrictInputMixin, serializers.Serializer[Any]):
    stages = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=False)


class OpportunityContactSerializer(serializers.ModelSerializer[OpportunityContact]):
    person_name = serializers.CharField(source="person.full_name", read_only=True)

    class Meta:
        model = OpportunityContact
        fields = ["id", "person", "person_name", "role", "is_primary"]


class OpportunityContactInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())
    role = serializers.ChoiceField(choices=ContactRole.choices, default=ContactRole.OTHER)
    is_primary = serializers.BooleanField(default=False)


class OpportunityLineSerializer(serializers.ModelSerializer[OpportunityLine]):
    class Meta:
        model = OpportunityLine
        fields = [
            "id",
            "position",
            "product",
            "description",
            "quantity",
            "unit_price",
            "discount_percent",
            "line_total",
        ]


class OpportunityLineInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all(), required=False, allow_null=True)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, required=False)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)


class CompetitorOfferSerializer(serializers.ModelSerializer[CompetitorOffer]):
    competitor_name = serializers.CharField(source="competitor.name", read_only=True)

    class Meta:
        model = CompetitorOffer
        fields = ["id", "competitor", "competitor_name", "offer", "amount"]


class CompetitorOfferInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    competitor = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all())
    offer = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True, default=None)


class OpportunitySerializer(serializers.ModelSerializer[Opportunity]):
    url = serializers.HyperlinkedIdentityField(view_name="api:opportunity-detail")
    stage_name = serializers.CharField(source="stage.name", read_only=True)

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "url",
            "name",
            "account",
            "person",
            "pipeline",
            "stage",
            "stage_name",
            "status",
            "amount",
            "currency",
            "probability",
            "is_committed",
            "expected_close_date",
            "owner",
            "source",
            "region",
            "next_step",
            "description",
            "lost_reason",
            "lost_note",
            "stage_changed_at",
            "closed_at",
            "created_at",
            "updated_at",
        ]


class OpportunityInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    ignored_fields = frozenset(
        {
            "id",
            "url",
            "stage_name",
            "status",
            "lost_reason",
            "lost_note",
            "stage_changed_at",
            "closed_at",
            "created_at",
            "updated_at",
        }
    )
    name = serializers.CharField(max_length=200, required=False)
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all(), required=False, allow_null=True)
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all(), required=False, allow_null=True)
    pipeline = serializers.PrimaryKeyRelatedField(queryset=Pipeline.objects.all(), required=False)
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all(), required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    currency = serializers.CharField(max_length=3, required=False)
    probability = serializers.IntegerField(min_value=0, max_value=100, required=False)
    is_committed = serializers.BooleanField(required=False)
    expected_close_date = serializers.DateField(required=False, allow_null=True)
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False, allow_null=True)
    # DRF's metaclass pops declared fields off the class, so this shadows no Field.source at run time.
    source = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text=f"e.g. {', '.join(Source.values)}"
    )  # type: ignore[assignment]
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    next_step = serializers.CharField(max_length=255, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    contacts = OpportunityContactInputSerializer(many=True, required=False)
    lines = OpportunityLineInputSerializer(many=True, required=False)


class OpportunityMoveSerializer(StrictInputMixin, serializers.Serializer[Any]):
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all())
    lost_reason = serializers.ChoiceField(choices=LostReason.choices, required=False, allow_blank=True, default="")
    lost_note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class QuoteLineSerializer(serializers.ModelSerializer[QuoteLine]):
    class Meta:
        model = QuoteLine
        fields = [
            "id",
            "position",
            "product",
            "description",
            "quantity",
            "unit_price",
            "discount_percent",
            "line_total",
        ]


class QuoteSerializer(serializers.ModelSerializer[Quote]):
    url = serializers.HyperlinkedIdentityField(view_name="api:quote-detail")
    lines = QuoteLineSerializer(many=True, read_only=True)
    order_number = serializers.CharField(source="order.number", read_only=True, default=None)

    class Meta:
        model = Quote
        fields = [
            "id",
            "url",
            "number",
            "opportunity",
            "account",
            "person",
            "owner",
            "status",
            "currency",
            "price_list",
            "valid_until",
            "tax_rate",
            "subtotal_amount",
            "discount_amount",
            "tax_amount",
            "total_amount",
            "note",
            "order",
            "order_number",
            "lines",
            "sent_at",
            "decided_at",
            "created_at",
            "updated_at",
        ]


class QuoteInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    opportunity = serializers.PrimaryKeyRelatedField(
        queryset=Opportunity.objects.all(), required=False, allow_null=True
    )
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all(), required=False, allow_null=True)
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all(), required=False, allow_null=True)
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False, allow_null=True)
    currency = serializers.CharField(max_length=3, required=False)
    price_list = serializers.PrimaryKeyRelatedField(queryset=PriceList.objects.all(), required=False, allow_null=True)
    valid_until = serializers.DateField(required=False, allow_null=True)
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    note = serializers.CharField(required=False, allow_blank=True)
    lines = OpportunityLineInputSerializer(many=True, required=False)
    from_opportunity_lines = serializers.BooleanField(
        required=False, default=False, help_text="Copy the opportunity's line items into the new quote."
    )
