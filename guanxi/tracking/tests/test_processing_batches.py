"""Processing in set-based batches: what one batch mixes (new and known identifiers, late events,
merges), the caches the identity rules read within a batch, and the multi-row SQL helpers."""

import datetime
import json
import re
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guanxi.customers.models import EmailAddress, Person
from guanxi.customers.tests.factories import PersonFactory
from guanxi.staff.models import User
from guanxi.tracking import services
from guanxi.tracking.models import (
    ComputedTraits,
    Identifier,
    LandedEvent,
    MergeStatus,
    ProcessingCheckpoint,
    Profile,
    ProfileMerge,
    Session,
    Source,
)
from guanxi.tracking.queries import session_events
from guanxi.tracking.services import bulk_sql, processing
from guanxi.tracking.services.processing import pending_filter
from guanxi.tracking.tests.factories import SourceFactory
from guanxi.tracking.tests.test_processing import identify, ids_of, land, profile_of, track

T0 = datetime.datetime(2025, 6, 1, 9, 0, tzinfo=datetime.UTC)


def at(minutes: float) -> str:
    return (T0 + datetime.timedelta(minutes=minutes)).isoformat()


def identified(minutes: float, user_id: str, anonymous_id: str, **traits: Any) -> dict[str, Any]:
    """An identify call sent at T0 + minutes."""
    return {**identify(user_id, anonymous_id, **traits), "timestamp": at(minutes)}


def process_all() -> dict[str, int]:
    """One batch for everything landed, so the test's events meet in the same transaction."""
    return services.process_landed_events(batch_size=1000)


def traits_of(profile: Profile) -> ComputedTraits:
    return ComputedTraits.objects.get(profile=profile)


def test_a_batch_mixing_new_and_known_identifiers(source: Source) -> None:
    land(source, track("known", timestamp=at(0)), identified(1, "u1", "known-2", email="u1@example.com"))
    process_all()
    known, user = profile_of("anonymous_id", "known"), profile_of("user_id", "u1")
    assert traits_of(known).event_count == 1
    land(
        source,
        track("known", timestamp=at(10)),  # known identifier, bulk path
        track("new-1", timestamp=at(11)),  # new identifier, bulk path
        track("new-1", timestamp=at(12)),
        identified(13, "u3", "new-1", email="u3@example.com"),  # new user on a profile of this batch
        identified(14, "u1", "new-2"),  # known user, new anonymous id
        track("new-2", timestamp=at(15)),  # counts for u1 after the identify
    )
    assert process_all()["processed"] == 6
    assert profile_of("anonymous_id", "known").pk == known.pk
    fresh = profile_of("user_id", "u3")
    assert fresh.pk == profile_of("anonymous_id", "new-1").pk
    assert ids_of(fresh) == {("anonymous_id", "new-1"), ("user_id", "u3"), ("email", "u3@example.com")}
    assert profile_of("anonymous_id", "new-2").pk == user.pk
    assert Profile.objects.count() == 3
    assert ProfileMerge.objects.count() == 0
    # Each event counted once, for the profile it ended the batch in.
    assert traits_of(known).event_count == 2
    assert traits_of(fresh).event_count == 3
    assert traits_of(user).event_count == 3
    assert (fresh.first_seen, fresh.last_seen) == (
        T0 + datetime.timedelta(minutes=11),
        T0 + datetime.timedelta(minutes=13),
    )
    known.refresh_from_db()
    assert (known.first_seen, known.last_seen) == (T0, T0 + datetime.timedelta(minutes=10))
    assert fresh.person is not None
    assert list(fresh.person.emails.values_list("address", flat=True)) == ["u3@example.com"]
    assert not LandedEvent.objects.filter(pending_filter()).exists()
    # Every event is in one session of its profile (found by the session's span).
    assert sorted(pk for s in Session.objects.all() for pk in session_events(s).values_list("pk", flat=True)) == sorted(
        LandedEvent.objects.values_list("pk", flat=True)
    )


def test_a_late_event_only_widens_a_known_profile(source: Source) -> None:
    land(source, track("a1", timestamp=at(60)), track("a1", timestamp=at(70)))
    process_all()
    land(source, track("a1", timestamp=at(0)))  # arrives late, an hour before the others
    process_all()
    profile = profile_of("anonymous_id", "a1")
    assert (profile.first_seen, profile.last_seen) == (T0, T0 + datetime.timedelta(minutes=70))
    assert traits_of(profile).event_count == 3
    assert traits_of(profile).session_count == 2
    sessions = list(
        Session.objects.filter(profile=profile).order_by("started_at").values_list("event_count", flat=True)
    )
    assert sessions == [1, 2]


def test_merges_inside_one_batch_count_every_event_once(source: Source) -> None:
    land(source, track("a1", timestamp=at(0)), track("a1", timestamp=at(1)), track("a1", timestamp=at(2)))
    process_all()
    old = profile_of("anonymous_id", "a1")
    assert traits_of(old).event_count == 3
    land(
        source,
        track("a2", timestamp=at(3)),
        identified(4, "u1", "a9"),  # a profile created in this batch…
        identified(5, "u1", "a1"),  # …takes in a known one with stored traits
        identified(6, "u1", "a2"),  # …and one created earlier in the same batch
    )
    assert process_all()["processed"] == 4
    root = profile_of("user_id", "u1")
    assert profile_of("anonymous_id", "a1").pk == root.pk
    assert profile_of("anonymous_id", "a2").pk == root.pk
    assert root.pk != old.pk
    assert ProfileMerge.objects.filter(status=MergeStatus.DONE).count() == 2
    assert (traits_of(root).event_count, traits_of(root).session_count) == (7, 1)
    assert traits_of(old).event_count == 3  # kept for an undo; the merged profile's row is not read
    assert root.first_seen == T0
    # The known profile's session moved with it, and the batch's events within the gap joined it.
    assert list(Session.objects.filter(profile=root).values_list("event_count", flat=True)) == [7]


def test_identifier_limits_hold_within_one_batch(db: None) -> None:
    source = SourceFactory.create(identifier_limits={"email": 1})
    land(source, identify("u1", "a1", email="first@example.com"), identify("u1", "a1", email="second@example.com"))
    process_all()
    assert {v for t, v in ids_of(profile_of("user_id", "u1")) if t == "email"} == {"first@example.com"}
    assert not Identifier.objects.filter(value="second@example.com").exists()


def test_contacts_are_found_by_email_once_per_batch(source: Source) -> None:
    person = PersonFactory.create(family_name="Wang", emails=["wang@example.com"])
    land(
        source,
        identify("u1", "a1", email="wang@example.com"),
        identify("u2", "a2", email="new@example.com", firstName="Xin"),
        identify("u3", "a3", email="new@example.com"),  # the same new address: the same new contact
    )
    with CaptureQueriesContext(connection) as queries:
        process_all()
    assert profile_of("user_id", "u1").person == person
    assert profile_of("user_id", "u2").person_id == profile_of("user_id", "u3").person_id
    assert Person.objects.count() == 2
    assert EmailAddress.objects.filter(address="new@example.com").count() == 1
    email_reads = [q["sql"] for q in queries.captured_queries if 'FROM "customers_emailaddress"' in q["sql"]]
    assert len(email_reads) == 1  # one look-up for the batch, not one per identify


def test_known_contacts_are_read_once_per_batch_and_repeats_write_nothing(source: Source) -> None:
    messages = [identify(f"u{n}", f"a{n}", email=f"p{n}@example.com", firstName=f"N{n}") for n in range(5)]
    land(source, *messages)
    process_all()
    assert Person.objects.count() == 5
    land(source, *messages)  # the same calls again: contacts known, nothing new to say
    with CaptureQueriesContext(connection) as queries:
        assert process_all()["processed"] == 5
    sql = [q["sql"] for q in queries.captured_queries]
    assert len([q for q in sql if 'FROM "customers_person"' in q]) == 1
    # One look-up of the batch's addresses, one read of the known contacts' addresses.
    assert len([q for q in sql if 'FROM "customers_emailaddress"' in q]) == 2
    assert len([q for q in sql if 'FROM "customers_phonenumber"' in q]) == 1
    assert len([q for q in sql if q.startswith('SELECT "tracking_profile"') and "FOR UPDATE" in q]) <= 1
    assert not [q for q in sql if q.startswith('UPDATE "tracking_profile" SET "traits"')]
    assert not [q for q in sql if q.startswith('UPDATE "customers_person"')]


def test_undoing_a_merge_waits_for_the_batch_in_progress(source: Source, admin_user: User) -> None:
    land(source, identify("u1"), track("a7"))
    process_all()
    land(source, track("a7", "u1"))
    process_all()
    merge = ProfileMerge.objects.get()
    with CaptureQueriesContext(connection) as queries:
        services.undo_profile_merge(admin_user, merge)
    checkpoint_reads = [q["sql"] for q in queries.captured_queries if "tracking_processingcheckpoint" in q["sql"]]
    assert len(checkpoint_reads) == 1
    if connection.features.has_select_for_update:  # SQLite locks the whole database instead
        assert "FOR UPDATE" in checkpoint_reads[0]
    assert ProcessingCheckpoint.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# The multi-row SQL helpers


def _profiles(count: int) -> list[int]:
    now = timezone.now()
    return bulk_sql.insert_rows(
        Profile,
        ["traits", "applied_person_values", "first_seen", "last_seen", "created_at"],
        [({"n": n, "name": '王 "quoted"'}, {}, now, now, now) for n in range(count)],
    )


def test_insert_rows_returns_keys_in_row_order(db: None) -> None:
    ids = _profiles(1203)  # more than one SQLite chunk
    assert len(ids) == 1203
    stored = dict(Profile.objects.values_list("pk", "traits"))
    assert [stored[pk]["n"] for pk in ids] == list(range(1203))
    assert stored[ids[0]]["name"] == '王 "quoted"'


def test_update_rows_widens_spans_and_sets_constants(db: None) -> None:
    ids = _profiles(3)
    base = timezone.now()
    hour = datetime.timedelta(hours=1)
    Profile.objects.filter(pk__in=ids).update(first_seen=base, last_seen=base)
    bulk_sql.update_rows(
        Profile,
        ["first_seen", "last_seen"],
        [(ids[0], base - hour, base + hour), (ids[1], base + hour, base - hour)],
        least=["first_seen"],
        greatest=["last_seen"],
    )
    spans = {pk: (first, last) for pk, first, last in Profile.objects.values_list("pk", "first_seen", "last_seen")}
    assert spans[ids[0]] == (base - hour, base + hour)
    assert spans[ids[1]] == (base, base)  # never narrowed
    assert spans[ids[2]] == (base, base)  # not named
    bulk_sql.update_rows(
        ComputedTraits,
        ["revenue", "products"],
        [],  # nothing to write: no statement
    )
    ComputedTraits.objects.bulk_create([ComputedTraits(profile_id=pk) for pk in ids])
    bulk_sql.update_rows(
        ComputedTraits,
        ["revenue", "products", "last_order_at"],
        [(ids[0], Decimal("12.35"), {"P1": 2}, None), (ids[2], Decimal("0.10"), {}, base)],
        constants={"device": "mobile"},
    )
    rows = {
        row[0]: row[1:]
        for row in ComputedTraits.objects.values_list("pk", "revenue", "products", "last_order_at", "device")
    }
    assert rows[ids[0]] == (Decimal("12.35"), {"P1": 2}, None, "mobile")
    assert rows[ids[1]] == (Decimal("0.00"), {}, None, "")
    assert rows[ids[2]] == (Decimal("0.10"), {}, base, "mobile")


def test_in_chunks_covers_every_value(db: None) -> None:
    ids = _profiles(2000)
    found = [
        pk
        for chunk in bulk_sql.in_chunks(ids)
        for pk in Profile.objects.filter(pk__in=chunk).values_list("pk", flat=True)
    ]
    assert sorted(found) == sorted(ids)
    words = [f"w{n}" for n in range(1900)]
    now = timezone.now()
    bulk_sql.insert_rows(
        Identifier, ["type", "value", "profile", "created_at"], [("email", w, ids[0], now) for w in words]
    )
    matched = [
        value
        for chunk in bulk_sql.in_chunks([*words[::2], "missing"])
        for value in Identifier.objects.filter(value__in=chunk).values_list("value", flat=True)
    ]
    assert sorted(matched) == sorted(words[::2])
    assert list(bulk_sql.in_chunks([])) == []


@pytest.mark.parametrize("events", [1, 3])
def test_a_batch_moves_the_watermark_and_never_writes_an_event(source: Source, events: int) -> None:
    land(source, *[track("a1", timestamp=at(n)) for n in range(events)])
    table = LandedEvent._meta.db_table
    with CaptureQueriesContext(connection) as queries_run:
        assert process_all()["processed"] == events
    written = {
        match.group(1)
        for q in queries_run.captured_queries
        if (match := re.match(r'(?:UPDATE|INSERT INTO|DELETE FROM) "?(\w+)"?', q["sql"]))
    }
    assert "tracking_session" in written
    assert table not in written
    assert (
        ProcessingCheckpoint.objects.get().last_event_id
        == LandedEvent.objects.order_by("-id").values_list("id", flat=True)[0]
    )
    (session,) = Session.objects.filter(profile=profile_of("anonymous_id", "a1"))
    assert session_events(session).count() == events


# ---------------------------------------------------------------------------------------------
# Reading and writing JSON with orjson: the same values as the standard library


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "track", "properties": {"sku": "S1", "price": 12.5, "n": 3}, "name": "王 \\"q\\""}',
        '{"id": 123456789012345678901234}',  # beyond 64 bits: orjson would read a float
        '{"id": "123456789012345678901234"}',  # a run of digits in a string goes the slow way too
        '{"big": 18446744073709551615, "small": -9223372036854775808}',
        '{"x": NaN, "y": Infinity}',  # orjson refuses these; SQLite may hold them
        '"\\ud800"',  # a lone escaped surrogate
        '{"a": 1, "a": 2}',
        "[]",
        "null",
        "not json",
        "",
    ],
)
def test_read_json_reads_what_djangos_json_field_reads(text: str) -> None:
    expected = models_json_field().from_db_value(text, None, connection)
    found = bulk_sql.read_json(text)
    assert repr(found) == repr(expected)  # repr: NaN is not equal to itself
    assert type(found) is type(expected)


def models_json_field() -> Any:
    return LandedEvent._meta.get_field("payload")


def test_read_json_of_null() -> None:
    assert bulk_sql.read_json(None) is None


def test_a_payload_with_a_wide_integer_is_processed_as_written(source: Source) -> None:
    """Read through orjson, a 24-digit product id would come back as a float and be counted
    under "1.2345678901234568e+23"."""
    land(source, track("a1", event="Product Viewed", properties={"product_id": 123456789012345678901234}))
    process_all()
    assert traits_of(profile_of("anonymous_id", "a1")).products == {"123456789012345678901234": 1}


def test_the_document_keeps_every_datetime_instant_and_value(db: None) -> None:
    """orjson writes UTC datetimes itself; others (an offset with seconds, which orjson would
    cut to minutes) and integers beyond 64 bits go through `isoformat` and the standard library."""
    base = datetime.datetime(2025, 6, 1, 9, 0, 0, 123456, tzinfo=datetime.UTC)
    odd = datetime.timezone(datetime.timedelta(hours=5, minutes=30, seconds=15))
    values = [
        base,
        base.astimezone(zoneinfo.ZoneInfo("UTC")),
        base.astimezone(datetime.timezone(datetime.timedelta(hours=8))),
        base.astimezone(odd),
        base.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")),
    ]
    ids = _profiles(len(values))
    bulk_sql.update_rows(Profile, ["first_seen"], [(pk, value) for pk, value in zip(ids, values, strict=True)])
    stored = dict(Profile.objects.filter(pk__in=ids).values_list("pk", "first_seen"))
    assert [stored[pk] for pk in ids] == [base] * len(values)
    bulk_sql.update_rows(Profile, ["traits"], [(ids[0], {"wide": 2**70, "name": "王"}), (ids[1], {"n": 1})])
    traits = dict(Profile.objects.filter(pk__in=ids[:2]).values_list("pk", "traits"))
    assert traits == {ids[0]: {"wide": 2**70, "name": "王"}, ids[1]: {"n": 1}}
    prepared = [bulk_sql._pg_datetime(value) for value in [*values, None]]
    assert json.loads(bulk_sql._document([1, "王", *prepared])) == [
        1,
        "王",
        *(value.isoformat() for value in values),
        None,
    ]
    assert json.loads(bulk_sql._document({"wide": 2**70})) == {"wide": 2**70}


def test_identifier_cleaning() -> None:
    for value in ["", "  ", "0", "-0-", "00-00", " 000 ", "NULL", "[object Object]"]:
        assert processing.is_placeholder(value), value
    for value in ["0a", "a-0", "1", "-0-1", "anon-1"]:
        assert not processing.is_placeholder(value), value
    clean = processing._clean_identifier
    assert clean("user_id", "  u1 ") == "u1"
    assert clean("user_id", 42) == "42"
    assert clean("user_id", 4.5) == "4.5"
    assert clean("user_id", 0) is None
    assert clean("user_id", True) is None
    assert clean("user_id", None) is None
    assert clean("user_id", ["u1"]) is None
    assert clean("user_id", "x" * 256) is None
    assert clean("anonymous_id", "x" * 255) == "x" * 255
    assert clean("email", " Ann@Example.COM ") == "ann@example.com"
    assert clean("email", "not an e-mail") is None
    assert clean("email", "not an e-mail") is None  # the cached answer too


def test_phones_are_read_in_the_default_region_of_the_moment(settings: Any) -> None:
    clean = processing._clean_identifier
    settings.GUANXI_DEFAULT_PHONE_REGION = "GB"
    assert clean("phone", "(020) 7946 0958") == "+442079460958"
    settings.GUANXI_DEFAULT_PHONE_REGION = "US"
    assert clean("phone", "(020) 7946 0958") is None
    settings.GUANXI_DEFAULT_PHONE_REGION = "CN"
    assert clean("phone", "(020) 7946 0958") == "+862079460958"


def test_keys_per_event_cleans_each_pair_of_ids_once() -> None:
    def row(pk: int, user_id: str, anonymous_id: str) -> processing._Row:
        return processing._Row(pk, 1, "track", "Viewed", user_id, anonymous_id, T0, {})

    rows = [row(1, "u1", "a1"), row(2, "", "a1"), row(3, "u1", "a1"), row(4, "null", " a2 "), row(5, "", "")]
    per_event = processing._keys_per_event(rows)
    assert per_event == [
        [("user_id", "u1"), ("anonymous_id", "a1")],
        [("anonymous_id", "a1")],
        [("user_id", "u1"), ("anonymous_id", "a1")],
        [("anonymous_id", "a2")],
        [],
    ]
    assert per_event[0] is per_event[2]  # one cleaning for the pair


def test_identify_calls_read_back_no_profile_of_the_batch_and_write_identifiers_together(source: Source) -> None:
    visitors = range(3)
    land(source, *(track(f"a{n}", timestamp=at(n)) for n in visitors))
    land(source, *(identified(10 + n, f"u{n}", f"a{n}", email=f"u{n}@example.com") for n in visitors))
    with CaptureQueriesContext(connection) as queries:
        assert process_all()["processed"] == 6
    statements = [q["sql"] for q in queries.captured_queries]
    # The profiles this batch inserted are known as written: none is locked and read again.
    assert [sql for sql in statements if sql.startswith("SELECT") and '"tracking_profile"."traits"' in sql] == []
    # The anonymous visitors' identifiers in one statement, the identify calls' in another.
    assert sum(1 for sql in statements if sql.startswith('INSERT INTO "tracking_identifier"')) == 2
    assert Identifier.objects.count() == 9
    assert {profile_of("user_id", f"u{n}").pk for n in visitors} == {
        profile_of("anonymous_id", f"a{n}").pk for n in visitors
    }
