"""Web forms for customer records. They only parse and show input: every write goes through
`customers.services`, whose ValidationError keys (`emails.1`, `attributes.shoe_size`,
`addresses.0.line1`) are mapped back onto the form fields here."""

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import AttributeDefinition, AttributeType, Tag
from guanxi.customers.models import (
    Account,
    AccountKind,
    Address,
    Channel,
    ConsentPurpose,
    LifecycleStage,
    MarketSegment,
    Person,
    RelationshipKind,
    RoleKind,
)
from guanxi.staff import access
from guanxi.staff.models import Team, User

BLANK = [("", "---------")]


# ---------------------------------------------------------------------------------------------
# Users offered in owner selects


def assignable_users(actor: User) -> QuerySet[User]:
    """Users `actor` may make owner of a record (mirrors `access.can_assign_to`)."""
    users = User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    if actor.is_admin:
        return users
    team_ids = access.managed_team_ids(actor) if actor.role == "sales_manager" else []
    return users.filter(Q(pk=actor.pk) | Q(team_id__in=team_ids))


def filterable_users(actor: User) -> QuerySet[User]:
    """Owners worth offering in a list filter: those whose records `actor` may see."""
    if actor.is_admin or actor.role in access.READ_ALL_ROLES:
        return User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    return assignable_users(actor)


class OwnerChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return str(obj)


# ---------------------------------------------------------------------------------------------
# Mapping service errors onto fields


def parse_party_id(value: Any) -> int | None:
    """Accept "123", "123 · Name" (what the lookup lists offer) or "#123"."""
    match = re.match(r"\s*#?(\d+)", str(value or ""))
    return int(match.group(1)) if match else None


def add_service_errors(
    form: forms.Form, exc: ValidationError, resolve: Callable[[str], tuple[str | None, str]] | None = None
) -> None:
    """Put each service error next to its field; keys with no field become form-wide errors."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, messages in exc.message_dict.items():
        field: str | None
        prefix = ""
        if resolve is not None:
            field, prefix = resolve(key)
        else:
            field = key
        if field not in form.fields:
            field = None
            if key not in ("__all__", "") and resolve is None:
                prefix = f"{key}: "
        for message in messages:
            form.add_error(field, f"{prefix}{message}")


def _resolve_common(key: str) -> tuple[str | None, str]:
    if key.startswith("attributes."):
        return "attr_" + key.split(".", 1)[1], ""
    return key, ""


# ---------------------------------------------------------------------------------------------
# Custom attributes


def attribute_definitions(target: str) -> list[AttributeDefinition]:
    return list(AttributeDefinition.objects.filter(target=target).order_by("position", "key"))


def attribute_field(definition: AttributeDefinition, *, for_filter: bool = False) -> forms.Field:
    label = definition.label
    required = definition.required and not for_filter
    if definition.data_type == AttributeType.CHOICE:
        choices = [("", "---------"), *[(c, c) for c in definition.choices]]
        return forms.ChoiceField(label=label, choices=choices, required=required)
    if definition.data_type == AttributeType.DATE and not for_filter:
        return forms.CharField(label=label, required=required, widget=forms.DateInput(attrs={"type": "date"}))
    if definition.data_type == AttributeType.NUMBER and not for_filter:
        return forms.CharField(label=label, required=required, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    return forms.CharField(label=label, required=required)


class AttributesMixin:
    """Adds one `attr_<key>` field per custom attribute definition."""

    attribute_keys: list[str]

    def add_attribute_fields(self, definitions: list[AttributeDefinition], current: Mapping[str, Any]) -> None:
        form = cast(forms.Form, self)
        self.attribute_keys = [d.key for d in definitions]
        for definition in definitions:
            name = f"attr_{definition.key}"
            # Required attributes are enforced by the service, so its message shows next to the field.
            field = attribute_field(definition)
            field.required = False
            form.fields[name] = field
            if definition.key in current:
                form.initial[name] = current[definition.key]

    @property
    def attribute_field_names(self) -> list[str]:
        return [f"attr_{k}" for k in self.attribute_keys]

    def attribute_bound_fields(self) -> list[forms.BoundField]:
        form = cast(forms.Form, self)
        return [form[name] for name in self.attribute_field_names]

    def attribute_values(self) -> dict[str, Any]:
        form = cast(forms.Form, self)
        return {key: form.cleaned_data.get(f"attr_{key}", "") for key in self.attribute_keys}


def _tags_text(tags: Iterable[Tag]) -> str:
    return ", ".join(t.name for t in tags)


def split_tags(text: str) -> list[str]:
    return [t.strip() for t in re.split(r"[,，;；\n]", text or "") if t.strip()]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in re.split(r"[\n,;，；]", text or "") if line.strip()]


# ---------------------------------------------------------------------------------------------
# Account form

ACCOUNT_MODEL_FIELDS = [
    "name",
    "kind",
    "organisation_type",
    "industry",
    "market_segment",
    "grade",
    "website",
    "registration_number",
    "phone",
    "status",
    "source",
    "notes",
]
ADDRESS_FIELDS = ["kind", "line1", "line2", "city", "region", "postal_code", "country"]


class AccountForm(AttributesMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    lifecycle_stage = forms.ChoiceField(label=_("Lifecycle stage"), choices=LifecycleStage.choices)
    parent = forms.CharField(
        label=_("Parent account"),
        required=False,
        help_text=_("Type to search, or enter the account number."),
    )
    owner = OwnerChoiceField(
        label=_("Owner"), queryset=User.objects.none(), required=False, empty_label=_("— Shared pool —")
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False)
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separate tags with commas."))

    def __init__(
        self,
        *args: Any,
        actor: User,
        visible_accounts: QuerySet[Account],
        instance: Account | None = None,
        **kwargs: Any,
    ) -> None:
        self.instance = instance
        self.visible_accounts = visible_accounts
        initial = dict(kwargs.pop("initial", None) or {})
        if instance is not None:
            initial.update({name: getattr(instance, name) for name in ACCOUNT_MODEL_FIELDS})
            initial["owner"] = instance.owner_id
            initial["team"] = instance.team_id
            initial["parent"] = f"{instance.parent.pk} · {instance.parent.name}" if instance.parent else ""
            initial["tags"] = _tags_text(instance.tags.all())
        else:
            initial.setdefault("owner", actor.pk)
            initial.setdefault("lifecycle_stage", LifecycleStage.PROSPECT)
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        model_fields = forms.fields_for_model(Account, fields=ACCOUNT_MODEL_FIELDS)
        for name in ACCOUNT_MODEL_FIELDS:
            field = model_fields[name]
            if name == "name":
                continue
            self.fields[name] = field
        self.fields["website"].widget.attrs["placeholder"] = "https://"
        self.fields["name"].label = Account._meta.get_field("name").verbose_name.capitalize()
        owners = assignable_users(actor)
        if instance is not None and instance.owner_id:
            owners = User.objects.filter(Q(pk__in=owners.values("pk")) | Q(pk=instance.owner_id)).order_by(
                "first_name", "last_name", "username"
            )
        cast(OwnerChoiceField, self.fields["owner"]).queryset = owners
        if instance is not None:
            del self.fields["lifecycle_stage"]
        self.order_fields(["name", "lifecycle_stage", *ACCOUNT_MODEL_FIELDS[1:], "parent", "owner", "team", "tags"])
        self.add_attribute_fields(attribute_definitions("account"), instance.attributes if instance else {})
        self._add_address_blocks(list(instance.addresses.all()) if instance else [])

    # Address blocks: `addresses-<i>-<field>`; existing addresses plus one empty block.
    def _add_address_blocks(self, existing: list[Address]) -> None:
        count = len(existing) + 1
        if self.is_bound:
            indexes = [int(m.group(1)) for k in self.data for m in [re.match(r"addresses-(\d+)-line1$", k)] if m]
            count = min(max(indexes, default=-1) + 1, 20) or 1
        address_fields = forms.fields_for_model(Address, fields=ADDRESS_FIELDS)
        self.address_count = count
        for index in range(count):
            for name in ADDRESS_FIELDS:
                field = copy.deepcopy(address_fields[name])
                field.required = False
                self.fields[f"addresses-{index}-{name}"] = field
            if index < len(existing):
                for name in ADDRESS_FIELDS:
                    self.initial[f"addresses-{index}-{name}"] = getattr(existing[index], name)

    def address_blocks(self) -> list[list[forms.BoundField]]:
        return [[self[f"addresses-{i}-{name}"] for name in ADDRESS_FIELDS] for i in range(self.address_count)]

    def address_values(self) -> tuple[list[dict[str, Any]], list[int]]:
        """Non-empty address blocks, and for each the block index it came from."""
        values: list[dict[str, Any]] = []
        origin: list[int] = []
        for index in range(self.address_count):
            data = {name: self.cleaned_data.get(f"addresses-{index}-{name}") or "" for name in ADDRESS_FIELDS}
            if not any(v for k, v in data.items() if k != "kind"):
                continue
            data["kind"] = data["kind"] or Address.Kind.OFFICE
            values.append(data)
            origin.append(index)
        return values, origin

    def clean_parent(self) -> Account | None:
        raw = self.cleaned_data.get("parent", "")
        if not str(raw).strip():
            return None
        pk = parse_party_id(raw)
        parent = self.visible_accounts.filter(pk=pk).first() if pk is not None else None
        if parent is None:
            raise ValidationError(_("No account with this number that you can see."))
        return parent

    def service_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in ACCOUNT_MODEL_FIELDS}
        for name in ("market_segment", "grade", "source"):
            data[name] = data[name] or ""
        data["parent"] = self.cleaned_data.get("parent")
        data["owner"] = self.cleaned_data.get("owner")
        data["team"] = self.cleaned_data.get("team")
        return data

    def resolve_error(self, key: str, origin: list[int]) -> tuple[str | None, str]:
        match = re.match(r"addresses\.(\d+)\.(\w+)$", key)
        if match:
            index = int(match.group(1))
            block = origin[index] if index < len(origin) else 0
            return f"addresses-{block}-{match.group(2)}", ""
        return _resolve_common(key)


# ---------------------------------------------------------------------------------------------
# Person form

PERSON_MODEL_FIELDS = [
    "family_name",
    "given_name",
    "birthday",
    "preferred_language",
    "preferred_channel",
    "preferences",
    "buying_motives",
    "source",
    "notes",
]


class PersonForm(AttributesMixin, forms.Form):
    emails = forms.CharField(
        label=_("E-mail addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line; the first is the primary address."),
    )
    phones = forms.CharField(
        label=_("Phone numbers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line; numbers without +country code are read as Chinese numbers."),
    )
    lifecycle_stage = forms.ChoiceField(label=_("Lifecycle stage"), choices=LifecycleStage.choices)
    owner = OwnerChoiceField(
        label=_("Owner"), queryset=User.objects.none(), required=False, empty_label=_("— Shared pool —")
    )
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separate tags with commas."))

    def __init__(self, *args: Any, actor: User, instance: Person | None = None, **kwargs: Any) -> None:
        self.instance = instance
        initial = dict(kwargs.pop("initial", None) or {})
        if instance is not None:
            initial.update({name: getattr(instance, name) for name in PERSON_MODEL_FIELDS})
            initial["owner"] = instance.owner_id
            initial["tags"] = _tags_text(instance.tags.all())
            initial["emails"] = "\n".join(e.address for e in instance.emails.all())
            initial["phones"] = "\n".join(p.number for p in instance.phones.all())
        else:
            initial.setdefault("owner", actor.pk)
            initial.setdefault("lifecycle_stage", LifecycleStage.PROSPECT)
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        model_fields = forms.fields_for_model(Person, fields=PERSON_MODEL_FIELDS)
        for name in PERSON_MODEL_FIELDS:
            self.fields[name] = model_fields[name]
        self.fields["birthday"].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        for name in ("preferences", "buying_motives", "notes"):
            self.fields[name].widget.attrs["rows"] = 3
        owners = assignable_users(actor)
        if instance is not None and instance.owner_id:
            owners = User.objects.filter(Q(pk__in=owners.values("pk")) | Q(pk=instance.owner_id)).order_by(
                "first_name", "last_name", "username"
            )
        cast(OwnerChoiceField, self.fields["owner"]).queryset = owners
        if instance is not None:
            del self.fields["lifecycle_stage"]
        self.order_fields(
            [
                "family_name",
                "given_name",
                "emails",
                "phones",
                "lifecycle_stage",
                "birthday",
                "preferred_language",
                "preferred_channel",
                "preferences",
                "buying_motives",
                "source",
                "owner",
                "tags",
                "notes",
            ]
        )
        self.add_attribute_fields(attribute_definitions("person"), instance.attributes if instance else {})

    def service_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in PERSON_MODEL_FIELDS}
        for name in ("preferred_language", "preferred_channel", "source"):
            data[name] = data[name] or ""
        data["owner"] = self.cleaned_data.get("owner")
        return data

    def email_list(self) -> list[str]:
        return _lines(self.cleaned_data.get("emails", ""))

    def phone_list(self) -> list[str]:
        return [line.strip() for line in re.split(r"[\n;；]", self.cleaned_data.get("phones", "")) if line.strip()]

    def resolve_error(self, key: str) -> tuple[str | None, str]:
        match = re.match(r"(emails|phones)\.(\d+)$", key)
        if match:
            return match.group(1), str(_("Line %(number)s: ") % {"number": int(match.group(2)) + 1})
        if key == "full_name":
            return "family_name", ""
        return _resolve_common(key)


# ---------------------------------------------------------------------------------------------
# Record page forms


class StageForm(forms.Form):
    stage = forms.ChoiceField(label=_("Lifecycle stage"), choices=LifecycleStage.choices)
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "stage_%s")  # several forms share a record page: keep ids unique
        super().__init__(*args, **kwargs)


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


# ---------------------------------------------------------------------------------------------
# Lists: filters and bulk actions


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


# ---------------------------------------------------------------------------------------------
# Settings


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
