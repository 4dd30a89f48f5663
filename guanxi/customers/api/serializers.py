"""Serializers for accounts and people: the record as shown, the input a client may send, and
the payloads of history, lifecycle stage, bulk actions and consent.

Input and output have separate serializers: output is what a record looks like, input is
what a client may send; unknown input fields are refused, never silently dropped.
"""

from typing import Any

from rest_framework import serializers

from guanxi.core.api import StrictInputMixin
from guanxi.core.models import ChangeRecord
from guanxi.customers import services
from guanxi.customers.api.fields import (
    EmailInputField,
    PhoneInputField,
    TagNamesField,
    VisibleAccountField,
    VisibleTeamField,
    optional_text,
)
from guanxi.customers.models import (
    Account,
    Address,
    Channel,
    ConsentPurpose,
    ConsentRecord,
    EmailAddress,
    LifecycleStage,
    LostReason,
    Person,
    PhoneNumber,
    Role,
)
from guanxi.staff.models import Team, User


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
    "grade",
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
    "lost_reason",
    "reclaim_exempt",
    "owned_since",
    "last_follow_up_at",
    "last_won_at",
    "rfm_score",
    "rfm_segment",
    "p_alive",
    "predicted_clv",
    "churn_risk",
    "engagement_score",
    "scored_at",
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
    "lost_reason",
    "reclaim_exempt",
    "owned_since",
    "last_follow_up_at",
    "last_won_at",
    "rfm_score",
    "rfm_segment",
    "p_alive",
    "predicted_clv",
    "churn_risk",
    "engagement_score",
    "scored_at",
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


def _require_lost_reason(attrs: dict[str, Any]) -> dict[str, Any]:
    if attrs.get("stage") == LifecycleStage.LOST and not attrs.get("lost_reason"):
        raise serializers.ValidationError({"lost_reason": ["Required when the stage is lost: say why."]})
    return attrs


class StageInputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    stage = serializers.ChoiceField(choices=LifecycleStage.choices)
    reason = optional_text(255)
    lost_reason = serializers.ChoiceField(choices=LostReason.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _require_lost_reason(attrs)


class BulkActionSerializer(StrictInputMixin, serializers.Serializer[Any]):
    ACTIONS = ("assign_owner", "release", "claim", "add_tag", "remove_tag", "set_stage")

    action = serializers.ChoiceField(choices=ACTIONS)
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000)
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), allow_null=True, required=False)
    tag = serializers.CharField(max_length=64, required=False)
    stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False)
    reason = optional_text(255)
    lost_reason = serializers.ChoiceField(choices=LostReason.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _require_lost_reason(attrs)
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
