"""Input fields of the customer API: contact entries, related ids the user may see, tag names.

A client sends e-mail addresses and phone numbers as plain strings or as objects with a kind
and a primary flag, and may only point at records (accounts, people, teams) it can see; these
fields check the shape of that input before `services` checks the domain rules.
"""

from collections.abc import Iterable
from typing import Any, ClassVar

from django.db.models import Model, Q, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from guanxi.core.api import UNKNOWN_FIELD
from guanxi.customers import queries
from guanxi.customers.api.common import actor_of
from guanxi.customers.models import Account, EmailAddress, Person, PhoneNumber
from guanxi.staff import access
from guanxi.staff.models import Team, User


class _ContactInputField(serializers.Field):  # type: ignore[type-arg]  # a str-or-object field
    """One e-mail address or phone number: a plain string, or an object with kind and primary flag."""

    value_key: ClassVar[str]
    kinds: ClassVar[Iterable[str]]

    def to_internal_value(self, data: Any) -> str | dict[str, Any]:
        if isinstance(data, str):
            return data
        if not isinstance(data, dict):
            raise serializers.ValidationError(f"Enter a string or an object with `{self.value_key}`.")
        errors: dict[str, list[str]] = {
            key: [UNKNOWN_FIELD] for key in data if key not in (self.value_key, "kind", "is_primary")
        }
        value = data.get(self.value_key)
        if not isinstance(value, str):
            errors[self.value_key] = ["This field is required and must be a string."]
        kind = data.get("kind", "")
        if kind not in ("", *self.kinds):
            errors["kind"] = [f"Choose one of: {', '.join(self.kinds)}."]
        is_primary = data.get("is_primary", False)
        if not isinstance(is_primary, bool):
            errors["is_primary"] = ["Must be true or false."]
        if errors:
            raise serializers.ValidationError(errors)
        return {self.value_key: value, "kind": kind, "is_primary": is_primary}

    def to_representation(self, value: Any) -> Any:
        return value


def _contact_schema(value_key: str, kinds: list[str]) -> dict[str, Any]:
    return {
        "oneOf": [
            {"type": "string"},
            {
                "type": "object",
                "properties": {
                    value_key: {"type": "string"},
                    "kind": {"type": "string", "enum": kinds},
                    "is_primary": {"type": "boolean"},
                },
                "required": [value_key],
                "additionalProperties": False,
            },
        ]
    }


@extend_schema_field(_contact_schema("address", list(EmailAddress.Kind.values)))
class EmailInputField(_ContactInputField):
    value_key = "address"
    kinds = tuple(EmailAddress.Kind.values)


@extend_schema_field(_contact_schema("number", list(PhoneNumber.Kind.values)))
class PhoneInputField(_ContactInputField):
    value_key = "number"
    kinds = tuple(PhoneNumber.Kind.values)


class TagNamesField(serializers.ListField):
    """Tags shown by name; reads the (prefetched) related manager."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(), **kwargs)

    def to_representation(self, data: Any) -> list[Any]:
        return [tag.name for tag in data.all()]


class _VisibleRelatedField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A related id the requesting user may see; the input's current value always stays valid."""

    def visible(self, user: User) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        user = actor_of(self.context["request"])
        queryset = self.visible(user)
        instance = getattr(self.parent, "instance", None)
        current = getattr(instance, f"{self.field_name}_id", None) if isinstance(instance, Model) else None
        if current is not None:
            queryset = queryset.model.objects.filter(Q(pk__in=queryset.values("pk")) | Q(pk=current))
        return queryset


class VisibleAccountField(_VisibleRelatedField):
    def visible(self, user: User) -> QuerySet[Account]:
        return queries.visible_accounts(user)


class VisiblePersonField(_VisibleRelatedField):
    def visible(self, user: User) -> QuerySet[Person]:
        return queries.visible_people(user)


class VisibleTeamField(_VisibleRelatedField):
    """Admins pick any team; others the teams they manage or belong to."""

    def visible(self, user: User) -> QuerySet[Team]:
        if user.is_admin:
            return Team.objects.all()
        return Team.objects.filter(Q(pk__in=access.managed_team_ids(user)) | Q(pk=user.team_id))


def optional_text(max_length: int) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True)
