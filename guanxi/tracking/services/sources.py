"""Sources and their write keys: created and revoked by admins, the key shown once."""

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.history import diff, record_change, snapshot
from guanxi.core.models import ChangeAction
from guanxi.staff import access
from guanxi.staff.models import User
from guanxi.tracking.models import IdentifierType, Source

KEY_PREFIX_LENGTH = 8
SOURCE_FIELDS = ("name", "require_consent_for_joining", "traits_overwrite_manual_edits", "identifier_limits")


def hash_write_key(key: str) -> str:
    """Keys are random and long, so one fast hash suffices (no salt or slow hash needed)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _require_admin(actor: User) -> None:
    if not access.can_manage_settings(actor):
        raise PermissionDenied(_("Only an admin may manage tracking sources."))


def _clean(data: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    if "name" in data:
        name = str(data["name"] or "").strip()
        if not name:
            errors["name"] = [_("Enter a name.")]
        clean["name"] = name[:100]
    for flag in ("require_consent_for_joining", "traits_overwrite_manual_edits"):
        if flag in data:
            clean[flag] = bool(data[flag])
    if "identifier_limits" in data:
        limits = data["identifier_limits"]
        if not isinstance(limits, Mapping) or any(
            key not in IdentifierType.values or not isinstance(value, int) or isinstance(value, bool) or value < 1
            for key, value in limits.items()
        ):
            errors["identifier_limits"] = [_("Give a whole number of at least 1 per identifier type.")]
        else:
            clean["identifier_limits"] = dict(limits)
    if errors:
        raise ValidationError(errors)
    return clean


@transaction.atomic
def create_source(actor: User, data: Mapping[str, Any]) -> tuple[Source, str]:
    """A new source and its write key; the key is returned once and never stored in clear."""
    _require_admin(actor)
    clean = _clean({"name": "", **data})
    key = secrets.token_urlsafe(24)
    source = Source(
        write_key_hash=hash_write_key(key),
        write_key_prefix=key[:KEY_PREFIX_LENGTH],
        created_by=actor if actor.pk else None,
        **clean,
    )
    source.save()
    record_change(source, actor=actor, action=ChangeAction.CREATE, changes=diff({}, snapshot(source, SOURCE_FIELDS)))
    return source, key


@transaction.atomic
def update_source(actor: User, source: Source, data: Mapping[str, Any]) -> Source:
    _require_admin(actor)
    source = Source.objects.select_for_update().get(pk=source.pk)
    before = snapshot(source, SOURCE_FIELDS)
    for field, value in _clean(data).items():
        setattr(source, field, value)
    source.save()
    record_change(
        source, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, snapshot(source, SOURCE_FIELDS))
    )
    return source


@transaction.atomic
def revoke_source(actor: User, source: Source) -> Source:
    """Refuse the source's key from now on; landed events stay."""
    _require_admin(actor)
    source = Source.objects.select_for_update().get(pk=source.pk)
    if source.revoked_at is None:
        source.revoked_at = timezone.now()
        source.revoked_by = actor if actor.pk else None
        source.save(update_fields=["revoked_at", "revoked_by"])
        record_change(source, actor=actor, action=ChangeAction.UPDATE, changes={"revoked": [False, True]})
    return source


def authenticate_write_key(key: str) -> Source | None:
    """The active source a key belongs to, or None (unknown or revoked)."""
    if not key or len(key) > 200:
        return None
    return Source.objects.filter(write_key_hash=hash_write_key(key), revoked_at__isnull=True).first()
