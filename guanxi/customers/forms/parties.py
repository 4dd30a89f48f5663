"""The account and contact forms used to create and edit records: model fields, owner, tags,
custom attributes, an account's address blocks and a contact's e-mail and phone lines.

Each maps the service's error keys back onto its own fields (`resolve_error`).
"""

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import AttributeDefinition, Tag
from guanxi.customers.forms.common import assignable_users, attribute_definitions, attribute_field, parse_party_id
from guanxi.customers.models import Account, Address, LifecycleStage, Person
from guanxi.staff import access
from guanxi.staff.models import Team, User


class OwnerChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return str(obj)


def _resolve_common(key: str) -> tuple[str | None, str]:
    if key.startswith("attributes."):
        return "attr_" + key.split(".", 1)[1], ""
    return key, ""


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
    "reclaim_exempt",
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
    save_anyway = forms.BooleanField(
        label=_("Save anyway: it is not one of the likely duplicates listed"), required=False
    )

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
        if not access.can_lock(actor):
            del self.fields["reclaim_exempt"]
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
        data = {name: self.cleaned_data[name] for name in ACCOUNT_MODEL_FIELDS if name in self.fields}
        for name in ("market_segment", "grade", "source"):
            data[name] = data[name] or ""
        data["parent"] = self.cleaned_data.get("parent")
        data["owner"] = self.cleaned_data.get("owner")
        data["team"] = self.cleaned_data.get("team")
        return data

    IDENTITY_FIELDS = frozenset({"name", "website", "registration_number", "phone", "parent"})

    def duplicate_lookup(self) -> dict[str, Any] | None:
        """What to look for likely duplicates with, or None when there is nothing to check:
        "save anyway" is ticked, or an edit left the identifying fields as they were."""
        if self.cleaned_data.get("save_anyway"):
            return None
        if self.instance is not None and not self.IDENTITY_FIELDS & set(self.changed_data):
            return None
        data = {name: self.cleaned_data.get(name) for name in ("name", "website", "registration_number", "phone")}
        data["parent"] = self.cleaned_data.get("parent")
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
    "grade",
    "birthday",
    "preferred_language",
    "preferred_channel",
    "preferences",
    "buying_motives",
    "source",
    "notes",
    "reclaim_exempt",
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
    save_anyway = forms.BooleanField(
        label=_("Save anyway: it is not one of the likely duplicates listed"), required=False
    )

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
                "grade",
                "birthday",
                "preferred_language",
                "preferred_channel",
                "preferences",
                "buying_motives",
                "source",
                "owner",
                "reclaim_exempt",
                "tags",
                "notes",
            ]
        )
        if not access.can_lock(actor):
            del self.fields["reclaim_exempt"]
        self.add_attribute_fields(attribute_definitions("person"), instance.attributes if instance else {})

    def service_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in PERSON_MODEL_FIELDS if name in self.fields}
        for name in ("grade", "preferred_language", "preferred_channel", "source"):
            data[name] = data[name] or ""
        data["owner"] = self.cleaned_data.get("owner")
        return data

    IDENTITY_FIELDS = frozenset({"family_name", "given_name", "emails", "phones"})

    def duplicate_lookup(self) -> dict[str, Any] | None:
        """What to look for likely duplicates with, or None when there is nothing to check:
        "save anyway" is ticked, or an edit left the name, e-mails and phones as they were."""
        if self.cleaned_data.get("save_anyway"):
            return None
        if self.instance is not None and not self.IDENTITY_FIELDS & set(self.changed_data):
            return None
        data: dict[str, Any] = {name: self.cleaned_data.get(name) or "" for name in ("family_name", "given_name")}
        data["emails"] = self.email_list()
        data["phones"] = self.phone_list()
        data["birthday"] = self.cleaned_data.get("birthday")
        if self.instance is not None:
            data["account_ids"] = list(self.instance.roles.values_list("account_id", flat=True))
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
