"""The customer record's own entries on its timeline: field changes, lifecycle moves, consent.

Registered from `CustomersConfig.ready` like every other app's source, so the page treats its
own history no differently from orders or sessions. Each kind is one indexed query per page.
A lifecycle move and a consent decision are also written to the field history; the history
kind leaves those out so the timeline does not show the same change twice.
"""

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core.models import ChangeRecord
from guanxi.core.timeline import Batch, Entry, Window, register_source
from guanxi.customers.models import Account, Channel, ConsentPurpose, LifecycleStage, Person

HISTORY_KINDS = (
    ("history", gettext_lazy("Changes")),
    ("lifecycle", gettext_lazy("Lifecycle stage")),
)
CONSENT_KINDS = (("consent", gettext_lazy("Consent")),)


def _covered_elsewhere(key: str) -> bool:
    return key in ("lifecycle_stage", "lost_reason") or key.startswith("consent.")


def _empty(value: Any) -> bool:
    return value is None or value is False or value in ("", [], {})


def _changed(pair: Any) -> bool:
    """A creation lists every field, most of them empty: only those given a value are news."""
    old, new = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
    return not (_empty(old) and _empty(new))


def _field_label(model: type[Account | Person], key: str) -> str:
    name = key.split(".", 1)[0]
    extra = {
        "emails": _("E-mail addresses"),
        "phones": _("Phone numbers"),
        "roles": _("Roles"),
        "relationships": _("Relationships"),
        "tags": _("Tags"),
        "attributes": _("Custom attributes"),
    }
    if name in extra:
        return extra[name]
    try:
        return str(model._meta.get_field(name).verbose_name)  # type: ignore[union-attr]  # reverse relations have none: caught below
    except Exception:
        return name


def _history(record: Account | Person, window: Window) -> Batch:
    rows = list(
        window.bound(
            ChangeRecord.objects.filter(
                content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
            ).select_related("actor"),
            "at",
        )[: window.fetch]
    )
    entries = []
    for row in rows:
        keys = sorted(k for k, pair in row.changes.items() if _changed(pair))
        if row.changes and all(_covered_elsewhere(k) for k in keys):
            continue
        labels = sorted({_field_label(type(record), k) for k in keys if not _covered_elsewhere(k)})
        entries.append(
            Entry(
                at=row.at,
                kind="history",
                key=f"history:{row.pk}",
                title=str(row.get_action_display()),
                detail=", ".join(labels[:8])
                + ("…" if len(labels) > 8 else "")
                + (f" · {row.note}" if row.note else ""),
                who=str(row.actor) if row.actor else _("System"),
            )
        )
    return Batch.of(entries, window, rows_read=len(rows))


def _lifecycle(record: Account | Person, window: Window) -> Batch:
    rows = list(window.bound(record.lifecycle_changes.select_related("changed_by"), "changed_at")[: window.fetch])
    labels = dict(LifecycleStage.choices)
    entries = [
        Entry(
            at=row.changed_at,
            kind="lifecycle",
            key=f"lifecycle:{row.pk}",
            title=_("Lifecycle stage: %(old)s → %(new)s")
            % {"old": labels.get(row.from_stage, "—") if row.from_stage else "—", "new": labels.get(row.to_stage)},
            detail=row.reason,
            who=str(row.changed_by) if row.changed_by else _("System"),
        )
        for row in rows
    ]
    return Batch.of(entries, window)


def _consent(person: Person, window: Window) -> Batch:
    rows = list(window.bound(person.consents.select_related("recorded_by"), "recorded_at")[: window.fetch])
    purposes, channels = dict(ConsentPurpose.choices), dict(Channel.choices)
    entries = [
        Entry(
            at=row.recorded_at,
            kind="consent",
            key=f"consent:{row.pk}",
            title=(
                _("Consent granted: %(purpose)s / %(channel)s")
                if row.granted
                else _("Consent withdrawn: %(purpose)s / %(channel)s")
            )
            % {"purpose": purposes.get(row.purpose, row.purpose), "channel": channels.get(row.channel, row.channel)},
            detail=row.source,
            who=str(row.recorded_by) if row.recorded_by else _("The customer"),
            tone="" if row.granted else "warn",
        )
        for row in rows
    ]
    return Batch.of(entries, window)


def history_source(request: HttpRequest, record: object, window: Window) -> Batch:
    """The record's own changes; the page has already checked the record is visible."""
    if not isinstance(record, Account | Person):
        return Batch([], False)
    batches = []
    if window.wants("history"):
        batches.append(_history(record, window))
    if window.wants("lifecycle"):
        batches.append(_lifecycle(record, window))
    return _join(batches)


def consent_source(request: HttpRequest, record: object, window: Window) -> Batch:
    if not isinstance(record, Person) or not window.wants("consent"):
        return Batch([], False)
    return _consent(record, window)


def _join(batches: list[Batch]) -> Batch:
    entries: list[Any] = [e for b in batches for e in b.entries]
    return Batch(entries=entries, more=any(b.more for b in batches))


def register() -> None:
    for record_type in ("customers.person", "customers.account"):
        register_source(record_type, "customers.history", history_source, kinds=HISTORY_KINDS)
    register_source("customers.person", "customers.consent", consent_source, kinds=CONSENT_KINDS)
