"""The forms of the account and contact lists: the filters shown above a list and its bulk actions."""

from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import AttributeDefinition, Tag
from guanxi.customers.forms.common import attribute_field
from guanxi.customers.models import AccountKind, LifecycleStage, LostReason, MarketSegment
from guanxi.staff.models import User

BLANK = [("", "---------")]


class BulkForm(forms.Form):
    ACTIONS = [
        ("assign", _("Assign owner")),
        ("add_tag", _("Add tag")),
        ("remove_tag", _("Remove tag")),
        ("set_stage", _("Change stage")),
        ("release", _("Release to shared pool")),
        ("claim", _("Claim")),
    ]
    ids = forms.TypedMultipleChoiceField(coerce=int, required=False)
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    owner = forms.CharField(required=False)
    tag = forms.CharField(label=_("Tag"), max_length=64, required=False)
    stage = forms.ChoiceField(label=_("Stage"), choices=BLANK + list(LifecycleStage.choices), required=False)
    lost_reason = forms.ChoiceField(label=_("Lost because"), choices=BLANK + list(LostReason.choices), required=False)
    next = forms.CharField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ids_field = cast(forms.TypedMultipleChoiceField, self.fields["ids"])
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else self.data.get("ids", [])
        ids_field.choices = [(v, v) for v in raw if str(v).isdigit()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        action = data.get("action")
        if not data.get("ids"):
            raise ValidationError(_("Select at least one record."))
        if action in ("add_tag", "remove_tag") and not (data.get("tag") or "").strip():
            self.add_error("tag", _("Enter a tag."))
        if action == "set_stage" and not data.get("stage"):
            self.add_error("stage", _("Choose a stage."))
        if action == "set_stage" and data.get("stage") == LifecycleStage.LOST and not data.get("lost_reason"):
            self.add_error("lost_reason", _("Say why the customers were lost."))
        if action == "assign" and not data.get("owner"):
            self.add_error("owner", _("Choose an owner."))
        return data


class FilterForm(forms.Form):
    """The list filters, shown in the page; the list reads them into `queries.PartyFilters`."""

    q = forms.CharField(label=_("Search"), required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    tag = forms.ChoiceField(label=_("Tag"), required=False)
    stage = forms.ChoiceField(label=_("Stage"), choices=BLANK + list(LifecycleStage.choices), required=False)

    def __init__(
        self,
        *args: Any,
        users: Iterable[User],
        tags: Iterable[Tag],
        definitions: list[AttributeDefinition],
        for_accounts: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["owner"]).choices = [
            ("", _("Anyone")),
            ("me", _("Me")),
            ("pool", _("Shared pool")),
            *[(str(u.pk), str(u)) for u in users],
        ]
        cast(forms.ChoiceField, self.fields["tag"]).choices = BLANK + [(t.name, t.name) for t in tags]
        if for_accounts:
            self.fields["market_segment"] = forms.ChoiceField(
                label=_("Market segment"), choices=BLANK + list(MarketSegment.choices), required=False
            )
            self.fields["kind"] = forms.ChoiceField(
                label=_("Kind"), choices=BLANK + list(AccountKind.choices), required=False
            )
        for definition in definitions:
            self.fields[f"attr.{definition.key}"] = attribute_field(definition, for_filter=True)
