"""Forms of the commerce pages. They check the shape of the input; `services` checks the rules
and its field-keyed errors (`lines[2].quantity`) are put back next to the right field."""

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from guanxi.commerce.models import (
    OrderChannel,
    OrderStatus,
    PaymentMethod,
    PriceList,
    Product,
    ProductCategory,
)


def parse_record_id(value: Any) -> int | None:
    """Accept "123", "123 · Name" (what the customer lookup lists offer) or "#123"."""
    match = re.match(r"\s*#?(\d+)", str(value or ""))
    return int(match.group(1)) if match else None


class ProductFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=ProductCategory.objects.all(), required=False, empty_label=_("All categories")
    )
    active = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Active and inactive")), ("yes", _("Active only")), ("no", _("Inactive only"))],
    )


class ProductForm(forms.ModelForm[Product]):
    class Meta:
        model = Product
        fields = ["sku", "name", "category", "unit", "unit_price", "unit_cost", "currency", "is_active", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def validate_unique(self) -> None:
        """The service reports a taken SKU as a field error; checking twice would cost a query."""


class CategoryForm(forms.ModelForm[ProductCategory]):
    class Meta:
        model = ProductCategory
        fields = ["name", "parent"]

    def validate_unique(self) -> None:
        """Left to the service."""


class PriceListForm(forms.ModelForm[PriceList]):
    class Meta:
        model = PriceList
        fields = ["name", "currency", "is_default", "is_active"]

    def validate_unique(self) -> None:
        """Left to the service."""


class PriceForm(forms.Form):
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.filter(is_active=True))
    unit_price = forms.DecimalField(label=_("Unit price"), max_digits=14, decimal_places=2, min_value=Decimal(0))


class OrderFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any status")), *OrderStatus.choices])
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("Any channel")), *OrderChannel.choices]
    )
    date_from = forms.DateField(label=_("Ordered from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Ordered until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


class OrderForm(forms.Form):
    """The order head; the buyer is an account, a person, or both (a person buying for their company)."""

    buyer_account = forms.CharField(
        label=_("Buyer (account)"), required=False, help_text=_("Type to search, or enter the number.")
    )
    buyer_person = forms.CharField(
        label=_("Buyer (person)"), required=False, help_text=_("Type to search, or enter the number.")
    )
    channel = forms.ChoiceField(label=_("Channel"), choices=OrderChannel.choices, initial=OrderChannel.DIRECT)
    status = forms.ChoiceField(label=_("Status"), choices=OrderStatus.choices, initial=OrderStatus.CONFIRMED)
    currency = forms.CharField(label=_("Currency"), max_length=3, min_length=3, initial="CNY")
    price_list = forms.ModelChoiceField(
        label=_("Price list"),
        queryset=PriceList.objects.filter(is_active=True),
        required=False,
        empty_label=_("The currency's default list"),
    )
    ordered_at = forms.DateTimeField(
        label=_("Ordered at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    payment_due_date = forms.DateField(
        label=_("Payment due"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    discount_amount = forms.DecimalField(
        label=_("Order discount"), max_digits=14, decimal_places=2, min_value=Decimal(0), initial=Decimal(0)
    )
    tax_amount = forms.DecimalField(
        label=_("Tax"), max_digits=14, decimal_places=2, min_value=Decimal(0), initial=Decimal(0)
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def _record_id(self, name: str) -> int | None:
        value = self.cleaned_data.get(name)
        if not value:
            return None
        pk = parse_record_id(value)
        if pk is None:
            raise ValidationError(_("Choose a record from the list or enter its number."))
        return pk

    def clean_buyer_account(self) -> int | None:
        return self._record_id("buyer_account")

    def clean_buyer_person(self) -> int | None:
        return self._record_id("buyer_person")


class OrderLineForm(forms.Form):
    product = forms.ModelChoiceField(
        label=_("Product"), queryset=Product.objects.filter(is_active=True), required=False, empty_label="—"
    )
    description = forms.CharField(label=_("Description"), max_length=255, required=False)
    quantity = forms.DecimalField(label=_("Quantity"), max_digits=12, decimal_places=3, required=False)
    unit_price = forms.DecimalField(
        label=_("Unit price"),
        max_digits=14,
        decimal_places=2,
        required=False,
        help_text=_("Empty: the price list's price."),
    )
    discount_amount = forms.DecimalField(label=_("Discount"), max_digits=14, decimal_places=2, required=False)
    user_person = forms.CharField(
        label=_("User"), required=False, help_text=_("Who uses this line, if not the buyer (使用人).")
    )

    def clean_user_person(self) -> int | None:
        value = self.cleaned_data.get("user_person")
        if not value:
            return None
        pk = parse_record_id(value)
        if pk is None:
            raise ValidationError(_("Choose a record from the list or enter its number."))
        return pk

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(k) not in (None, "") for k in ("product", "description", "unit_price"))


OrderLineFormSet = forms.formset_factory(OrderLineForm, extra=0, min_num=1, max_num=200, absolute_max=200)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=OrderStatus.choices)


class PaymentForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    paid_at = forms.DateTimeField(
        label=_("Paid at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    method = forms.ChoiceField(label=_("Method"), choices=PaymentMethod.choices, initial=PaymentMethod.BANK_TRANSFER)
    reference = forms.CharField(label=_("Reference"), max_length=100, required=False)
