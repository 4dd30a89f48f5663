"""The small forms on a record page: lifecycle stage, roles, relationships and consent.

Several share one page, so each gives its fields an id prefix of its own.
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from guanxi.customers.forms.common import parse_party_id
from guanxi.customers.models import Channel, ConsentPurpose, LifecycleStage, LostReason, RelationshipKind, RoleKind


class StageForm(forms.Form):
    stage = forms.ChoiceField(label=_("Lifecycle stage"), choices=LifecycleStage.choices)
    lost_reason = forms.ChoiceField(label=_("Lost because"), choices=[("", "—"), *LostReason.choices], required=False)
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "stage_%s")  # several forms share a record page: keep ids unique
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("stage") == LifecycleStage.LOST and not data.get("lost_reason"):
            self.add_error("lost_reason", _("Say why the customer was lost."))
        return data


class RoleForm(forms.Form):
    """Add a role; `party` is the account (on a person page) or the person (on an account page)."""

    party = forms.CharField(label=_("Account"), help_text=_("Type to search, or enter the number."))
    kind = forms.ChoiceField(label=_("Role"), choices=RoleKind.choices)
    job_title = forms.CharField(label=_("Job title"), max_length=100, required=False)
    is_primary_contact = forms.BooleanField(label=_("Primary contact"), required=False)

    def __init__(self, *args: Any, party_label: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "role_%s")
        super().__init__(*args, **kwargs)
        if party_label:
            self.fields["party"].label = party_label

    def clean_party(self) -> int:
        pk = parse_party_id(self.cleaned_data.get("party"))
        if pk is None:
            raise ValidationError(_("Choose a record from the list or enter its number."))
        return pk


class RelationshipForm(forms.Form):
    TARGET_TYPES = [("person", _("Contact")), ("account", _("Account"))]

    kind = forms.ChoiceField(label=_("Relationship"), choices=RelationshipKind.choices)
    target_type = forms.ChoiceField(label=_("Other record type"), choices=TARGET_TYPES)
    target = forms.CharField(label=_("Other record"), help_text=_("Type to search, or enter the number."))
    note = forms.CharField(label=_("Note"), max_length=255, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "rel_%s")
        super().__init__(*args, **kwargs)

    def clean_target(self) -> int:
        pk = parse_party_id(self.cleaned_data.get("target"))
        if pk is None:
            raise ValidationError(_("Choose a record from the list or enter its number."))
        return pk


class ConsentForm(forms.Form):
    GRANTED = [("1", _("Granted")), ("0", _("Withdrawn"))]

    purpose = forms.ChoiceField(label=_("Purpose"), choices=ConsentPurpose.choices)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    granted = forms.TypedChoiceField(
        label=_("Decision"), choices=GRANTED, coerce=lambda v: v == "1", widget=forms.RadioSelect, initial="1"
    )
    source = forms.CharField(label=_("Where it was given"), max_length=100, help_text=_("e.g. signup form, phone call"))
    wording = forms.CharField(
        label=_("Wording shown"), widget=forms.Textarea(attrs={"rows": 2}), help_text=_("The exact text shown.")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "consent_%s")
        super().__init__(*args, **kwargs)
