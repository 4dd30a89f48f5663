"""Sessions assigned by processing: the shared 30-minute rule, late events, bridging, merges."""

import datetime
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanxi.engine.sessions import session_numbers
from guanxi.staff.models import User
from guanxi.tracking import services
from guanxi.tracking.models import ComputedTraits, LandedEvent, ProfileMerge, Session, Source
from guanxi.tracking.queries import session_events
from guanxi.tracking.services.processing import pending_filter
from guanxi.tracking.services.sessions import ATTRIBUTE_FIELDS, assign_sessions
from guanxi.tracking.tests.factories import SourceFactory
from guanxi.tracking.tests.test_processing import land, process, profile_of, track

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
T0 = datetime.datetime(2025, 3, 1, 10, 0, tzinfo=datetime.UTC)


def at(minutes: float) -> str:
    return (T0 + datetime.timedelta(minutes=minutes)).isoformat()


def page(anonymous_id: str, minutes: float, url: str = "https://shop.example/", **context: Any) -> dict[str, Any]:
    return {
        "type": "page",
        "anonymousId": anonymous_id,
        "name": "Home",
        "timestamp": at(minutes),
        "context": {"page": {"url": url, "referrer": "https://search.example/?q=tea"}, **context},
    }


def spans(profile_id: int) -> list[tuple[datetime.datetime, datetime.datetime, int]]:
    return list(
        Session.objects.filter(profile_id=profile_id)
        .order_by("started_at")
        .values_list("started_at", "ended_at", "event_count")
    )


def minutes(value: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=value)


def sessions_of_events() -> dict[datetime.datetime, frozenset[int]]:
    """Each event's time → the sessions it falls in (found by their spans, as pages find them)."""
    found: dict[datetime.datetime, set[int]] = {
        at: set() for at in LandedEvent.objects.values_list("timestamp", flat=True)
    }
    for session in Session.objects.all():
        for at in session_events(session).values_list("timestamp", flat=True):
            found[at].add(session.pk)
    return {at: frozenset(pks) for at, pks in found.items()}


def test_a_pause_longer_than_thirty_minutes_starts_a_session(source: Source) -> None:
    land(
        source,
        page(
            "a1",
            0,
            campaign={"source": "baidu", "medium": "cpc", "name": "spring"},
            userAgent=IPHONE,
        ),
        track("a1", timestamp=at(10)),
        page("a1", 41, url="https://shop.example/tea"),  # 31 minutes after the last: a new session
        page("a1", 71.5, url="https://shop.example/cart"),
    )
    process()
    profile = profile_of("anonymous_id", "a1")
    assert spans(profile.pk) == [
        (minutes(0), minutes(10), 2),
        (minutes(41), minutes(41), 1),
        (minutes(71.5), minutes(71.5), 1),
    ]
    first = Session.objects.filter(profile=profile).order_by("started_at").first()
    assert first is not None
    assert (first.first_page, first.referrer, first.page_views) == (
        "https://shop.example/",
        "https://search.example/?q=tea",
        1,
    )
    assert (first.utm_source, first.utm_medium, first.utm_campaign, first.channel) == ("baidu", "cpc", "spring", "web")
    assert (first.device, first.os, first.browser) == ("mobile", "iOS", "Safari")
    assert first.source_id == source.pk
    by_event = sessions_of_events()
    assert by_event[minutes(0)] == by_event[minutes(10)] == {first.pk}
    assert len({pk for found in by_event.values() for pk in found}) == 3
    assert ComputedTraits.objects.get(profile=profile).session_count == 3


def test_late_events_join_widen_and_restart_a_stored_session(source: Source) -> None:
    land(source, page("a1", 0), page("a1", 10))
    process()
    session = Session.objects.get()
    land(source, page("a1", 35), page("a1", -20, url="https://shop.example/landing"))  # after, then late and before
    process()
    session.refresh_from_db()
    assert Session.objects.count() == 1
    assert (session.started_at, session.ended_at, session.event_count, session.page_views) == (
        minutes(-20),
        minutes(35),
        4,
        4,
    )
    assert session.first_page == "https://shop.example/landing"  # the earliest event now
    assert set(sessions_of_events().values()) == {frozenset({session.pk})}


def test_a_late_event_between_two_sessions_joins_them(source: Source) -> None:
    land(source, page("a1", 0), page("a1", 60), page("a1", 61))
    process()
    earlier, later = Session.objects.order_by("started_at")
    profile = profile_of("anonymous_id", "a1")
    assert ComputedTraits.objects.get(profile=profile).session_count == 2
    land(source, page("a1", 30))  # within 30 minutes of both
    process()
    assert list(Session.objects.values_list("pk", flat=True)) == [earlier.pk]
    assert not Session.objects.filter(pk=later.pk).exists()
    assert spans(profile.pk) == [(minutes(0), minutes(61), 4)]
    assert set(sessions_of_events().values()) == {frozenset({earlier.pk})}
    assert ComputedTraits.objects.get(profile=profile).session_count == 1


def test_a_late_event_far_from_sessions_starts_its_own(source: Source) -> None:
    land(source, page("a1", 0), page("a1", 120))
    process()
    land(source, page("a1", 60))  # 60 minutes from each
    process()
    assert spans(profile_of("anonymous_id", "a1").pk) == [
        (minutes(0), minutes(0), 1),
        (minutes(60), minutes(60), 1),
        (minutes(120), minutes(120), 1),
    ]


def test_events_without_a_usable_id_get_no_session(source: Source) -> None:
    land(source, track("null", timestamp=at(0)))
    process()
    assert Session.objects.count() == 0
    assert sessions_of_events() == {minutes(0): frozenset()}
    assert not LandedEvent.objects.filter(pending_filter()).exists()


def test_profiles_sessions_stay_apart(source: Source) -> None:
    land(source, page("a1", 0), page("a2", 1), page("a1", 2))
    process()
    assert spans(profile_of("anonymous_id", "a1").pk) == [(minutes(0), minutes(2), 2)]
    assert spans(profile_of("anonymous_id", "a2").pk) == [(minutes(1), minutes(1), 1)]


def test_a_merge_moves_sessions_and_undo_moves_them_back(source: Source, admin_user: User) -> None:
    land(source, track(user_id="u1", timestamp=at(0)), page("a7", 300), page("a7", 310))
    process()
    known, anonymous = profile_of("user_id", "u1"), profile_of("anonymous_id", "a7")
    anonymous_session = Session.objects.get(profile=anonymous)
    land(source, track("a7", "u1", timestamp=at(900)))
    process()
    merge = ProfileMerge.objects.get()
    assert merge.moved_session_ids == [anonymous_session.pk]
    assert Session.objects.filter(profile=known).count() == 3
    traits = ComputedTraits.objects.get(profile=known)
    assert (traits.session_count, traits.event_count, traits.page_views) == (3, 4, 2)
    services.undo_profile_merge(admin_user, merge)
    assert list(Session.objects.filter(profile=anonymous).values_list("pk", flat=True)) == [anonymous_session.pk]
    assert Session.objects.filter(profile=known).count() == 2
    # Recounted from the events: the linking event has the user id, so it stays with the known profile.
    assert ComputedTraits.objects.get(profile=anonymous).event_count == 2
    assert ComputedTraits.objects.get(profile=anonymous).session_count == 1
    assert (
        ComputedTraits.objects.get(profile=known).event_count,
        ComputedTraits.objects.get(profile=known).session_count,
    ) == (2, 2)


def test_assign_sessions_directly_with_an_empty_batch(db: None) -> None:
    result = assign_sessions([])
    assert result.new_sessions == {}


def test_times_spanning_centuries_fall_back_to_one_pass_per_profile(source: Source) -> None:
    land(
        source,
        track("a1", timestamp="0101-01-01T00:00:00Z"),
        track("a1", timestamp="9000-01-01T00:00:00Z"),
        *[track(f"b{n}", timestamp="2025-01-01T00:00:00Z") for n in range(3)],
    )
    process()
    assert Session.objects.count() == 5


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    times=st.lists(st.integers(min_value=0, max_value=24 * 60), min_size=1, max_size=25),
    cuts=st.lists(st.integers(min_value=0, max_value=25), max_size=3),
)
@pytest.mark.django_db
def test_stored_sessions_match_the_engine_rule_whatever_the_arrival_order(times: list[int], cuts: list[int]) -> None:
    """Events arriving in any order over several batches end in the sessions the shared rule
    gives over all of them at once."""
    source = SourceFactory.create()
    anonymous_id = f"h{source.pk}"
    bounds = sorted({0, len(times), *(c for c in cuts if c < len(times))})
    for start, end in pairwise(bounds):
        land(source, *[track(anonymous_id, timestamp=at(m)) for m in times[start:end]])
        process()
    ordered = sorted(minutes(m) for m in times)
    numbers = session_numbers(np.array([t.replace(tzinfo=None) for t in ordered], dtype="datetime64[us]"))
    expected: list[tuple[datetime.datetime, datetime.datetime, int]] = []
    for number in sorted(set(numbers.tolist())):
        members = [t for t, n in zip(ordered, numbers.tolist(), strict=True) if n == number]
        expected.append((members[0], members[-1], len(members)))
    profile = profile_of("anonymous_id", anonymous_id)
    assert spans(profile.pk) == expected
    assert ComputedTraits.objects.get(profile=profile).session_count == len(expected)


ATTRIBUTES = ATTRIBUTE_FIELDS[1:]  # all but the source
# What the `full` context below gives every attribute after the first page.
FULL_ATTRIBUTES = (
    "https://search.example/?q=tea",
    "wx",
    "social",
    "618",
    "web",
    "mobile",
    "iOS",
    "Safari",
    "Hangzhou, CN",
    "10.0.0.9",
)


def test_every_attribute_of_a_new_and_a_restarted_session(source: Source) -> None:
    """A profile's only visit (the common case, written without clustering) and a stored
    session a late event restarts take every attribute from their earliest event."""
    full: dict[str, Any] = {
        "campaign": {"source": "wx", "medium": "social", "name": "618"},
        "userAgent": IPHONE,
        "location": {"city": "Hangzhou", "country": "CN"},
        "ip": "10.0.0.9",
    }
    land(source, page("a1", 0, **full), track("a1", timestamp=at(5)), page("b1", 0), page("b1", 10))
    process()
    (first,) = Session.objects.filter(profile=profile_of("anonymous_id", "a1"))
    assert (first.started_at, first.ended_at, first.event_count, first.page_views) == (minutes(0), minutes(5), 2, 1)
    assert first.source_id == source.pk
    assert tuple(getattr(first, name) for name in ATTRIBUTES) == ("https://shop.example/", *FULL_ATTRIBUTES)
    land(source, page("b1", -20, url="https://shop.example/late", **full))
    process()
    (restarted,) = Session.objects.filter(profile=profile_of("anonymous_id", "b1"))
    assert (restarted.started_at, restarted.ended_at, restarted.event_count) == (minutes(-20), minutes(10), 3)
    assert tuple(getattr(restarted, name) for name in ATTRIBUTES) == ("https://shop.example/late", *FULL_ATTRIBUTES)
    assert ComputedTraits.objects.get(profile=profile_of("anonymous_id", "b1")).session_count == 1
