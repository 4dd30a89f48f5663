"""Validation of custom attribute values against their admin-managed definitions."""

import datetime
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from guanxi.core.models import AttributeDefinition, AttributeType

MAX_TEXT_LENGTH = 1000


def definitions_for(target: str) -> dict[str, AttributeDefinition]:
    return {d.key: d for d in AttributeDefinition.objects.filter(target=target)}


def _coerce(definition: AttributeDefinition, value: Any) -> Any:
    if definition.data_type == AttributeType.TEXT:
        text = str(value).strip()
        if len(text) > MAX_TEXT_LENGTH:
            raise ValueError(_("At most %(count)d characters.") % {"count": MAX_TEXT_LENGTH})
        return text
    if definition.data_type == AttributeType.NUMBER:
        if isinstance(value, bool):
            raise ValueError(_("Enter a number."))
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(_("Enter a number.")) from exc
        if not number.is_finite():
            raise ValueError(_("Enter a number."))
        return int(number) if number == number.to_integral_value() else float(number)
    if definition.data_type == AttributeType.DATE:
        if isinstance(value, datetime.date):
            return value.isoformat()
        try:
            return datetime.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError as exc:
            raise ValueError(_("Enter a date as YYYY-MM-DD.")) from exc
    if definition.data_type == AttributeType.CHOICE:
        text = str(value).strip()
        if text not in definition.choices:
            raise ValueError(
                _("%(value)s is not one of the choices: %(choices)s.")
                % {"value": text, "choices": ", ".join(map(str, definition.choices))}
            )
        return text
    raise ValueError(f"unknown attribute type {definition.data_type}")


def clean_attributes(
    target: str,
    values: Mapping[str, Any],
    *,
    current: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge `values` into `current`, typed by definition; `None` or "" removes a value.

    Raises one ValidationError naming every bad key as `attributes.<key>`.
    """
    definitions = definitions_for(target)
    result: dict[str, Any] = dict(current or {})
    errors: dict[str, list[str]] = {}
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            errors[f"attributes.{key}"] = [_("Unknown custom attribute.")]
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            result.pop(key, None)
            continue
        try:
            result[key] = _coerce(definition, value)
        except ValueError as exc:
            errors[f"attributes.{key}"] = [str(exc)]
    for key, definition in definitions.items():
        if definition.required and key not in result and f"attributes.{key}" not in errors:
            errors[f"attributes.{key}"] = [_("This attribute is required.")]
    if errors:
        raise ValidationError(errors)
    return result
