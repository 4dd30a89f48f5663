"""Field-level history: a diff of two snapshots becomes one ChangeRecord.

Services take a snapshot before they write and call `record_change` after, inside the same
transaction, so history and data can never disagree.
"""

import datetime
import decimal
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from guanxi.core.models import ChangeAction, ChangeRecord

Snapshot = dict[str, Any]


def _plain(value: Any) -> Any:
    """Turn a field value into JSON that reads well on the history page."""
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def snapshot(instance: models.Model, fields: Iterable[str], extra: Mapping[str, Any] | None = None) -> Snapshot:
    """Readable values of `fields` (foreign keys by their label) plus any derived extras."""
    data: Snapshot = {}
    for name in fields:
        field = instance._meta.get_field(name)
        if isinstance(field, models.ForeignKey):
            related = getattr(instance, name)
            data[name] = str(related) if related is not None else None
        elif getattr(field, "choices", None):
            data[name] = getattr(instance, name)
        else:
            data[name] = _plain(getattr(instance, name))
    if extra:
        data.update({key: _plain(value) for key, value in extra.items()})
    return data


def diff(before: Snapshot, after: Snapshot) -> dict[str, list[Any]]:
    """Each changed key as `[old, new]`; nested `attributes` are flattened to `attributes.key`."""
    changes: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) or isinstance(new, dict):
            old_map, new_map = old or {}, new or {}
            for sub in sorted(set(old_map) | set(new_map)):
                if old_map.get(sub) != new_map.get(sub):
                    changes[f"{key}.{sub}"] = [old_map.get(sub), new_map.get(sub)]
        elif old != new:
            changes[key] = [old, new]
    return changes


def record_change(
    instance: models.Model,
    *,
    actor: Any,
    action: str,
    changes: dict[str, list[Any]],
    note: str = "",
) -> ChangeRecord | None:
    """Store one history entry; an update that changed nothing leaves no entry."""
    if action == ChangeAction.UPDATE and not changes:
        return None
    return ChangeRecord.objects.create(
        content_type=ContentType.objects.get_for_model(instance),
        object_id=instance.pk,
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        changes=changes,
        note=note[:255],
    )


def bulk_record_changes(
    model: type[models.Model],
    entries: Iterable[tuple[int, dict[str, list[Any]]]],
    *,
    actor: Any,
    note: str = "",
) -> int:
    """History for a bulk action in one INSERT per batch instead of one per record."""
    content_type = ContentType.objects.get_for_model(model)
    actor_or_none = actor if getattr(actor, "pk", None) else None
    rows = [
        ChangeRecord(
            content_type=content_type,
            object_id=object_id,
            action=ChangeAction.UPDATE,
            actor=actor_or_none,
            changes=changes,
            note=note[:255],
        )
        for object_id, changes in entries
        if changes
    ]
    ChangeRecord.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def history_for(instance: models.Model) -> models.QuerySet[ChangeRecord]:
    return ChangeRecord.objects.filter(
        content_type=ContentType.objects.get_for_model(instance), object_id=instance.pk
    ).select_related("actor")
