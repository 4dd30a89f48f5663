"""Forms of the analytics pages: a lifecycle rule, which run to start, the engagement definition."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from guanxi.analytics.labels import behaviour_label, i_label
from guanxi.analytics.models import LifecycleRule
from guanxi.analytics.segments import LABELS
from guanxi.customers.models import LifecycleStage
from guanxi.engine.engagement import BEHAVIOURS, I_NAMES


class LifecycleRuleForm(forms.ModelForm[LifecycleRule]):
    rfm_segments = forms.MultipleChoiceField(
        label=_("RFM segments"),
        choices=list(LABELS.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any segment."),
    )
    from_stages = forms.MultipleChoiceField(
        label=_("Only from stages"),
        choices=LifecycleStage.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: from any stage."),
    )

    class Meta:
        model = LifecycleRule
        fields = [
            "position",
            "stage",
            "description",
            "min_orders",
            "max_orders",
            "min_days_since_last",
            "max_days_since_last",
            "min_p_alive",
            "max_p_alive",
            "rfm_segments",
            "from_stages",
            "is_active",
        ]

    def cleaned_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class StartRunForm(forms.Form):
    kind = forms.ChoiceField(choices=[("scoring", _("Scoring")), ("rules", _("Association rules"))])


class EngagementDefinitionForm(forms.Form):
    """One weight per I and behaviour (0: does not count), starting from the definition in force."""

    note = forms.CharField(label=_("What changed and why"), max_length=200, required=False)

    def __init__(self, *args: Any, current: dict[str, list[tuple[str, float]]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups: list[dict[str, Any]] = []
        for name in I_NAMES:
            weights = dict(current.get(name, []))
            keys = [key for key, _ in current.get(name, [])] + [key for key in BEHAVIOURS if key not in weights]
            names = []
            for key in keys:
                field_name = f"{name}__{key}"
                self.fields[field_name] = forms.FloatField(
                    label=behaviour_label(key),
                    min_value=0,
                    max_value=100,
                    initial=weights.get(key, 0),
                    required=False,
                )
                names.append(field_name)
            self.groups.append({"name": name, "label": i_label(name), "fields": names})

    def bound_groups(self) -> list[dict[str, Any]]:
        return [{**group, "fields": [self[name] for name in group["fields"]]} for group in self.groups]

    def items(self) -> dict[str, list[tuple[str, float]]]:
        out: dict[str, list[tuple[str, float]]] = {}
        for group in self.groups:
            pairs = []
            for field_name in group["fields"]:
                weight = self.cleaned_data.get(field_name) or 0.0
                pairs.append((field_name.split("__", 1)[1], float(weight)))
            out[group["name"]] = pairs
        return out
