"""Forms of the profitability pages: the cost settings, and an action on the review list.

The acquisition grid is a plain table of inputs named `cost-<source>-<YYYY-MM>`, read by the view
and validated by the service, so no form class is needed for it.
"""

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from guanxi.activities.models import ActivityKind
from guanxi.commerce.models import PriceList
from guanxi.customers.models import ServiceLevel
from guanxi.profitability.models import CostSettings


class SettingsForm(forms.Form):
    currency = forms.CharField(
        label=_("Currency"),
        max_length=3,
        help_text=_("Only orders in this currency are counted; every cost is entered in it."),
    )
    ticket_cost = forms.DecimalField(
        label=_("Cost per service ticket"),
        min_value=Decimal("0"),
        decimal_places=2,
        max_digits=14,
        help_text=_("No ticket app yet: every customer counts 0 tickets until one is added."),
    )

    def __init__(self, *args: Any, settings: CostSettings, costs: dict[str, Decimal], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"currency": settings.currency, "ticket_cost": settings.ticket_cost})
        for kind in ActivityKind.values:
            kwargs["initial"][f"cost_{kind}"] = costs.get(kind, Decimal("0"))
        super().__init__(*args, **kwargs)
        for kind, label in ActivityKind.choices:
            self.fields[f"cost_{kind}"] = forms.DecimalField(
                label=_("Cost per follow-up: %(kind)s") % {"kind": label},
                min_value=Decimal("0"),
                decimal_places=2,
                max_digits=14,
            )

    def activity_costs(self) -> dict[str, Decimal]:
        return {kind: self.cleaned_data[f"cost_{kind}"] for kind in ActivityKind.values}


class ReviewActionForm(forms.Form):
    ACTIONS = (
        ("price_list", _("Move to another price list")),
        ("service_level", _("Change the service level")),
        ("release", _("Hand back to the shared pool")),
    )
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    price_list = forms.ModelChoiceField(
        label=_("Price list"), queryset=PriceList.objects.filter(is_active=True).order_by("name"), required=False
    )
    service_level = forms.ChoiceField(
        label=_("Service level"), choices=[("", "—"), *ServiceLevel.choices], required=False
    )
