"""Tracking plans: the events a source should send, checked as each batch is processed.

A plan is a list of entries, as JSON (what the source page edits, imports and exports):

    {"events": [{"type": "track", "name": "Product Viewed", "description": "…",
                 "properties": [{"name": "sku", "type": "string", "required": true}, …]}, …]}

`type` is track, page, screen, identify or group; a track entry needs a `name`, the others may
leave it empty to mean every page (screen, identify…) of the source. Properties are read from
`properties` (from `traits` for identify and group) and typed string, number, integer, boolean,
object or array; a null value counts as missing.

The check is cheap and never stops an event: a track event no entry names is an unexpected
event; page, screen, identify and group calls are checked only when the plan has an entry for
their type; a planned event reports each missing required property, each value of the wrong
type and each property the entry does not list. A source without a plan (or with an empty one)
is not checked. What the check finds is counted per (kind, event, property) with the newest few
examples, and every (type, name) seen is counted, in one read and one write per batch: a row
per kind of problem, never a row per event.
"""

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from guanxi.core.history import record_change
from guanxi.core.models import ChangeAction
from guanxi.staff import access
from guanxi.staff.models import User
from guanxi.tracking.models import (
    MAX_VIOLATION_EXAMPLES,
    EventType,
    PlanViolation,
    PropertyType,
    SeenEvent,
    Source,
    TrackingPlan,
    ViolationKind,
)

PLAN_TYPES = ("track", "page", "screen", "identify", "group")
MAX_PLAN_EVENTS = 500
MAX_PLAN_PROPERTIES = 200
TRAIT_TYPES = frozenset({"identify", "group"})


# ---------------------------------------------------------------------------------------------
# Editing


def _require_admin(actor: User) -> None:
    if not access.can_manage_settings(actor):
        raise PermissionDenied(_("Only an admin may manage tracking sources."))


def clean_plan(data: Any) -> list[dict[str, Any]]:
    """The plan's entries in a normal form, or a ValidationError on `events` naming each problem."""
    if isinstance(data, Mapping):
        data = data.get("events")
    if not isinstance(data, list):
        raise ValidationError({"events": [_("A tracking plan is a JSON object with a list of events.")]})
    if len(data) > MAX_PLAN_EVENTS:
        raise ValidationError({"events": [_("A plan holds at most %(n)s events.") % {"n": MAX_PLAN_EVENTS}]})
    errors: list[str] = []
    clean: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for number, entry in enumerate(data, start=1):
        if not isinstance(entry, Mapping):
            errors.append(_("Event %(n)s: must be a JSON object.") % {"n": number})
            continue
        kind = entry.get("type", "track")
        name = entry.get("name", "")
        if kind not in PLAN_TYPES:
            errors.append(
                _("Event %(n)s: type must be one of %(types)s.") % {"n": number, "types": ", ".join(PLAN_TYPES)}
            )
            continue
        if not isinstance(name, str) or len(name) > 200 or (kind == "track" and not name.strip()):
            errors.append(_("Event %(n)s: a track event needs a name of at most 200 characters.") % {"n": number})
            continue
        name = name.strip()
        if (kind, name) in seen:
            errors.append(_("Event %(n)s: “%(name)s” is listed twice.") % {"n": number, "name": name})
            continue
        seen.add((kind, name))
        raw_properties = entry.get("properties", [])
        if isinstance(raw_properties, Mapping):  # {"sku": {"type": "string", "required": true}} too
            raw_properties = [
                {"name": key, **value} if isinstance(value, Mapping) else {"name": key, "type": value}
                for key, value in raw_properties.items()
            ]
        if not isinstance(raw_properties, list) or len(raw_properties) > MAX_PLAN_PROPERTIES:
            errors.append(
                _("Event %(n)s: properties must be a list of at most %(max)s.")
                % {"n": number, "max": MAX_PLAN_PROPERTIES}
            )
            continue
        properties: list[dict[str, Any]] = []
        names: set[str] = set()
        for prop in raw_properties:
            prop_name = prop.get("name") if isinstance(prop, Mapping) else None
            prop_type = prop.get("type") if isinstance(prop, Mapping) else None
            if not isinstance(prop_name, str) or not prop_name.strip() or len(prop_name) > 200 or prop_name in names:
                errors.append(_("Event %(n)s: each property needs a distinct name.") % {"n": number})
                break
            if prop_type not in PropertyType.values:
                errors.append(
                    _("Event %(n)s, property “%(name)s”: type must be one of %(types)s.")
                    % {"n": number, "name": prop_name, "types": ", ".join(PropertyType.values)}
                )
                break
            names.add(prop_name)
            properties.append({"name": prop_name.strip(), "type": prop_type, "required": bool(prop.get("required"))})
        description = entry.get("description", "")
        clean.append(
            {
                "type": kind,
                "name": name,
                "description": description[:500] if isinstance(description, str) else "",
                "properties": properties,
            }
        )
    if errors:
        raise ValidationError({"events": errors})
    return clean


@transaction.atomic
def save_tracking_plan(actor: User, source: Source, data: Any) -> TrackingPlan:
    """Replace a source's plan (edited on its page, imported as JSON or sent to the API)."""
    _require_admin(actor)
    events = clean_plan(data)
    source = Source.objects.select_for_update().get(pk=source.pk)
    plan, created = TrackingPlan.objects.get_or_create(source=source)
    before = plan.events
    plan.events = events
    plan.updated_by = actor if actor.pk else None
    plan.save()
    if created or before != events:
        record_change(
            plan,
            actor=actor,
            action=ChangeAction.CREATE if created else ChangeAction.UPDATE,
            changes={"events": [before, events]},
        )
    return plan


def export_tracking_plan(source: Source) -> dict[str, Any]:
    """The plan as its JSON file: what `save_tracking_plan` takes back."""
    plan = TrackingPlan.objects.filter(source=source).first()
    return {"source": source.name, "events": plan.events if plan else []}


@transaction.atomic
def clear_plan_report(actor: User, source: Source) -> int:
    """Forget the counted violations (after fixing the sender, to see what still goes wrong)."""
    _require_admin(actor)
    deleted, _by_model = PlanViolation.objects.filter(source=source).delete()
    if deleted:
        record_change(source, actor=actor, action=ChangeAction.UPDATE, changes={"plan_violations": [deleted, 0]})
    return deleted


# ---------------------------------------------------------------------------------------------
# Checking, a batch at a time

Compiled = dict[tuple[str, str], dict[str, tuple[str, bool]]]


def compile_plan(events: Iterable[Mapping[str, Any]]) -> Compiled:
    return {
        (entry["type"], entry["name"]): {p["name"]: (p["type"], bool(p["required"])) for p in entry["properties"]}
        for entry in events
    }


def value_type(value: Any) -> str:
    """The plan type a JSON value has (integer for whole numbers, as JSON does not tell 3 from 3.0)."""
    if isinstance(value, bool):
        return PropertyType.BOOLEAN.value
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return PropertyType.INTEGER.value
    if isinstance(value, float):
        return PropertyType.NUMBER.value
    if isinstance(value, str):
        return PropertyType.STRING.value
    if isinstance(value, dict):
        return PropertyType.OBJECT.value
    return PropertyType.ARRAY.value if isinstance(value, list) else "null"


def _matches(expected: str, actual: str) -> bool:
    return expected == actual or (expected == PropertyType.NUMBER.value and actual == PropertyType.INTEGER.value)


@dataclass
class _Counter:
    first: datetime.datetime
    last: datetime.datetime
    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, at: datetime.datetime, example: dict[str, Any] | None = None) -> None:
        self.count += 1
        self.first, self.last = min(self.first, at), max(self.last, at)
        if example is not None:
            self.examples.append(example)
            del self.examples[:-MAX_VIOLATION_EXAMPLES]


class PlanChecker:
    """Counts a batch's events per (type, name) and checks them against their sources' plans."""

    def __init__(self, source_ids: Iterable[int]) -> None:
        self.plans: dict[int, Compiled] = {
            source_id: compile_plan(events)
            for source_id, events in TrackingPlan.objects.filter(source_id__in=set(source_ids)).values_list(
                "source_id", "events"
            )
            if events
        }
        self.seen: dict[tuple[int, str, str], _Counter] = {}
        self.violations: dict[tuple[int, str, str, str, str], _Counter] = {}

    def _violation(
        self, key: tuple[int, str, str, str, str], at: datetime.datetime, event_id: int, message_id: str, detail: str
    ) -> None:
        counter = self.violations.get(key)
        if counter is None:
            counter = self.violations[key] = _Counter(at, at)
        counter.add(at, {"event_id": event_id, "message_id": message_id, "detail": detail[:200]})

    def check(
        self,
        source_id: int,
        event_id: int,
        event_type: str,
        name: str,
        payload: Mapping[str, Any],
        at: datetime.datetime,
    ) -> None:
        seen_key = (source_id, event_type, name if event_type in ("track", "page", "screen") else "")
        counter = self.seen.get(seen_key)
        if counter is None:
            counter = self.seen[seen_key] = _Counter(at, at)
        counter.add(at)
        plan = self.plans.get(source_id)
        if plan is None or event_type == "alias":
            return
        entry = plan.get((event_type, name))
        if entry is None:
            entry = plan.get((event_type, ""))
        message_id = str(payload.get("messageId", ""))
        if entry is None:
            if event_type == "track":
                key = (source_id, ViolationKind.UNEXPECTED_EVENT.value, event_type, name, "")
                self._violation(key, at, event_id, message_id, name)
            return
        planned_name = name if (event_type, name) in plan else ""
        values = payload.get("traits" if event_type in TRAIT_TYPES else "properties")
        if not isinstance(values, dict):
            values = {}
        for prop, (expected, required) in entry.items():
            value = values.get(prop)
            if value is None:
                if required:
                    key = (source_id, ViolationKind.MISSING_REQUIRED.value, event_type, planned_name, prop)
                    self._violation(key, at, event_id, message_id, "")
                continue
            actual = value_type(value)
            if not _matches(expected, actual):
                key = (source_id, ViolationKind.WRONG_TYPE.value, event_type, planned_name, prop)
                self._violation(key, at, event_id, message_id, f"{expected} ≠ {actual}: {str(value)[:80]}")
        for prop in values:
            if prop not in entry:
                key = (source_id, ViolationKind.UNEXPECTED_PROPERTY.value, event_type, planned_name, prop[:200])
                self._violation(key, at, event_id, message_id, "")

    def flush(self) -> None:
        """Add the batch's counts to the stored ones: one read and a bulk write per table."""
        self._flush_seen()
        self._flush_violations()

    def _flush_seen(self) -> None:
        if not self.seen:
            return
        existing = {
            (row.source_id, row.type, row.name): row
            for row in SeenEvent.objects.filter(source_id__in={key[0] for key in self.seen})
        }
        new: list[SeenEvent] = []
        changed: list[SeenEvent] = []
        for (source_id, kind, name), counter in self.seen.items():
            row = existing.get((source_id, kind, name))
            if row is None:
                new.append(
                    SeenEvent(
                        source_id=source_id,
                        type=kind,
                        name=name[:200],
                        count=counter.count,
                        first_seen=counter.first,
                        last_seen=counter.last,
                    )
                )
                continue
            row.count += counter.count
            row.first_seen = min(row.first_seen, counter.first)
            row.last_seen = max(row.last_seen, counter.last)
            changed.append(row)
        SeenEvent.objects.bulk_create(new, batch_size=500)
        SeenEvent.objects.bulk_update(changed, ["count", "first_seen", "last_seen"], batch_size=500)
        self.seen.clear()

    def _flush_violations(self) -> None:
        if not self.violations:
            return
        existing = {
            (row.source_id, row.kind, row.type, row.event, row.property): row
            for row in PlanViolation.objects.filter(source_id__in={key[0] for key in self.violations})
        }
        new: list[PlanViolation] = []
        changed: list[PlanViolation] = []
        for key, counter in self.violations.items():
            row = existing.get(key)
            if row is None:
                source_id, kind, event_type, event, prop = key
                new.append(
                    PlanViolation(
                        source_id=source_id,
                        kind=kind,
                        type=event_type,
                        event=event[:200],
                        property=prop,
                        count=counter.count,
                        examples=counter.examples,
                        first_seen=counter.first,
                        last_seen=counter.last,
                    )
                )
                continue
            row.count += counter.count
            row.examples = [*row.examples, *counter.examples][-MAX_VIOLATION_EXAMPLES:]
            row.first_seen = min(row.first_seen, counter.first)
            row.last_seen = max(row.last_seen, counter.last)
            changed.append(row)
        PlanViolation.objects.bulk_create(new, batch_size=500)
        PlanViolation.objects.bulk_update(changed, ["count", "examples", "first_seen", "last_seen"], batch_size=500)
        self.violations.clear()


# ---------------------------------------------------------------------------------------------
# The report on the source's page


@dataclass(frozen=True)
class PlanReport:
    planned: list[dict[str, Any]]
    never_seen: list[dict[str, Any]]
    unexpected: list[PlanViolation]
    violations: list[PlanViolation]
    seen: list[SeenEvent]


def plan_report(source: Source) -> PlanReport:
    plan = TrackingPlan.objects.filter(source=source).first()
    planned = plan.events if plan else []
    seen = list(SeenEvent.objects.filter(source=source).order_by("-count", "type", "name")[:200])
    seen_keys = {(row.type, row.name) for row in seen}
    seen_types = {row.type for row in seen}
    never_seen = [
        entry
        for entry in planned
        if ((entry["type"], entry["name"]) not in seen_keys if entry["name"] else entry["type"] not in seen_types)
    ]
    rows = list(PlanViolation.objects.filter(source=source).order_by("-count", "kind", "event", "property")[:300])
    return PlanReport(
        planned=planned,
        never_seen=never_seen,
        unexpected=[row for row in rows if row.kind == ViolationKind.UNEXPECTED_EVENT],
        violations=[row for row in rows if row.kind != ViolationKind.UNEXPECTED_EVENT],
        seen=seen,
    )


__all__ = [
    "EventType",
    "PlanChecker",
    "PlanReport",
    "clean_plan",
    "clear_plan_report",
    "export_tracking_plan",
    "plan_report",
    "save_tracking_plan",
]
