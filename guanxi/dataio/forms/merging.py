"""The merge screen's form (one choice per differing field) and the small pair forms."""

from typing import Any

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import AttributeDefinition
from guanxi.dataio.models import CUSTOMER_TARGET_CHOICES, Target
from guanxi.dataio.services.merging import ATTRIBUTE_PREFIX, Party, merge_fields

KEEP = "survivor"
TAKE = "merged"


def display_value(party: Party, name: str) -> str:
    """A field's value as the merge screen shows it: labels for choices and links, "—" for empty."""
    if name.startswith(ATTRIBUTE_PREFIX):
        value: Any = party.attributes.get(name.removeprefix(ATTRIBUTE_PREFIX))
    else:
        model_field = party._meta.get_field(name)
        if isinstance(model_field, models.ForeignKey):
            value = getattr(party, name)
        elif getattr(model_field, "choices", None):
            value = getattr(party, f"get_{name}_display")()
        else:
            value = getattr(party, name)
    if value is None or value == "":
        return "—"
    return str(value)


def _raw(party: Party, name: str) -> Any:
    if name.startswith(ATTRIBUTE_PREFIX):
        return party.attributes.get(name.removeprefix(ATTRIBUTE_PREFIX))
    model_field = party._meta.get_field(name)
    return getattr(party, getattr(model_field, "attname", name))


def _empty(value: Any) -> bool:
    return value is None or value == ""


class MergeForm(forms.Form):
    """A radio per field whose values differ: keep the survivor's value or take the other's.

    The default keeps the survivor's value, except where it is empty and the other's is not, so
    a plain "Merge" loses nothing the survivor lacked.
    """

    def __init__(self, *args: Any, survivor: Party, merged: Party, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.survivor = survivor
        self.merged = merged
        model = type(survivor)
        names = list(merge_fields(model))
        target = Target.PERSON if model._meta.model_name == "person" else Target.ACCOUNT
        labels: dict[str, str] = {}
        for definition in AttributeDefinition.objects.filter(target=target).order_by("position", "key"):
            key = f"{ATTRIBUTE_PREFIX}{definition.key}"
            labels[key] = definition.label
            names.append(key)
        for key in sorted(set(survivor.attributes) | set(merged.attributes)):
            if f"{ATTRIBUTE_PREFIX}{key}" not in labels:
                labels[f"{ATTRIBUTE_PREFIX}{key}"] = key
                names.append(f"{ATTRIBUTE_PREFIX}{key}")
        self.rows: list[tuple[str, str, str, str]] = []  # name, label, survivor's, other's
        for name in names:
            label = labels.get(name) or str(getattr(model._meta.get_field(name), "verbose_name", name)).capitalize()
            kept, other = display_value(survivor, name), display_value(merged, name)
            self.rows.append((name, label, kept, other))
            if _raw(survivor, name) == _raw(merged, name):
                continue
            initial = TAKE if _empty(_raw(survivor, name)) and not _empty(_raw(merged, name)) else KEEP
            self.fields[name] = forms.ChoiceField(
                label=label,
                choices=[(KEEP, kept), (TAKE, other)],
                initial=initial,
                widget=forms.RadioSelect,
                required=False,  # a client that sends nothing gets the defaults
            )

    def chosen_fields(self) -> list[str]:
        return [name for name, f in self.fields.items() if (self.cleaned_data.get(name) or f.initial) == TAKE]

    def choice_rows(self) -> list[dict[str, Any]]:
        """Rows for the side-by-side table: the field, both values, and its radio if they differ."""
        return [
            {
                "name": name,
                "label": label,
                "survivor": kept,
                "merged": other,
                "field": self[name] if name in self.fields else None,
            }
            for name, label, kept, other in self.rows
        ]


class PairForm(forms.Form):
    target = forms.ChoiceField(choices=CUSTOMER_TARGET_CHOICES)
    first = forms.IntegerField(min_value=1)
    second = forms.IntegerField(min_value=1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("first") is not None and data.get("first") == data.get("second"):
            raise forms.ValidationError(_("Choose two different records."))
        return data
