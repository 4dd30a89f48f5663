"""Sessions, assigned a batch at a time with the shared rule (`engine.sessions`).

Per batch: the processed events are grouped by their profile; each profile's new events are cut
into visits by `session_numbers` (a pause longer than `SESSION_GAP` starts a new one); the
profile's stored sessions near the batch's times are read in one query per 900 profiles; then
visits and stored sessions within `SESSION_GAP` of each other are joined.

Late and out-of-order events follow from that one rule, so the stored sessions are what
`session_numbers` would give over all of the profile's events:
- an event inside a stored session, or within the gap of its start or end, joins it (and
  widens it; if it is now the earliest, the session's first page, referrer and campaign come
  from it);
- an event that falls within the gap of two stored sessions bridges them: they become one, the
  earlier keeping its id and the later's row deleted;
- otherwise it starts a session of its own.
A profile merge moves sessions without joining them (two devices may overlap in time): they
join only when a later event bridges them.

No event row names its session: an event's session is its profile's session whose span holds
its time (`queries.session_events`), so processing writes sessions and never rewrites events.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from guanxi.engine.sessions import SESSION_GAP, session_numbers
from guanxi.tracking import context
from guanxi.tracking.models import Session
from guanxi.tracking.services.bulk_sql import in_chunks, insert_rows, update_rows


@dataclass(frozen=True)
class SessionEvent:
    """One processed event as sessions need it."""

    pk: int
    profile_id: int
    at: datetime.datetime
    type: str
    payload: dict[str, Any]
    source_id: int


@dataclass
class _Visit:
    """New events in a row, or a stored session; times in UTC microseconds (integers compare
    far faster than aware datetimes, which matters at thousands of visits a batch)."""

    start: int
    end: int
    events: list[SessionEvent] = field(default_factory=list)
    stored: "_Stored | None" = None


@dataclass
class _Stored:
    pk: int
    start: int
    end: int
    event_count: int
    page_views: int


def _attributes(event: SessionEvent) -> tuple[Any, ...]:
    """Where a visit came from, read from its earliest event: the values of ATTRIBUTE_FIELDS."""
    payload = event.payload
    return (
        event.source_id,
        *context.page_of(payload),  # first page, referrer
        *context.campaign_of(payload),  # UTM source, medium, campaign
        context.channel(payload),
        *context.device_of(payload),  # device, os, browser
        *context.location_of(payload),  # location, ip
    )


SPAN_FIELDS = ("started_at", "ended_at", "event_count", "page_views")
ATTRIBUTE_FIELDS = (
    "source_id",
    "first_page",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "channel",
    "device",
    "os",
    "browser",
    "location",
    "ip",
)


def _page_views(events: Sequence[SessionEvent]) -> int:
    return sum(1 for e in events if e.type in ("page", "screen"))


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
MICROSECOND = datetime.timedelta(microseconds=1)


def _micros(at: datetime.datetime) -> int:
    return (at - EPOCH) // MICROSECOND


def _time(micros: int) -> datetime.datetime:
    return EPOCH + datetime.timedelta(microseconds=micros)


def _visit_numbers(profile_ids: Sequence[int], instants: npt.NDArray[np.int64]) -> list[int]:
    """Visit numbers for events sorted by (profile, time), unique across profiles: one pass of
    `session_numbers` with each profile's times shifted past the previous profile's by more than
    the gap (so a change of profile always starts a visit), or one pass per profile when the
    times span so long that the shift would overflow."""
    ranks = np.cumsum([0] + [int(a != b) for a, b in pairwise(profile_ids)])
    step = int(instants.max() - instants.min()) + 2 * (SESSION_GAP // MICROSECOND)
    if step * (int(ranks[-1]) + 1) < 2**62:
        shifted = (instants + ranks * step).astype("datetime64[us]")
        return [int(n) for n in session_numbers(shifted).tolist()]
    numbers: list[int] = []
    start = 0
    for end in [*np.flatnonzero(np.diff(ranks)).tolist(), len(profile_ids) - 1]:
        part = session_numbers(instants[start : end + 1].astype("datetime64[us]"))
        offset = numbers[-1] + 1 if numbers else 0
        numbers.extend(int(n) + offset for n in part.tolist())
        start = end + 1
    return numbers


def _new_session(
    profile_id: int, start: int, end: int, events: Sequence[SessionEvent], first: SessionEvent
) -> tuple[Any, ...]:
    """A new session's row: (profile, *SPAN_FIELDS, *ATTRIBUTE_FIELDS), where it came from
    read from its earliest event."""
    return (profile_id, _time(start), _time(end), len(events), _page_views(events), *_attributes(first))


@dataclass
class SessionResult:
    new_sessions: dict[int, int]  # profile id → sessions added (new minus joined away)


def _stored_sessions(
    profile_ids: list[int], earliest: datetime.datetime, latest: datetime.datetime
) -> dict[int, list[_Stored]]:
    found: dict[int, list[_Stored]] = {}
    for chunk in in_chunks(profile_ids):
        rows = Session.objects.filter(
            profile_id__in=chunk,
            ended_at__gte=earliest - SESSION_GAP,
            started_at__lte=latest + SESSION_GAP,
        ).values_list("pk", "profile_id", "started_at", "ended_at", "event_count", "page_views")
        for pk, profile_id, started, ended, count, views in rows:
            found.setdefault(profile_id, []).append(_Stored(pk, _micros(started), _micros(ended), count, views))
    return found


GAP = SESSION_GAP // MICROSECOND


def assign_sessions(events: Sequence[SessionEvent]) -> SessionResult:
    """Give every event a session, creating, widening and joining stored sessions as the rule says."""
    result = SessionResult(new_sessions={})
    if not events:
        return result
    keyed = sorted(((e.profile_id, _micros(e.at), e.pk, e) for e in events), key=lambda row: row[:3])
    instants = np.array([row[1] for row in keyed], dtype=np.int64)
    numbers = _visit_numbers([row[0] for row in keyed], instants)
    stored = _stored_sessions(sorted({row[0] for row in keyed}), _time(int(instants.min())), _time(int(instants.max())))
    visits: dict[int, list[_Visit]] = {}
    previous = -1
    for (profile_id, micros, _pk, event), number in zip(keyed, numbers, strict=True):
        if number != previous:
            visits.setdefault(profile_id, []).append(_Visit(micros, micros))
            previous = number
        visit = visits[profile_id][-1]
        visit.end = micros
        visit.events.append(event)

    created: list[tuple[Any, ...]] = []  # (profile, *SPAN_FIELDS, *ATTRIBUTE_FIELDS)
    spans: list[tuple[int, datetime.datetime, datetime.datetime, int, int]] = []
    restarted: list[tuple[Any, ...]] = []  # stored sessions that now start with a new event: (pk, *ATTRIBUTE_FIELDS)
    absorbed: dict[int, list[int]] = {}  # surviving session → sessions joined into it
    for profile_id, items in visits.items():
        near = stored.get(profile_id)
        if not near and len(items) == 1:
            # Most profiles: one visit and no stored session near it, so a session of its own
            # (what the clustering below gives, without its lists).
            visit = items[0]
            created.append(_new_session(profile_id, visit.start, visit.end, visit.events, visit.events[0]))
            result.new_sessions[profile_id] = 1
            continue
        items.extend(_Visit(s.start, s.end, stored=s) for s in near or ())
        if len(items) > 1:
            items.sort(key=lambda item: (item.start, item.stored is None))
        clusters: list[list[_Visit]] = []
        cluster_end = 0
        for item in items:
            if not clusters or item.start - cluster_end > GAP:
                clusters.append([item])
                cluster_end = item.end
            else:
                clusters[-1].append(item)
                cluster_end = max(cluster_end, item.end)
        added = 0
        for cluster in clusters:
            new_events = [e for item in cluster for e in item.events]
            if not new_events:
                continue
            sessions = [item.stored for item in cluster if item.stored is not None]
            start = min(item.start for item in cluster)
            end = max(item.end for item in cluster)
            first_new = next(item for item in cluster if item.stored is None)
            if not sessions:
                created.append(_new_session(profile_id, start, end, new_events, first_new.events[0]))
                added += 1
                continue
            views = _page_views(new_events)
            survivor, others = sessions[0], sessions[1:]
            if first_new.start < survivor.start:
                restarted.append((survivor.pk, *_attributes(first_new.events[0])))
            spans.append(
                (
                    survivor.pk,
                    _time(start),
                    _time(end),
                    survivor.event_count + len(new_events) + sum(s.event_count for s in others),
                    survivor.page_views + views + sum(s.page_views for s in others),
                )
            )
            if others:
                absorbed[survivor.pk] = [s.pk for s in others]
                added -= len(others)
        if added:
            result.new_sessions[profile_id] = added

    insert_rows(Session, ["profile_id", *SPAN_FIELDS, *ATTRIBUTE_FIELDS], created)
    update_rows(Session, SPAN_FIELDS, spans)
    update_rows(Session, ATTRIBUTE_FIELDS, restarted)
    joined = sorted(pk for others in absorbed.values() for pk in others)
    if joined:
        Session.objects.filter(pk__in=joined).delete()
    return result
