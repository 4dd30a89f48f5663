"""A person's tracked events on their timeline: sessions by the shared 30-minute rule, the
anonymous history joined at identify, sessions that straddle a page boundary, visibility."""

import datetime
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from guanxi.core.timeline import Filters, Window, collect
from guanxi.customers import services as customer_services
from guanxi.customers.models import Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.engine.sessions import session_numbers
from guanxi.staff.models import User
from guanxi.tracking import services, timeline
from guanxi.tracking.messages import clean_body
from guanxi.tracking.models import Identifier, LandedEvent, Profile, Source
from guanxi.tracking.tests.factories import landed_events

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 5, 4, 9, 0, tzinfo=datetime.UTC)
_counter = iter(range(1_000_000))


def at(minutes: float) -> str:
    """A sender's timestamp; sent without `sentAt`, so it is stored as sent (no skew correction)."""
    return (T0 + datetime.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def land(source: Source, *messages: dict[str, Any]) -> None:
    now = timezone.now()
    batch = [{"messageId": f"tl-{next(_counter)}", **m} for m in messages]
    clean, errors = clean_body({"batch": batch}, endpoint="batch", received_at=now)
    assert errors == []
    services.land_messages(source, clean, now)
    landed_events()  # unpacked at once, so the test can read the events' ids before processing


def page(anonymous_id: str, minutes: float, path: str = "/", **extra: Any) -> dict[str, Any]:
    return {
        "type": "page",
        "anonymousId": anonymous_id,
        "timestamp": at(minutes),
        "properties": {"path": path, "title": f"Page {path}"},
        **extra,
    }


def identify(user_id: str, anonymous_id: str, minutes: float, **traits: Any) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": user_id,
        "anonymousId": anonymous_id,
        "timestamp": at(minutes),
        "traits": traits,
    }


def request_for(user: User) -> HttpRequest:
    request = RequestFactory().get("/")
    request.user = user
    return request


def sessions_of(user: User, record: object, window: Window | None = None) -> list[Any]:
    return timeline.source(request_for(user), record, window or Window()).entries


def _visits(source: Source, anonymous_id: str, user_id: str) -> None:
    land(
        source,
        page(anonymous_id, 0, "/"),
        page(anonymous_id, 10, "/products"),
        page(anonymous_id, 25, "/products/tea"),
        page(anonymous_id, 180, "/"),
        identify(user_id, anonymous_id, 182, email=f"{user_id}@example.com", firstName="Fang", lastName="Wang"),
        {"type": "track", "userId": user_id, "event": "Order Completed", "timestamp": at(190)},
    )


def known_person(source: Source, anonymous_id: str = "anon-1", user_id: str = "u-1") -> Person:
    """Two anonymous visits, then a login in the second, as processing leaves them: one profile
    of the contact holding both the anonymous id and the user id (processing is tested apart)."""
    _visits(source, anonymous_id, user_id)
    person = PersonFactory.create(family_name="Wang", given_name="Fang")
    now = timezone.now()
    profile = Profile.objects.create(person=person, first_seen=now, last_seen=now)
    Identifier.objects.create(type="anonymous_id", value=anonymous_id, profile=profile, source=source)
    Identifier.objects.create(type="user_id", value=user_id, profile=profile, source=source)
    return person


def test_processing_joins_the_anonymous_history_to_the_identified_person(source: Source, rep: User) -> None:
    _visits(source, "anon-7", "u-7")
    services.process_landed_events(batch_size=50)
    person = Identifier.objects.get(type="user_id", value="u-7").profile.person
    assert person is not None

    entries = sessions_of(rep, person)

    assert [len(e.children) for e in entries] == [3, 3]


def test_anonymous_history_joined_at_identify_is_on_the_persons_timeline(source: Source, rep: User) -> None:
    person = known_person(source)

    entries = sessions_of(rep, person)  # an unowned contact is in the shared pool, visible to reps

    assert [e.kind for e in entries] == ["session", "session"]
    newest, oldest = entries
    assert newest.at == T0 + datetime.timedelta(minutes=180)
    assert [c.title for c in newest.children] == ["Order Completed", "Identified as u-1", "Viewed Page /"]
    assert oldest.at == T0
    assert [c.title for c in oldest.children] == ["Viewed Page /products/tea", "Viewed Page /products", "Viewed Page /"]
    assert oldest.detail.startswith("3 page views · 25 min")
    first_event = LandedEvent.objects.filter(anonymous_id="anon-1").order_by("timestamp", "id").first()
    assert first_event is not None
    assert oldest.key == f"session:{first_event.pk}"


def test_sessions_follow_the_engine_rule_exactly(source: Source, admin_user: User) -> None:
    # Gaps of exactly 30 minutes stay in the session; 30 minutes and one second start a new one.
    minutes = [0, 30, 60, 90.0 + 1 / 60, 100]
    land(source, *[page("anon-9", m) for m in minutes], identify("u-9", "anon-9", 101))
    person = PersonFactory.create()
    profile = Profile.objects.create(person=person, first_seen=T0, last_seen=T0)
    Identifier.objects.create(type="anonymous_id", value="anon-9", profile=profile)

    entries = sessions_of(admin_user, person)

    naive_t0 = T0.replace(tzinfo=None)  # NumPy's datetime64 has no time zones
    stamps = [naive_t0 + datetime.timedelta(minutes=m) for m in [*minutes, 101]]
    expected_sessions = len(set(session_numbers(stamps).tolist()))
    assert len(entries) == expected_sessions == 2
    assert [len(e.children) for e in entries] == [3, 3]


def test_a_session_straddling_the_cursor_is_shown_whole_below_it(source: Source, admin_user: User) -> None:
    person = known_person(source)
    # The cursor falls inside the first visit (minute 15): it began before, so it is shown, whole.
    window = Window(before=T0 + datetime.timedelta(minutes=15))

    entries = sessions_of(admin_user, person, window)

    assert len(entries) == 1
    assert len(entries[0].children) == 3


@pytest.fixture
def small_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeline, "MAX_EVENTS", 4)


def test_a_session_cut_by_the_read_limit_waits_for_the_next_page(
    source: Source, admin_user: User, small_reads: None
) -> None:
    person = known_person(source)  # 3 events in the first visit, 3 in the second: 4 are read per page
    request = request_for(admin_user)

    first = collect(request, "customers.person", person, Filters(kinds=frozenset({"session"})).window())
    assert [len(e.children) for e in first.entries] == [3]
    assert first.next_cursor is not None
    second = collect(
        request, "customers.person", person, Filters(kinds=frozenset({"session"}), cursor=first.next_cursor).window()
    )
    assert [len(e.children) for e in second.entries] == [3]
    assert second.entries[0].at == T0


def test_account_timeline_shows_its_peoples_sessions(source: Source, admin_user: User) -> None:
    person = known_person(source)
    other = known_person(source, "anon-2", "u-2")
    account = AccountFactory.create(actor=admin_user)
    customer_services.add_role(admin_user, person, account, "purchaser")

    entries = sessions_of(admin_user, account)

    assert len(entries) == 2
    assert other.pk != person.pk


def test_sessions_of_a_contact_the_viewer_may_not_see_are_not_read(
    source: Source, rep: User, outside_rep: User, admin_user: User
) -> None:
    person = known_person(source)
    Person.objects.filter(pk=person.pk).update(owner=outside_rep)
    person.refresh_from_db()
    assert sessions_of(rep, person) == []
    assert len(sessions_of(admin_user, person)) == 2


def test_person_page_fragment_lists_sessions_with_their_events(source: Source, client: Client, rep: User) -> None:
    person = known_person(source)
    client.force_login(rep)
    html = client.get(reverse("customers:person-detail", args=[person.pk]) + "?fragment=timeline&kind=session")
    text = html.content.decode()
    assert text.count('data-kind="session"') == 2
    assert "Viewed Page /products/tea" in text
    assert reverse("tracking:profile-detail", args=[person.tracking_profiles.get().pk]) in text


def test_a_contact_without_tracking_has_no_sessions(rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    assert sessions_of(rep, person) == []
