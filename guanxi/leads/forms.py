"""Forms of the lead pages: they parse and show input; every write goes through `leads.services`."""

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from guanxi.customers.models import Grade, RoleKind
from guanxi.leads.models import (
    WEB_FORM_FIELDS,
    AssignmentAction,
    AssignmentRule,
    Lead,
    LeadSource,
    LeadStatus,
    ScoringRule,
    WebForm,
)
from guanxi.staff.models import Team, User

BLANK: list[tuple[str, Any]] = [("", "---------")]
OPEN_STATUSES: list[tuple[str, Any]] = [(s.value, s.label) for s in LeadStatus if s != LeadStatus.CONVERTED]
LEAD_FORM_FIELDS = (
    "family_name",
    "given_name",
    "company_name",
    "job_title",
    "email",
    "phone",
    "industry",
    "region",
    "country",
    "source",
    "source_detail",
    "grade",
    "message",
)
SCORING_FORM_FIELDS = (
    "label",
    "kind",
    "field",
    "attribute_key",
    "value",
    "threshold",
    "points",
    "position",
    "is_active",
)


def field_label(name: str) -> str:
    """A lead field's translated label."""
    field = Lead._meta.get_field(name)
    return str(getattr(field, "verbose_name", name))


def _user_choices(users: Any) -> list[tuple[str, str]]:
    return [(str(u.pk), str(u)) for u in users]


class LeadFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), ("open", _("Open")), *LeadStatus.choices]
    )
    source = forms.ChoiceField(label=_("Source"), required=False, choices=BLANK + list(LeadSource.choices))
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    grade = forms.ChoiceField(label=_("Intent grade"), required=False, choices=BLANK + list(Grade.choices))

    def __init__(self, *args: Any, users: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["owner"]).choices = [
            ("", _("Anyone")),
            ("me", _("Me")),
            ("pool", _("Shared pool")),
            *_user_choices(users),
        ]


class LeadBulkForm(forms.Form):
    ACTIONS = [
        ("assign", _("Assign owner")),
        ("status", _("Change status")),
        ("claim", _("Claim")),
    ]
    ids = forms.TypedMultipleChoiceField(coerce=int, required=False)
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    owner = forms.CharField(required=False)
    status = forms.ChoiceField(label=_("Status"), choices=BLANK + OPEN_STATUSES, required=False)
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)
    next = forms.CharField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else self.data.get("ids", [])
        cast(forms.TypedMultipleChoiceField, self.fields["ids"]).choices = [(v, v) for v in raw if str(v).isdigit()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("ids"):
            raise ValidationError(_("Select at least one lead."))
        if data.get("action") == "status" and not data.get("status"):
            self.add_error("status", _("Choose a status."))
        if data.get("action") == "assign" and not data.get("owner"):
            self.add_error("owner", _("Choose an owner."))
        return data


class LeadForm(forms.Form):
    """The lead's own fields as the model defines them, plus the owner among the users offered."""

    def __init__(self, *args: Any, users: Any, instance: Lead | None = None, **kwargs: Any) -> None:
        if instance is not None:
            initial = forms.model_to_dict(instance, fields=LEAD_FORM_FIELDS)
            initial["owner"] = str(instance.owner_id or "")
            if not instance.grade_is_manual:
                initial["grade"] = ""
            kwargs["initial"] = {**initial, **kwargs.get("initial", {})}
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields.update(
            forms.fields_for_model(
                Lead,
                fields=LEAD_FORM_FIELDS,
                widgets={"message": forms.Textarea(attrs={"rows": 3})},
            )
        )
        self.fields["grade"].label = _("Intent grade (leave empty to use the suggested one)")
        empty = _("Shared pool") if instance is not None else _("Assignment rules decide")
        self.fields["owner"] = forms.ChoiceField(
            label=_("Owner"), required=False, choices=[("", empty), *_user_choices(users)]
        )

    def service_data(self, users: Any) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in LEAD_FORM_FIELDS}
        owner_value = self.cleaned_data.get("owner") or ""
        if owner_value:
            data["owner"] = next((u for u in users if str(u.pk) == owner_value), None)
        elif self.instance is not None:
            data["owner"] = None
        return data


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=OPEN_STATUSES)
    reason = forms.CharField(label=_("Why disqualified"), max_length=255, required=False)


class ConvertForm(forms.Form):
    account = forms.ChoiceField(label=_("Account"), widget=forms.RadioSelect, required=False)
    person = forms.ChoiceField(label=_("Contact"), widget=forms.RadioSelect, required=False)
    role_kind = forms.ChoiceField(label=_("Role at the account"), choices=RoleKind.choices)
    create_opportunity = forms.BooleanField(label=_("Also create an opportunity"), required=False)
    opportunity_name = forms.CharField(label=_("Opportunity name"), max_length=200, required=False)
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=2, required=False, min_value=0)
    expected_close_date = forms.DateField(
        label=_("Expected close date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(
        self, *args: Any, account_choices: list[tuple[str, str]], person_choices: list[tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["account"]).choices = account_choices
        cast(forms.ChoiceField, self.fields["person"]).choices = person_choices
        self.initial.setdefault("account", account_choices[0][0] if account_choices else "")
        self.initial.setdefault("person", "new")


class AssignmentRuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    sources = forms.MultipleChoiceField(
        label=_("Sources"),
        choices=LeadSource.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any source."),
    )
    industries = forms.CharField(label=_("Industries"), required=False, help_text=_("Comma-separated; empty: any."))
    regions = forms.CharField(
        label=_("Provinces / states"), required=False, help_text=_("Comma-separated; empty: any.")
    )
    countries = forms.CharField(
        label=_("Countries"), required=False, help_text=_("Two-letter codes, comma-separated; empty: any.")
    )
    action = forms.ChoiceField(label=_("Action"), choices=AssignmentAction.choices)
    assign_to = forms.ModelChoiceField(
        label=_("Assign to"), queryset=User.objects.filter(is_active=True), required=False
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False)

    @classmethod
    def initial_for(cls, rule: AssignmentRule) -> dict[str, Any]:
        return {
            "name": rule.name,
            "is_active": rule.is_active,
            "sources": rule.sources,
            "industries": ", ".join(rule.industries),
            "regions": ", ".join(rule.regions),
            "countries": ", ".join(rule.countries),
            "action": rule.action,
            "assign_to": rule.assign_to_id,
            "team": rule.team_id,
        }


class ScoringRuleForm(forms.Form):
    """The rule's fields as the model defines them; the service validates the rule as a whole."""

    def __init__(self, *args: Any, instance: ScoringRule | None = None, **kwargs: Any) -> None:
        if instance is not None:
            kwargs["initial"] = forms.model_to_dict(instance, fields=SCORING_FORM_FIELDS)
        super().__init__(*args, **kwargs)
        self.fields.update(forms.fields_for_model(ScoringRule, fields=SCORING_FORM_FIELDS))
        self.fields["kind"].help_text = str(_("Field conditions use Field and Value; follow-up conditions use N."))


class GradeBandsForm(forms.Form):
    a_from = forms.IntegerField(label=_("A from score"))
    b_from = forms.IntegerField(label=_("B from score"))
    c_from = forms.IntegerField(label=_("C from score"))


class WebFormSettingsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("Also the lead's source detail."))
    fields_shown = forms.MultipleChoiceField(
        label=_("Fields shown"),
        widget=forms.CheckboxSelectMultiple,
        choices=[(f, field_label(f)) for f in WEB_FORM_FIELDS],
    )
    default_owner = forms.ModelChoiceField(
        label=_("Default owner"),
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text=_("Leave empty to let the assignment rules decide."),
    )
    default_team = forms.ModelChoiceField(label=_("Default team"), queryset=Team.objects.all(), required=False)
    thank_you_text = forms.CharField(
        label=_("Thank-you text"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    @classmethod
    def initial_for(cls, form: WebForm) -> dict[str, Any]:
        return {
            "name": form.name,
            "fields_shown": form.fields,
            "default_owner": form.default_owner_id,
            "default_team": form.default_team_id,
            "thank_you_text": form.thank_you_text,
            "is_active": form.is_active,
        }

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["fields"] = data.pop("fields_shown")
        return data


class PublicLeadForm(forms.Form):
    """The visitor's form: only the fields the admin chose, plus a honeypot a person never sees."""

    HONEYPOT = "website"

    def __init__(self, *args: Any, web_form: WebForm, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in web_form.fields:
            if name not in WEB_FORM_FIELDS:
                continue
            model_field = Lead._meta.get_field(name)
            max_length = getattr(model_field, "max_length", None) or 2000
            widget: forms.Widget = forms.Textarea(attrs={"rows": 4}) if name == "message" else forms.TextInput()
            if name == "email":
                widget = forms.EmailInput(attrs={"autocomplete": "email"})
            elif name == "phone":
                widget = forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"})
            self.fields[name] = forms.CharField(
                label=field_label(name),
                required=False,
                max_length=max_length,
                widget=widget,
            )
        self.fields[self.HONEYPOT] = forms.CharField(
            label=_("Leave this empty"),
            required=False,
            widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
        )

    @property
    def visible_fields_list(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name != self.HONEYPOT]

    @property
    def is_spam(self) -> bool:
        return bool(self.data.get(self.HONEYPOT))
