"""Forms of the analytics pages: a lifecycle rule, and which run to start."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from guanxi.analytics.models import LifecycleRule
from guanxi.analytics.segments import LABELS
from guanxi.customers.models import LifecycleStage


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
