"""The settings forms admins use to define tags and custom attributes."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import AttributeDefinition, AttributeType


class TagForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=64)
    color = forms.CharField(
        label=_("Colour"), max_length=7, initial="#6b7280", widget=forms.TextInput({"type": "color"})
    )


class AttributeDefinitionForm(forms.Form):
    TARGETS = [("account", _("Accounts")), ("person", _("Contacts"))]

    target = forms.ChoiceField(label=_("Record type"), choices=TARGETS)
    key = forms.SlugField(label=_("Key"), max_length=64, help_text=_("Letters, digits, - and _; fixed once created."))
    label = forms.CharField(label=_("Label"), max_length=100)
    data_type = forms.ChoiceField(label=_("Type"), choices=AttributeType.choices)
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For a choice attribute: one choice per line."),
    )
    required = forms.BooleanField(label=_("Required"), required=False)
    position = forms.IntegerField(label=_("Position"), min_value=0, initial=0)

    def __init__(self, *args: Any, instance: AttributeDefinition | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "target": instance.target,
                    "key": instance.key,
                    "label": instance.label,
                    "data_type": instance.data_type,
                    "choices": "\n".join(instance.choices or []),
                    "required": instance.required,
                    "position": instance.position,
                },
            )
        super().__init__(*args, **kwargs)
        if instance is not None:
            for name in ("target", "key", "data_type"):
                self.fields[name].disabled = True

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["choices"] = [line.strip() for line in (data.get("choices") or "").splitlines() if line.strip()]
        return data
