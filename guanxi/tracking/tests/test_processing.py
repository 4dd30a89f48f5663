"""Processing landed events: batches, exactly-once, identity rules, consent, trait precedence."""

import datetime
import logging
import threading
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import DatabaseError, connection, connections
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guanxi.customers import services as customer_services
from guanxi.customers.models import ConsentRecord, Person
from guanxi.customers.tests.factories import PersonFactory
from guanxi.staff.models import User
from guanxi.tracking import services, tasks
from guanxi.tracking.messages import clean_body
from guanxi.tracking.models import (
    Identifier,
    LandedEvent,
    MergeReason,
    MergeStatus,
    ProcessingCheckpoint,
    Profile,
    ProfileMerge,
    Source,
)
from guanxi.tracking.services import processing
from guanxi.tracking.tests.factories import SourceFactory, landed_events

_counter = iter(range(1_000_000))


def land(source: Source, *messages: dict[str, Any]) -> None:
    now = timezone.now()
    batch = [{"messageId": f"msg-{next(_counter)}", **m} for m in messages]
    clean, errors = clean_body({"batch": batch}, endpoint="batch", received_at=now)
    assert errors == []
    services.land_messages(source, clean, now)
    landed_events()  # unpacked at once, so the test can read the events' ids before processing


def process() -> dict[str, int]:
    return services.process_landed_events(batch_size=50)


def pending() -> QuerySet[LandedEvent]:
    """Landed events processing has not taken yet (above the watermark)."""
    return LandedEvent.objects.filter(processing.pending_filter())


def profile_of(kind: str, value: str) -> Profile:
    profile = Identifier.objects.get(type=kind, value=value).profile
    while profile.merged_into_id is not None:
        profile = Profile.objects.get(pk=profile.merged_into_id)
    return profile


def ids_of(profile: Profile) -> set[tuple[str, str]]:
    return set(profile.identifiers.values_list("type", "value"))


def track(anonymous_id: str | None = None, user_id: str | None = None, **extra: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "track", "event": "Viewed Product", **extra}
    if anonymous_id is not None:
        msg["anonymousId"] = anonymous_id
    if user_id is not None:
        msg["userId"] = user_id
    return msg


def identify(user_id: str | None, anonymous_id: str | None = None, **traits: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "identify", "traits": traits}
    if user_id is not None:
        msg["userId"] = user_id
    if anonymous_id is not None:
        msg["anonymousId"] = anonymous_id
    return msg


# ---------------------------------------------------------------------------------------------
# Batches


def test_events_are_processed_once_in_batches(source: Source) -> None:
    land(source, *[track(f"a{n % 7}", timestamp=f"2025-01-0{1 + n % 5}T10:00:00Z") for n in range(120)])
    result = process()
    assert result == {"processed": 120, "batches": 3, "joined": 0}
    assert pending().count() == 0
    assert Profile.objects.count() == 7
    assert Identifier.objects.filter(type="anonymous_id").count() == 7
    checkpoint = ProcessingCheckpoint.objects.get()
    assert (checkpoint.last_batch, checkpoint.events_processed) == (3, 120)
    assert checkpoint.last_event_id == LandedEvent.objects.order_by("-id").values_list("id", flat=True)[0]
    first = profile_of("anonymous_id", "a0")
    assert first.first_seen == datetime.datetime(2025, 1, 1, 10, tzinfo=datetime.UTC)
    assert first.last_seen == datetime.datetime(2025, 1, 5, 10, tzinfo=datetime.UTC)
    assert process() == {"processed": 0, "batches": 0, "joined": 0}
    assert ProcessingCheckpoint.objects.get().events_processed == 120


def test_a_crash_mid_batch_leaves_the_batch_unprocessed(source: Source, monkeypatch: pytest.MonkeyPatch) -> None:
    land(source, *[track(f"a{n}") for n in range(10)])

    def crash(self: Any) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(processing._Graph, "flush_touched", crash)
    with pytest.raises(RuntimeError):
        process()
    assert pending().count() == 10
    assert processing.processed_up_to() == 0
    assert Profile.objects.count() == 0
    monkeypatch.undo()
    assert process()["processed"] == 10
    assert Profile.objects.count() == 10
    assert ProcessingCheckpoint.objects.get().events_processed == 10


def test_a_write_that_fails_unread_fails_the_batch(source: Source, monkeypatch: pytest.MonkeyPatch) -> None:
    land(source, *[track(f"a{n}") for n in range(3)])
    sent: list[str] = []

    def failing_write(self: Any) -> None:
        # On PostgreSQL sent without waiting for it (`_not_waited_for`): the failure still
        # has to surface, and the batch go back whole.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE tracking_profile SET first_seen = first_seen + (1 / 0) * interval '1 day'")
        sent.append("sent")

    monkeypatch.setattr(processing._Graph, "flush_touched", failing_write)
    with pytest.raises(DatabaseError):
        process()
    # SQLite fails at once; PostgreSQL when the result is awaited, in both passes of the batch.
    assert sent == (["sent", "sent"] if connection.vendor == "postgresql" else [])
    assert processing.processed_up_to() == 0
    assert Profile.objects.count() == 0
    monkeypatch.undo()
    assert process()["processed"] == 3


def test_a_failing_message_does_not_block_the_queue(
    source: Source, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    land(source, identify("u1"), track("a1"))
    original = processing._Resolver.handle

    def fail_on_identify(self: Any, event: LandedEvent) -> None:
        if event.type == "identify":
            raise ValueError("unexpected")
        original(self, event)

    monkeypatch.setattr(processing._Resolver, "handle", fail_on_identify)
    with caplog.at_level(logging.WARNING, logger=processing.__name__):
        assert process()["processed"] == 2
    assert not Identifier.objects.filter(type="user_id").exists()
    assert Identifier.objects.filter(type="anonymous_id", value="a1").exists()
    # Done without a savepoint per message first; the failure sent the batch round again with them.
    assert [r.getMessage() for r in caplog.records] == [
        "tracking: a batch failed; processing it again message by message",
        f"tracking: could not process landed event {LandedEvent.objects.get(type='identify').pk}",
    ]


def test_what_a_failing_message_wrote_goes_back_with_it(source: Source, monkeypatch: pytest.MonkeyPatch) -> None:
    land(source, identify("u1", "a1", email="u1@example.com"), identify("u2", "a2", email="u2@example.com"))
    original = processing._Resolver.handle

    def fail_after_u1(self: Any, event: LandedEvent) -> None:
        original(self, event)
        if event.user_id == "u1":
            raise ValueError("unexpected")

    monkeypatch.setattr(processing._Resolver, "handle", fail_after_u1)
    assert process()["processed"] == 2
    assert sorted(Identifier.objects.values_list("type", "value")) == [
        ("anonymous_id", "a2"),
        ("email", "u2@example.com"),
        ("user_id", "u2"),
    ]
    # The contact the failed call queued is not created, nor linked to another visitor.
    (profile,) = Profile.objects.all()
    assert profile.person is not None
    assert list(profile.person.emails.values_list("address", flat=True)) == ["u2@example.com"]
    assert Person.objects.count() == 1


def _savepoints_processing(source: Source, *messages: dict[str, Any]) -> int:
    land(source, *messages)
    with CaptureQueriesContext(connection) as queries:
        assert process()["processed"] == len(messages)
    return sum(1 for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT"))


def test_a_batch_that_does_not_fail_takes_no_savepoint_per_message(source: Source) -> None:
    _savepoints_processing(source, track("a0"))  # the checkpoint row is created on the first run
    one = _savepoints_processing(source, identify("u1", "a1", email="u1@example.com"))
    three = _savepoints_processing(
        source, *(identify(f"u{n}", f"a{n}", email=f"u{n}@example.com") for n in range(2, 5))
    )
    assert three == one
    assert Identifier.objects.filter(type="user_id").count() == 4


def test_task_and_command_process_the_backlog(source: Source) -> None:
    land(source, track("a1"))
    tasks.process_events.enqueue()  # the test settings run tasks immediately
    assert not pending().exists()
    land(source, track("a2"))
    out = StringIO()
    call_command("process_events", stdout=out)
    assert "processed 1 events in 1 batches" in out.getvalue()


def test_landing_queues_processing_when_enabled(
    source: Source, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TRACKING_PROCESS_ON_LANDING = True
    with django_capture_on_commit_callbacks(execute=True):
        land(source, track("a1"))
    assert not pending().exists()


def test_processing_stops_at_the_high_water_mark(source: Source, monkeypatch: pytest.MonkeyPatch) -> None:
    land(source, track("a1"), track("a2"), track("a3"))
    first, *_rest, last = LandedEvent.objects.order_by("id").values_list("id", flat=True)
    # A landing still in flight below the second event holds the mark at the first.
    monkeypatch.setattr(processing, "high_water_mark", lambda: first)
    assert process()["processed"] == 1
    assert processing.processed_up_to() == first
    assert pending().count() == 2
    monkeypatch.undo()
    assert process()["processed"] == 2
    assert processing.processed_up_to() == last
    assert Profile.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_an_event_that_commits_after_a_later_id_is_not_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: landed ids commit in order")
    source = SourceFactory.create(name="Web shop")
    table = LandedEvent._meta.db_table
    other = connections.create_connection("default")
    other.inc_thread_sharing()  # committed from a timer thread below
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (source_id, message_id, type, event, user_id, anonymous_id, payload, "  # noqa: S608  -- the model's table
                "received_at, timestamp) VALUES (%s, 'in-flight', 'track', 'Viewed Product', '', 'early', "
                '\'{"type": "track", "anonymousId": "early"}\'::jsonb, now(), now()) RETURNING id',
                [source.pk],
            )
            (early,) = cursor.fetchone() or (0,)
        land(source, track("later"))  # draws a later id and commits first
        later = LandedEvent.objects.get().pk
        assert later > early
        # While the earlier landing is in flight, processing does not pass it.
        monkeypatch.setattr(processing, "HIGH_WATER_WAIT_SECONDS", 0.1)
        assert process()["processed"] == 0
        assert processing.processed_up_to() < early
        # Processing waits for the landing in flight, then takes both.
        monkeypatch.setattr(processing, "HIGH_WATER_WAIT_SECONDS", 10.0)
        timer = threading.Timer(0.3, other.commit)
        timer.start()
        assert process()["processed"] == 2
        timer.join()
    finally:
        other.close()
        other.dec_thread_sharing()
    assert processing.processed_up_to() == later
    assert set(Identifier.objects.values_list("value", flat=True)) == {"early", "later"}


# ---------------------------------------------------------------------------------------------
# Identity


def test_identify_joins_anonymous_history_to_a_new_contact(source: Source) -> None:
    land(source, track("a1"), track("a1"))
    process()
    anonymous = profile_of("anonymous_id", "a1")
    assert anonymous.person is None
    land(source, identify("u1", "a1", email="Li.Na@Example.com", firstName="Na", lastName="Li", phone="13800138000"))
    process()
    profile = profile_of("user_id", "u1")
    assert profile.pk == anonymous.pk  # the visitor became the known user: one profile, one history
    assert ids_of(profile) == {
        ("anonymous_id", "a1"),
        ("user_id", "u1"),
        ("email", "li.na@example.com"),
        ("phone", "+8613800138000"),
    }
    person = profile.person
    assert person is not None
    assert (person.family_name, person.given_name, person.source, person.owner) == ("Li", "Na", "tracking", None)
    assert list(person.emails.values_list("address", flat=True)) == ["li.na@example.com"]
    assert list(person.phones.values_list("number", flat=True)) == ["+8613800138000"]


def test_identify_links_existing_contact_by_email(source: Source) -> None:
    person = PersonFactory.create(family_name="Wang", emails=["wang@example.com"])
    land(source, identify("u9", email="WANG@example.com"))
    process()
    assert profile_of("user_id", "u9").person == person
    assert Person.objects.count() == 1


def test_known_anonymous_profile_is_merged_on_identify_and_undone(source: Source, admin_user: User) -> None:
    land(source, identify("u1", firstName="Ann"), track("a7"))
    process()
    known, anonymous = profile_of("user_id", "u1"), profile_of("anonymous_id", "a7")
    assert known.pk != anonymous.pk
    land(source, track("a7", "u1"))
    process()
    assert profile_of("anonymous_id", "a7").pk == known.pk
    merge = ProfileMerge.objects.get()
    assert (merge.merged_from_id, merge.merged_into_id, merge.reason, merge.status) == (
        anonymous.pk,
        known.pk,
        MergeReason.IDENTIFY,
        MergeStatus.DONE,
    )
    with pytest.raises(PermissionDenied):
        services.undo_profile_merge(User(role="sales_rep"), merge)
    services.undo_profile_merge(admin_user, merge)
    merge.refresh_from_db()
    assert merge.status == MergeStatus.UNDONE
    assert merge.undone_by == admin_user
    assert profile_of("anonymous_id", "a7").pk == anonymous.pk
    assert ids_of(profile_of("user_id", "u1")) == {("user_id", "u1")}
    with pytest.raises(ValidationError):
        services.undo_profile_merge(admin_user, merge)


@pytest.mark.parametrize(
    "placeholder", ["null", "undefined", "anonymous", "0", "", "  ", "00000000-0000-0000-0000-000000000000"]
)
def test_placeholder_ids_never_link_strangers(source: Source, placeholder: str) -> None:
    land(source, identify("u1", placeholder), identify("u2", placeholder), track(placeholder, "u1"))
    process()
    assert profile_of("user_id", "u1").pk != profile_of("user_id", "u2").pk
    assert not Identifier.objects.filter(type="anonymous_id").exists()
    assert ProfileMerge.objects.count() == 0


def test_placeholder_user_id_is_not_a_user(source: Source) -> None:
    land(source, identify("undefined", "a1", firstName="X"), identify("null", "a2"))
    process()
    assert not Identifier.objects.filter(type="user_id").exists()
    assert profile_of("anonymous_id", "a1").pk != profile_of("anonymous_id", "a2").pk
    assert Person.objects.count() == 0


def test_identify_never_merges_two_known_user_ids(source: Source) -> None:
    # A shared device: two people log in on the same browser, then share an email trait.
    land(
        source,
        identify("u1", "shared", email="family@example.com"),
        identify("u2", "shared", email="family@example.com"),
    )
    process()
    first, second = profile_of("user_id", "u1"), profile_of("user_id", "u2")
    assert first.pk != second.pk
    assert profile_of("anonymous_id", "shared").pk == first.pk
    assert ProfileMerge.objects.count() == 0


def test_matching_email_trait_merges_an_anonymous_profile(source: Source) -> None:
    land(source, identify(None, "a1", email="zhao@example.com"))
    process()
    anonymous = profile_of("anonymous_id", "a1")
    land(source, identify("u5", "a2", email="zhao@example.com"))
    process()
    known = profile_of("user_id", "u5")
    assert profile_of("anonymous_id", "a1").pk == known.pk
    merge = ProfileMerge.objects.get()
    assert merge.merged_from_id in {anonymous.pk, known.pk}
    assert merge.reason == MergeReason.TRAIT_MATCH
    assert Person.objects.count() == 1


def test_identifier_limits_stop_a_shared_device_from_gathering_ids(admin_user: User) -> None:
    source = SourceFactory.create(identifier_limits={"anonymous_id": 2})
    land(source, identify("u1", "a1"), identify("u1", "a2"), identify("u1", "a3"))
    process()
    assert {v for t, v in ids_of(profile_of("user_id", "u1")) if t == "anonymous_id"} == {"a1", "a2"}
    assert not Identifier.objects.filter(value="a3").exists()
    land(source, track("a4"), track("a4", "u1"))
    process()
    assert profile_of("anonymous_id", "a4").pk != profile_of("user_id", "u1").pk  # over the limit: no merge


def test_alias_merges_profiles(source: Source) -> None:
    land(source, track("old-device"), identify("u2"))
    process()
    land(source, {"type": "alias", "previousId": "old-device", "userId": "u2"})
    process()
    assert profile_of("anonymous_id", "old-device").pk == profile_of("user_id", "u2").pk
    assert ProfileMerge.objects.get().reason == MergeReason.ALIAS


def test_alias_renames_a_user_id(source: Source) -> None:
    land(source, identify("old-login"), {"type": "alias", "previousId": "old-login", "userId": "new-login"})
    process()
    assert profile_of("user_id", "old-login").pk == profile_of("user_id", "new-login").pk


# ---------------------------------------------------------------------------------------------
# Consent


def test_consent_required_keeps_history_apart_until_consent_arrives(db: None) -> None:
    source = SourceFactory.create(require_consent_for_joining=True)
    land(source, track("a1"), track("a1"))
    process()
    land(source, identify("u1", "a1", email="chen@example.com", firstName="Chen"))
    process()
    known, anonymous = profile_of("user_id", "u1"), profile_of("anonymous_id", "a1")
    assert known.pk != anonymous.pk
    assert known.person is not None
    assert anonymous.person is None
    pending = ProfileMerge.objects.get()
    assert pending.status == MergeStatus.PENDING_CONSENT
    land(source, track("a1", "u1"))  # more events while waiting: still apart, still one pending join
    process()
    assert ProfileMerge.objects.count() == 1
    assert profile_of("anonymous_id", "a1").pk == anonymous.pk
    customer_services.record_consent(
        None, known.person, purpose="profiling", channel="email", granted=True, source="signup", wording="I agree"
    )
    assert process()["joined"] == 1
    assert profile_of("anonymous_id", "a1").pk == known.pk
    pending.refresh_from_db()
    assert pending.status == MergeStatus.DONE


def test_withdrawn_consent_does_not_join(db: None) -> None:
    source = SourceFactory.create(require_consent_for_joining=True)
    land(source, track("a1"), identify("u1", firstName="Q"))
    process()
    person = profile_of("user_id", "u1").person
    assert person is not None
    for granted in (True, False):
        customer_services.record_consent(
            None, person, purpose="profiling", channel="wechat", granted=granted, source="app", wording="w"
        )
    assert ConsentRecord.objects.count() == 2
    land(source, track("a1", "u1"))
    process()
    assert profile_of("anonymous_id", "a1").pk != profile_of("user_id", "u1").pk
    assert ProfileMerge.objects.get().status == MergeStatus.PENDING_CONSENT


def test_without_the_consent_setting_history_joins_at_once(source: Source) -> None:
    land(source, track("a1"), identify("u1", "a1"))
    process()
    assert profile_of("anonymous_id", "a1").pk == profile_of("user_id", "u1").pk


# ---------------------------------------------------------------------------------------------
# Trait precedence


def test_tracked_traits_do_not_overwrite_a_manual_edit(source: Source, admin_user: User) -> None:
    land(source, identify("u1", firstName="Lei", lastName="Zhang", birthday="1990-02-03"))
    process()
    person = profile_of("user_id", "u1").person
    assert person is not None
    customer_services.update_person(admin_user, person, {"given_name": "Leilei"})  # a rep's correction
    land(source, identify("u1", firstName="Lei", lastName="Zhang-Li", email="z@example.com"))
    process()
    person.refresh_from_db()
    assert person.given_name == "Leilei"  # kept: edited by staff
    assert person.family_name == "Zhang-Li"  # updated: tracking's own earlier value
    assert person.birthday == datetime.date(1990, 2, 3)
    assert list(person.emails.values_list("address", flat=True)) == ["z@example.com"]


def test_source_may_be_configured_to_overwrite_manual_edits(admin_user: User) -> None:
    source = SourceFactory.create(traits_overwrite_manual_edits=True)
    land(source, identify("u1", firstName="Lei"))
    process()
    person = profile_of("user_id", "u1").person
    assert person is not None
    customer_services.update_person(admin_user, person, {"given_name": "Leilei"})
    land(source, identify("u1", firstName="Lei"))
    process()
    person.refresh_from_db()
    assert person.given_name == "Lei"


def test_traits_are_kept_on_the_profile(source: Source) -> None:
    land(source, identify("u1", plan="pro", city="Hangzhou"), identify("u1", plan="enterprise"))
    process()
    assert profile_of("user_id", "u1").traits == {"plan": "enterprise", "city": "Hangzhou"}
