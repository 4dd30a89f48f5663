"""What the form modules and the views share: the users offered as owners, custom attribute
fields, record numbers typed into lookup fields, and service errors put back onto fields.

Forms only parse and show input: every write goes through `customers.services`, whose
ValidationError keys (`emails.1`, `attributes.shoe_size`, `addresses.0.line1`) are mapped back
onto the form fields with `add_service_errors`.
"""

import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from guanxi.core.models import AttributeDefinition, AttributeType
from guanxi.staff import access
from guanxi.staff.models import User

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
