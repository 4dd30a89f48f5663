"""One timeline per customer record, filled by every app that knows something about it.

A person's page shows web sessions, orders, follow-up records, deals and changes on one line of
time, yet `customers` may not import the apps that hold them. As with `core.panels`, each app
registers a *source* for a record type from its `AppConfig.ready`; the page asks every source
for one window (entries older than a cursor, at most `limit`, of the chosen kinds, in a date
range) and merges them by time. Tickets, campaign messages and loyalty register sources the
same way when they arrive.

Paging is by keyset over time: the cursor holds the time of the last entry shown and the keys
of the entries shown at exactly that time, so each source only needs an index range on its own
time column (`time <= before`) and asks for `limit + len(seen)` rows; ties across sources are
then exact without a shared ordering key.
"""

import base64
import binascii
import datetime
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.http import HttpRequest, QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import Promise

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


class InvalidTimelineCursorError(ValueError):
    """The cursor in the request is not one this server wrote."""


@dataclass
class Entry:
    """One thing that happened, as the timeline draws it.

    `key` is unique across sources ("order:12") and stable, so a page boundary that falls
    between entries of the same second is exact. `children` are shown folded under the entry
    (a session's page views and events).
    """

    at: datetime.datetime
    kind: str
    key: str
    title: str
    detail: str = ""
    url: str = ""
    who: str = ""
    tone: str = ""
    children: list["Entry"] = field(default_factory=list)


@dataclass(frozen=True)
class Window:
    """What one page asks of every source."""

    limit: int = PAGE_SIZE
    before: datetime.datetime | None = None
    seen: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None

    @property
    def fetch(self) -> int:
        """Rows a source reads: the page plus the entries already shown at the cursor's time."""
        return self.limit + len(self.seen)

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    def bound[M: models.Model](self, queryset: models.QuerySet[M], time_field: str) -> models.QuerySet[M]:
        """`queryset` limited to the window's time range on `time_field`, newest first."""
        if self.before is not None:
            queryset = queryset.filter(**{f"{time_field}__lte": self.before})
        if self.since is not None:
            queryset = queryset.filter(**{f"{time_field}__gte": self.since})
        if self.until is not None:
            queryset = queryset.filter(**{f"{time_field}__lt": self.until})
        return queryset.order_by(f"-{time_field}", "-pk")

    def contains(self, at: datetime.datetime) -> bool:
        return (
            (self.before is None or at <= self.before)
            and (self.since is None or at >= self.since)
            and (self.until is None or at < self.until)
        )


@dataclass
class Batch:
    """A source's answer: its newest entries in the window, and whether it has older ones.

    `floor`, when set, says the source's entries at or before that time may be incomplete (a
    session whose start was not read yet): the page then stops above it, and the next page,
    whose cursor is then newer than the floor, asks again.
    """

    entries: list[Entry]
    more: bool
    floor: datetime.datetime | None = None

    @classmethod
    def of(cls, entries: list[Entry], window: Window, rows_read: int | None = None) -> "Batch":
        """A source that read `window.fetch` rows (or `rows_read`, before dropping some) may have more."""
        read = len(entries) if rows_read is None else rows_read
        return cls(entries=entries, more=read >= window.fetch)


#: Returns one window of a record's entries; applies its own visibility for `request.user`.
TimelineSource = Callable[[HttpRequest, object, Window], Batch]


@dataclass(frozen=True)
class RegisteredSource:
    key: str
    kinds: tuple[tuple[str, str | Promise], ...]
    fetch: TimelineSource


_sources: dict[str, dict[str, RegisteredSource]] = {}


def register_source(
    record_type: str,
    key: str,
    fetch: TimelineSource,
    *,
    kinds: Sequence[tuple[str, str | Promise]],
) -> None:
    """Add `fetch`'s entries to the timeline of `record_type` pages.

    `kinds` are the entry kinds it produces with their labels, offered as the page's filters.
    """
    _sources.setdefault(record_type, {})[key] = RegisteredSource(key, tuple(kinds), fetch)


def sources_for(record_type: str) -> list[RegisteredSource]:
    return [_sources[record_type][key] for key in sorted(_sources.get(record_type, {}))]


def kinds_for(record_type: str) -> list[tuple[str, str | Promise]]:
    """Every kind the registered sources produce, for the filter, without duplicates."""
    result: dict[str, str | Promise] = {}
    for source in sources_for(record_type):
        for kind, label in source.kinds:
            result.setdefault(kind, label)
    return list(result.items())


@dataclass
class TimelinePage:
    entries: list[Entry]
    next_cursor: str | None


def encode_cursor(at: datetime.datetime, seen: Iterable[str]) -> str:
    raw = json.dumps({"t": at.isoformat(), "k": sorted(seen)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime.datetime, frozenset[str]]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        at = parse_datetime(data["t"])
        keys = data["k"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidTimelineCursorError("the cursor is malformed") from exc
    if at is None or not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise InvalidTimelineCursorError("the cursor is malformed")
    if len(keys) > MAX_PAGE_SIZE * 2:
        raise InvalidTimelineCursorError("the cursor is too long")
    return at, frozenset(keys)


def _day_start(value: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(value, datetime.time.min))


@dataclass(frozen=True)
class Filters:
    """The page's filters as read from GET parameters (`kind`, `from`, `to`, `before`)."""

    kinds: frozenset[str] = frozenset()
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    cursor: str = ""

    @classmethod
    def from_query(cls, query: QueryDict, known_kinds: Iterable[str]) -> "Filters":
        known = set(known_kinds)
        return cls(
            kinds=frozenset(k for k in query.getlist("kind") if k in known),
            date_from=_date(query.get("from")),
            date_to=_date(query.get("to")),
            cursor=query.get("before") or "",
        )

    @property
    def is_filtered(self) -> bool:
        return bool(self.kinds or self.date_from or self.date_to)

    def window(self, limit: int = PAGE_SIZE) -> Window:
        """The window to ask sources for; a bad cursor starts from the newest entries."""
        before: datetime.datetime | None = None
        seen: frozenset[str] = frozenset()
        if self.cursor:
            try:
                before, seen = decode_cursor(self.cursor)
            except InvalidTimelineCursorError:
                before, seen = None, frozenset()
        return Window(
            limit=max(1, min(limit, MAX_PAGE_SIZE)),
            before=before,
            seen=seen,
            kinds=self.kinds,
            since=_day_start(self.date_from) if self.date_from else None,
            until=_day_start(self.date_to + datetime.timedelta(days=1)) if self.date_to else None,
        )

    def query_items(self) -> list[tuple[str, str]]:
        """The filters as GET pairs (without the cursor), for the "older" link."""
        items = [("kind", kind) for kind in sorted(self.kinds)]
        if self.date_from:
            items.append(("from", self.date_from.isoformat()))
        if self.date_to:
            items.append(("to", self.date_to.isoformat()))
        return items


def _date(value: Any) -> datetime.date | None:
    if not value:
        return None
    try:
        return parse_date(str(value))
    except ValueError:
        return None


def _sort_key(entry: Entry) -> tuple[datetime.datetime, str]:
    return (entry.at, entry.key)


def collect(request: HttpRequest, record_type: str, record: object, window: Window) -> TimelinePage:
    """One page of the record's timeline: every source's window merged, newest first."""
    merged: list[Entry] = []
    more = False
    floors = []
    for source in sources_for(record_type):
        if window.kinds and not any(kind in window.kinds for kind, _label in source.kinds):
            continue
        batch = source.fetch(request, record, window)
        more = more or batch.more
        if batch.floor is not None:
            floors.append(batch.floor)
        merged.extend(e for e in batch.entries if e.key not in window.seen and window.wants(e.kind))
    if floors:
        floor = max(floors)
        kept = [e for e in merged if e.at > floor]
        more = more or len(kept) < len(merged)
        merged = kept
    merged.sort(key=_sort_key, reverse=True)
    more = more or len(merged) > window.limit
    entries = merged[: window.limit]
    if not entries or not more:
        return TimelinePage(entries=entries, next_cursor=None)
    last = entries[-1].at
    seen = {e.key for e in entries if e.at == last}
    if window.before is not None and last == window.before:
        seen |= window.seen
    return TimelinePage(entries=entries, next_cursor=encode_cursor(last, seen))
