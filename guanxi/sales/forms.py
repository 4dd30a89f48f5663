"""Forms of the sales pages. They only parse and show input: every write goes through
`sales.services`, whose field-keyed errors are put back onto these forms."""

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from guanxi.commerce.models import PriceList, Product
from guanxi.customers.forms.common import parse_party_id
from guanxi.customers.models import Account, AccountKind, Person, Source
from guanxi.sales.models import ContactRole, LostReason, Pipeline, Stage, StageKind
from guanxi.staff.models import Team, User

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _user_choices(users: QuerySet[User] | list[User], *, pool: bool = True) -> list[tuple[str, Any]]:
    choices: list[tuple[str, Any]] = [("", _("Anyone")), ("me", _("Me"))]
    if pool:
        choices.append(("pool", _("Shared pool")))
    return choices + [(str(u.pk), str(u)) for u in users]


class FilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    pipeline = forms.ModelChoiceField(label=_("Pipeline"), queryset=Pipeline.objects.none(), required=False)
    stage = forms.ModelChoiceField(label=_("Stage"), queryset=Stage.objects.none(), required=False)
    status = forms.ChoiceField(label=_("Status"), choices=[("", _("Any")), *list(StageKind.choices)], required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)
    close_from = forms.DateField(label=_("Expected close from"), required=False, widget=DATE)
    close_to = forms.DateField(label=_("Expected close until"), required=False, widget=DATE)

    def __init__(self, *args: Any, users: list[User], teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = _user_choices(users)  # type: ignore[attr-defined]  # ChoiceField
        pipeline_field: Any = self.fields["pipeline"]
        pipeline_field.queryset = Pipeline.objects.filter(is_active=True)
        stage_field: Any = self.fields["stage"]
        stage_field.queryset = Stage.objects.select_related("pipeline").order_by("pipeline__position", "position")
        stage_field.label_from_instance = lambda stage: f"{stage.pipeline.name} · {stage.name}"
        team_field: Any = self.fields["team"]
        team_field.queryset = teams
        team_field.empty_label = _("Any")
        pipeline_field.empty_label = _("Any")
        stage_field.empty_label = _("Any")


class OpportunityForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    account = forms.CharField(
        label=_("Account"),
        required=False,
        help_text=_("Type to search; pick an account from the list."),
    )
    person = forms.CharField(
        label=_("Contact"),
        required=False,
        help_text=_("For a deal with a person rather than an organisation."),
    )
    pipeline = forms.ModelChoiceField(label=_("Pipeline"), queryset=Pipeline.objects.none(), required=False)
    stage = forms.ModelChoiceField(label=_("Stage"), queryset=Stage.objects.none(), required=False)
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=2, min_value=0, initial=0)
    currency = forms.CharField(label=_("Currency"), max_length=3, initial="CNY")
    probability = forms.IntegerField(label=_("Win probability (%)"), min_value=0, max_value=100, required=False)
    is_committed = forms.BooleanField(label=_("Committed to the forecast"), required=False)
    expected_close_date = forms.DateField(label=_("Expected close date"), required=False, widget=DATE)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    source = forms.ChoiceField(label=_("Source"), choices=[("", "—"), *Source.choices], required=False)
    region = forms.CharField(
        label=_("Region"),
        max_length=100,
        required=False,
        help_text=_("Province or state; empty on a new deal: the account's."),
    )
    next_step = forms.CharField(label=_("Next step"), max_length=255, required=False)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, users: QuerySet[User], creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner_field: Any = self.fields["owner"]
        owner_field.queryset = users
        owner_field.empty_label = _("Shared pool")
        if creating:
            pipeline_field: Any = self.fields["pipeline"]
            pipeline_field.queryset = Pipeline.objects.filter(is_active=True)
            stage_field: Any = self.fields["stage"]
            stage_field.queryset = (
                Stage.objects.filter(pipeline__is_active=True)
                .exclude(kind=StageKind.LOST)
                .select_related("pipeline")
                .order_by("pipeline__position", "position")
            )
            stage_field.label_from_instance = lambda stage: f"{stage.pipeline.name} · {stage.name}"
            stage_field.help_text = _("Empty: the pipeline's first stage.")
        else:
            del self.fields["pipeline"]
            del self.fields["stage"]

    def clean_account(self) -> Account | None:
        pk = parse_party_id(self.cleaned_data.get("account"))
        if pk is None:
            if self.cleaned_data.get("account"):
                raise forms.ValidationError(_("Pick an account from the list."))
            return None
        account = Account.objects.filter(pk=pk).first()
        if account is None:
            raise forms.ValidationError(_("No account has this number."))
        return account

    def clean_person(self) -> Person | None:
        pk = parse_party_id(self.cleaned_data.get("person"))
        if pk is None:
            if self.cleaned_data.get("person"):
                raise forms.ValidationError(_("Pick a contact from the list."))
            return None
        person = Person.objects.filter(pk=pk).first()
        if person is None:
            raise forms.ValidationError(_("No contact has this number."))
        return person

    def clean_currency(self) -> str:
        return str(self.cleaned_data["currency"]).upper()

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for key in ("pipeline", "stage", "probability"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class MoveForm(forms.Form):
    stage = forms.ModelChoiceField(label=_("Move to"), queryset=Stage.objects.all())
    lost_reason = forms.ChoiceField(label=_("Lost because"), choices=[("", "—"), *LostReason.choices], required=False)
    lost_note = forms.CharField(label=_("Lost note"), max_length=255, required=False)


class ContactForm(forms.Form):
    person = forms.CharField(label=_("Contact"), help_text=_("Type to search; pick a contact from the list."))
    role = forms.ChoiceField(label=_("Role"), choices=ContactRole.choices, initial=ContactRole.DECISION_MAKER)
    is_primary = forms.BooleanField(label=_("Primary contact"), required=False)

    def clean_person(self) -> Person:
        pk = parse_party_id(self.cleaned_data.get("person"))
        person = Person.objects.filter(pk=pk).first() if pk is not None else None
        if person is None:
            raise forms.ValidationError(_("Pick a contact from the list."))
        return person


class ContactEditForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=ContactRole.choices)
    is_primary = forms.BooleanField(label=_("Primary contact"), required=False)


class LineForm(forms.Form):
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.none(), required=False)
    description = forms.CharField(label=_("Description"), max_length=255, required=False)
    quantity = forms.DecimalField(label=_("Quantity"), max_digits=12, decimal_places=3, initial=1)
    unit_price = forms.DecimalField(
        label=_("Unit price"),
        max_digits=14,
        decimal_places=2,
        required=False,
        help_text=_("Empty: the product's price."),
    )
    discount_percent = forms.DecimalField(
        label=_("Discount (%)"), max_digits=5, decimal_places=2, initial=0, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        product_field: Any = self.fields["product"]
        product_field.queryset = Product.objects.filter(is_active=True).order_by("name")


class CompetitorForm(forms.Form):
    competitor = forms.ModelChoiceField(label=_("Competitor"), queryset=Account.objects.none())
    offer = forms.CharField(label=_("Their offer"), max_length=255, required=False)
    amount = forms.DecimalField(label=_("Their amount"), max_digits=14, decimal_places=2, required=False, min_value=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        competitor_field: Any = self.fields["competitor"]
        competitor_field.queryset = Account.objects.filter(kind=AccountKind.COMPETITOR).order_by("name")


class CompetitorEditForm(forms.Form):
    offer = forms.CharField(label=_("Their offer"), max_length=255, required=False)
    amount = forms.DecimalField(label=_("Their amount"), max_digits=14, decimal_places=2, required=False, min_value=0)


class BulkForm(forms.Form):
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True)
    owner = forms.CharField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ids_field: Any = self.fields["ids"]
        ids_field.valid_value = lambda value: str(value).isdigit()


class PipelineForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    position = forms.IntegerField(label=_("Position"), min_value=0, required=False)
    is_default = forms.BooleanField(label=_("Default pipeline"), required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class StageForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    probability = forms.IntegerField(label=_("Win probability (%)"), min_value=0, max_value=100, initial=0)
    kind = forms.ChoiceField(label=_("Kind"), choices=StageKind.choices, initial=StageKind.OPEN)


class QuoteForm(forms.Form):
    valid_until = forms.DateField(label=_("Valid until"), required=False, widget=DATE)
    tax_rate = forms.DecimalField(label=_("Tax rate (%)"), max_digits=5, decimal_places=2, min_value=0, max_value=100)
    price_list = forms.ModelChoiceField(label=_("Price list"), queryset=PriceList.objects.none(), required=False)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        price_list_field: Any = self.fields["price_list"]
        price_list_field.queryset = PriceList.objects.filter(is_active=True).order_by("name")
