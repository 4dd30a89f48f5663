"""A person's web and app events on their timeline, grouped into sessions.

The events are found through the person's profiles' identifiers (anonymous ids and user ids),
so the anonymous history joined at identify shows as the person's once processing has joined
it. Events are grouped per person with `engine.sessions.session_numbers`, the same 30-minute
rule the processing job uses for stored sessions, so the two always agree. An account's
timeline shows its people's sessions.

A session is placed on the timeline at its start. One page reads the identifiers (one query),
the newest events up to the cursor (one query) and, below a cursor, the events just after it
(one query) so a session that began before the cursor and went on after it is shown whole.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from guanxi.core.timeline import Batch, Entry, Window, register_source
from guanxi.customers.models import Account, Person
from guanxi.engine.sessions import SESSION_GAP, session_numbers
from guanxi.staff.models import User
from guanxi.tracking import queries
from guanxi.tracking.models import EventType, Identifier, IdentifierType, LandedEvent

KINDS = (("session", gettext_lazy("Web and app sessions")),)

#: Events read per page: enough for a page of ordinary sessions; a longer run is cut and paged on.
MAX_EVENTS = 500
EVENT_FIELDS = ("id", "type", "event", "user_id", "anonymous_id", "timestamp", "payload", "source_id")


@dataclass(frozen=True)
class _Owner:
    person_id: int
    profile_id: int


def _identifiers(user: User, record: Account | Person) -> dict[tuple[str, str], _Owner]:
    profiles = queries.visible_profiles(user)
    if isinstance(record, Person):
        profiles = profiles.filter(person=record)
    else:
        profiles = profiles.filter(person__roles__account=record)
    rows = Identifier.objects.filter(
        type__in=(IdentifierType.ANONYMOUS_ID, IdentifierType.USER_ID), profile__in=profiles.values("pk")
    ).values_list("type", "value", "profile_id", "profile__person_id")
    return {(kind, value): _Owner(person_id, profile_id) for kind, value, profile_id, person_id in rows if person_id}


def _events(owners: dict[tuple[str, str], _Owner]) -> QuerySet[LandedEvent]:
    anonymous = sorted(v for k, v in owners if k == IdentifierType.ANONYMOUS_ID)
    users = sorted(v for k, v in owners if k == IdentifierType.USER_ID)
    return LandedEvent.objects.filter(Q(anonymous_id__in=anonymous) | Q(user_id__in=users)).only(*EVENT_FIELDS)


def _owner_of(event: LandedEvent, owners: dict[tuple[str, str], _Owner]) -> _Owner | None:
    return owners.get((IdentifierType.USER_ID, event.user_id)) or owners.get(
        (IdentifierType.ANONYMOUS_ID, event.anonymous_id)
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _page_of(payload: dict[str, Any]) -> tuple[str, str]:
    """(title, address) of the page an event happened on, from properties or the context."""
    properties = _mapping(payload.get("properties"))
    page = _mapping(_mapping(payload.get("context")).get("page"))
    title = _text(properties.get("title")) or _text(page.get("title")) or _text(payload.get("name"))
    address = _text(properties.get("path")) or _text(page.get("path")) or _text(properties.get("url"))
    return title, address


def event_entry(event: LandedEvent) -> Entry:
    title, address = _page_of(event.payload if isinstance(event.payload, dict) else {})
    if event.type == EventType.PAGE or event.type == EventType.SCREEN:
        heading = _("Viewed %(page)s") % {"page": title or address or _("a page")}
        detail = address if title else ""
    elif event.type == EventType.TRACK:
        heading = event.event or _("Event")
        detail = address
    elif event.type == EventType.IDENTIFY:
        heading = _("Identified as %(user)s") % {"user": event.user_id or event.anonymous_id}
        detail = ""
    else:
        heading = event.get_type_display()
        detail = event.event
    return Entry(at=event.timestamp, kind="event", key=f"event:{event.pk}", title=str(heading), detail=detail)


def _session_entry(events: list[LandedEvent], owner: _Owner, partial: bool) -> Entry:
    first, last = events[0], events[-1]
    minutes = max(0, int((last.timestamp - first.timestamp).total_seconds() // 60))
    views = sum(1 for e in events if e.type in (EventType.PAGE, EventType.SCREEN))
    title = ngettext("Session · %(count)d event", "Session · %(count)d events", len(events)) % {"count": len(events)}
    detail = _("%(views)d page views · %(minutes)d min") % {"views": views, "minutes": minutes}
    if partial:
        detail += " · " + _("continues in older entries")
    return Entry(
        at=first.timestamp,
        kind="session",
        key=f"session:{first.pk}",
        title=title,
        detail=detail,
        url=reverse("tracking:profile-detail", args=[owner.profile_id]),
        children=[event_entry(e) for e in reversed(events)],
    )


def _naive_utc(value: datetime.datetime) -> datetime.datetime:
    return value.astimezone(datetime.UTC).replace(tzinfo=None)


def _sessions(
    events: list[LandedEvent], owners: dict[tuple[str, str], _Owner]
) -> list[tuple[list[LandedEvent], _Owner]]:
    """Each person's events (ascending) cut into sessions by the shared gap rule."""
    per_person: dict[int, list[LandedEvent]] = defaultdict(list)
    owner_of_person: dict[int, _Owner] = {}
    for event in events:
        owner = _owner_of(event, owners)
        if owner is None:
            continue
        per_person[owner.person_id].append(event)
        owner_of_person.setdefault(owner.person_id, owner)
    result: list[tuple[list[LandedEvent], _Owner]] = []
    for person_id, rows in per_person.items():
        rows.sort(key=lambda e: (e.timestamp, e.pk))
        # NumPy's datetime64 has no time zones: hand it naive UTC times.
        numbers = session_numbers([_naive_utc(e.timestamp) for e in rows], gap=SESSION_GAP)
        groups: dict[int, list[LandedEvent]] = defaultdict(list)
        for number, event in zip(numbers.tolist(), rows, strict=True):
            groups[number].append(event)
        result.extend((group, owner_of_person[person_id]) for _n, group in sorted(groups.items()))
    return result


def source(request: HttpRequest, record: object, window: Window) -> Batch:
    user = request.user
    if not isinstance(user, User) or not isinstance(record, Account | Person) or not window.wants("session"):
        return Batch([], False)
    owners = _identifiers(user, record)
    if not owners:
        return Batch([], False)
    events = _events(owners)
    older = list(window.bound(events, "timestamp")[: MAX_EVENTS + 1])
    full = len(older) > MAX_EVENTS  # one more than used tells whether older events exist
    older = older[:MAX_EVENTS]
    later: list[LandedEvent] = []
    if window.before is not None and older:
        # A session that began at or before the cursor may go on after it: read its continuation.
        after = events.filter(timestamp__gt=window.before)
        if window.until is not None:
            after = after.filter(timestamp__lt=window.until)
        later = list(after.order_by("timestamp", "id")[:MAX_EVENTS])
    oldest_read = older[-1].timestamp if older else None
    sessions = []
    for group, owner in _sessions(older + later, owners):
        start = group[0].timestamp
        if window.before is not None and start > window.before:
            continue  # began after the cursor: shown on an earlier page
        if f"session:{group[0].pk}" in window.seen:
            continue
        partial = full and oldest_read is not None and start <= oldest_read + SESSION_GAP
        sessions.append((group, owner, partial))
    floor: datetime.datetime | None = None
    if full and oldest_read is not None and any(not partial for _g, _o, partial in sessions):
        # The oldest sessions read may have begun before the events read: the page stops above
        # them and the next page, whose cursor is then newer than they are, shows them whole.
        sessions = [s for s in sessions if not s[2]]
        floor = oldest_read + SESSION_GAP
    entries = [_session_entry(group, owner, partial) for group, owner, partial in sessions]
    entries.sort(key=lambda e: (e.at, e.key), reverse=True)
    more = full or len(entries) > window.fetch
    return Batch(entries[: window.fetch], more, floor=floor)


def register() -> None:
    for record_type in ("customers.person", "customers.account"):
        register_source(record_type, "tracking.sessions", source, kinds=KINDS)
