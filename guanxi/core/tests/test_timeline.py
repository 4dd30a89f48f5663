"""The timeline registry: merging sources by time, keyset paging with ties, filters, cursors."""

import datetime
from collections.abc import Iterator

import pytest
from django.http import HttpRequest, QueryDict
from django.test import RequestFactory
from django.utils import timezone

from guanxi.core import timeline
from guanxi.core.timeline import Batch, Entry, Filters, Window, collect

T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)


def _entries(prefix: str, kind: str, minutes: list[int]) -> list[Entry]:
    return [
        Entry(at=T0 + datetime.timedelta(minutes=m), kind=kind, key=f"{prefix}:{i}", title=f"{prefix} {i}")
        for i, m in enumerate(minutes)
    ]


def _source(rows: list[Entry]) -> timeline.TimelineSource:
    """A source over a list, honouring the window exactly as a database source would."""

    def fetch(request: HttpRequest, record: object, window: Window) -> Batch:
        picked = sorted(
            (e for e in rows if window.contains(e.at) and window.wants(e.kind)),
            key=lambda e: (e.at, e.key),
            reverse=True,
        )[: window.fetch]
        return Batch.of(picked, window)

    return fetch


@pytest.fixture
def registry() -> Iterator[None]:
    saved = {k: dict(v) for k, v in timeline._sources.items()}
    timeline._sources.clear()
    yield
    timeline._sources.clear()
    timeline._sources.update(saved)


def _all_pages(request: HttpRequest, window: Window) -> list[list[str]]:
    pages = []
    cursor = ""
    for _ in range(50):
        filters = Filters(kinds=window.kinds, cursor=cursor)
        page = collect(request, "test.record", object(), filters.window(limit=window.limit))
        pages.append([e.key for e in page.entries])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
    raise AssertionError("paging did not end")


def test_sources_merge_newest_first_and_page_exactly_across_ties(registry: None) -> None:
    # Three entries share one minute across two sources: a page boundary falls among them.
    orders = _entries("order", "order", [1, 5, 5, 9])
    visits = _entries("visit", "session", [2, 5, 7, 8])
    timeline.register_source("test.record", "a", _source(orders), kinds=[("order", "Orders")])
    timeline.register_source("test.record", "b", _source(visits), kinds=[("session", "Sessions")])
    request = RequestFactory().get("/")

    pages = _all_pages(request, Window(limit=3))

    assert pages == [
        ["order:3", "visit:3", "visit:2"],
        ["visit:1", "order:2", "order:1"],
        ["visit:0", "order:0"],
    ]
    # A boundary inside the three entries of minute 5: none is lost or shown twice.
    assert _all_pages(request, Window(limit=4)) == [
        ["order:3", "visit:3", "visit:2", "visit:1"],
        ["order:2", "order:1", "visit:0", "order:0"],
    ]


def test_kind_filter_asks_only_the_sources_that_produce_the_kind(registry: None) -> None:
    asked: list[str] = []

    def tracking(request: HttpRequest, record: object, window: Window) -> Batch:
        asked.append("tracking")
        return Batch([], False)

    timeline.register_source("test.record", "a", _source(_entries("order", "order", [1, 2])), kinds=[("order", "O")])
    timeline.register_source("test.record", "b", tracking, kinds=[("session", "S")])
    request = RequestFactory().get("/")
    window = Filters.from_query(QueryDict("kind=order&kind=bogus"), ["order", "session"]).window()

    page = collect(request, "test.record", object(), window)

    assert [e.key for e in page.entries] == ["order:1", "order:0"]
    assert asked == []
    assert window.kinds == frozenset({"order"})


def test_a_source_floor_stops_the_page_above_entries_it_may_not_have_whole(registry: None) -> None:
    def partial(request: HttpRequest, record: object, window: Window) -> Batch:
        return Batch(_entries("visit", "session", [9]), more=True, floor=T0 + datetime.timedelta(minutes=4))

    timeline.register_source("test.record", "a", _source(_entries("order", "order", [3, 6])), kinds=[("order", "O")])
    timeline.register_source("test.record", "b", partial, kinds=[("session", "S")])

    page = collect(RequestFactory().get("/"), "test.record", object(), Window(limit=10))

    assert [e.key for e in page.entries] == ["visit:0", "order:1"]
    assert page.next_cursor is not None
    before, seen = timeline.decode_cursor(page.next_cursor)
    assert before == T0 + datetime.timedelta(minutes=6)
    assert seen == {"order:1"}


def test_date_range_is_inclusive_of_both_days_in_the_current_time_zone(settings: object) -> None:
    filters = Filters.from_query(QueryDict("from=2026-03-01&to=2026-03-02"), [])
    window = filters.window()
    assert window.since == timezone.make_aware(datetime.datetime(2026, 3, 1))
    assert window.until == timezone.make_aware(datetime.datetime(2026, 3, 3))
    assert filters.is_filtered
    assert filters.query_items() == [("from", "2026-03-01"), ("to", "2026-03-02")]


def test_a_malformed_cursor_starts_from_the_newest_entries() -> None:
    assert Filters(cursor="not-a-cursor!").window().before is None
    with pytest.raises(timeline.InvalidTimelineCursorError):
        timeline.decode_cursor("eyJ0IjoxfQ")  # {"t":1}


def test_cursor_round_trip_keeps_time_and_keys() -> None:
    cursor = timeline.encode_cursor(T0, {"b:1", "a:2"})
    assert timeline.decode_cursor(cursor) == (T0, frozenset({"a:2", "b:1"}))
