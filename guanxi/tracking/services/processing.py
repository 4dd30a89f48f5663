"""Processing landed events in batches: identity resolution, profiles, contacts and their traits.

One batch is one transaction: the checkpoint row is locked (so two workers never take the same
events), the events above its watermark and up to the high-water mark (`high_water_mark`) are
read by id, identities resolved, and the watermark moved past them before commit. A crash rolls
the whole batch back, watermark included, so each event is processed exactly once. No event
row is written: a mark per row rewrote the row and its indexes, which cost more than all the
rest of processing. Events that only touch a known identifier (most of them) are handled in bulk; identify,
alias and events linking two identifiers go one by one through the identity rules, reading what
they ask about (identifiers and their profiles, the identifiers each profile holds, contacts by
e-mail) from caches filled for the whole batch in one query each. Every write of the bulk path
is one statement per batch and step on PostgreSQL (`bulk_sql`); measured by
`benchmarks/bench_tracking_processing.py`.

- a placeholder id (null, undefined, anonymous, 0, …) never links anything;
- an identify alone never merges two profiles that each have a different known user id;
- a profile takes at most the source's limit of identifiers of each type (shared devices);
- where the source requires it, anonymous history joins a person only once that person has
  granted profiling consent; until then the join is recorded as pending and done when consent
  arrives (`process_pending_joins`).
"""

import contextlib
import datetime
import functools
import gc
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from guanxi.core.history import record_change
from guanxi.core.models import ChangeAction
from guanxi.customers import bulk as customer_bulk
from guanxi.customers import services as customer_services
from guanxi.customers.bulk import NewPerson
from guanxi.customers.models import ConsentPurpose, ConsentRecord, EmailAddress, Person, PhoneNumber
from guanxi.customers.models import Source as PartySource
from guanxi.customers.normalise import InvalidValueError, full_name, normalise_email, normalise_phone
from guanxi.staff import access
from guanxi.staff.models import StaffRole, User
from guanxi.tracking.models import (
    ComputedTraits,
    Identifier,
    IdentifierType,
    LandedEvent,
    MergeReason,
    MergeStatus,
    ProcessingCheckpoint,
    Profile,
    ProfileMerge,
    Session,
    Source,
)
from guanxi.tracking.services import traits as computed
from guanxi.tracking.services.bulk_sql import in_chunks, insert_rows, json_text, read_json, update_rows
from guanxi.tracking.services.landing import unpack_batches
from guanxi.tracking.services.plans import PlanChecker
from guanxi.tracking.services.sessions import SessionEvent, assign_sessions

logger = logging.getLogger(__name__)

# About a second of events at the rate processing is to keep up with (issue 6: 20,000 events/s).
# A profile seen several times in a backlog is then written once a batch instead of once a
# 5,000-event batch: +15-25 % events/s in `bench_tracking_processing.py` (2026-12-02, sixth
# session), for a transaction of about two seconds and a few tens of MB of payloads.
DEFAULT_BATCH_SIZE = 20_000
# How long processing waits for landings in flight below the high-water mark (`high_water_mark`).
HIGH_WATER_WAIT_SECONDS = 5.0

PLACEHOLDER_IDS = frozenset(
    {
        "",
        "0",
        "-1",
        "null",
        "nil",
        "none",
        "nan",
        "undefined",
        "anonymous",
        "anon",
        "unknown",
        "guest",
        "user",
        "test",
        "n/a",
        "na",
        "false",
        "true",
        "{}",
        "[]",
        "<nil>",
        "[object object]",
        "userid",
        "user_id",
        "anonymousid",
        "anonymous_id",
        "00000000-0000-0000-0000-000000000000",
    }
)

# Trait keys (as SDKs and sites send them) naming an identifier type.
TRAIT_IDENTIFIERS: dict[str, str] = {
    "email": IdentifierType.EMAIL.value,
    "phone": IdentifierType.PHONE.value,
    "wechatOpenId": IdentifierType.WECHAT_OPENID.value,
    "wechat_openid": IdentifierType.WECHAT_OPENID.value,
    "openid": IdentifierType.WECHAT_OPENID.value,
    "wechatUnionId": IdentifierType.WECHAT_UNIONID.value,
    "wechat_unionid": IdentifierType.WECHAT_UNIONID.value,
    "unionid": IdentifierType.WECHAT_UNIONID.value,
}
# Trait keys written to contact fields (under the source's precedence rule).
PERSON_TRAITS: dict[str, str] = {
    "firstName": "given_name",
    "first_name": "given_name",
    "lastName": "family_name",
    "last_name": "family_name",
    "birthday": "birthday",
}
MAX_PROFILE_TRAITS = 200

Key = tuple[str, str]
# The columns processing writes when it creates profiles and identifiers (`bulk_sql.insert_rows`).
PROFILE_COLUMNS = ["traits", "applied_person_values", "first_seen", "last_seen", "created_at"]
IDENTIFIER_COLUMNS = ["type", "value", "profile", "source", "created_at"]


def _tracking_actor() -> User:
    """The unsaved actor processing writes as: allowed like an admin, recorded as nobody."""
    return User(username="tracking", role=StaffRole.ADMIN)


def is_placeholder(value: str) -> bool:
    """An id that many strangers share by accident (a default, a serialised null)."""
    text = value.strip().lower()
    return text in PLACEHOLDER_IDS or not text.strip("0-")  # only zeros and dashes (or nothing)


def _clean_identifier(kind: str, raw: Any) -> str | None:
    if type(raw) is str:  # most ids: the general test below costs three times as much
        value = raw.strip()
    elif isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None
    else:
        value = str(raw).strip()
    if not value or len(value) > 255 or is_placeholder(value):
        return None
    if kind == IdentifierType.EMAIL.value:
        return _normalised_email(value)
    if kind == IdentifierType.PHONE.value:
        return _normalised_phone(value, settings.GUANXI_DEFAULT_PHONE_REGION)
    return value


# The rules clean an identify call's e-mail and phone three times (its identifiers, their
# links, the contact), and a visitor sends the same ones again: validating an address took
# 80 µs, a fifth of the rules' time at 5 % identify calls in `bench_tracking_processing.py`.
@functools.lru_cache(maxsize=65_536)
def _normalised_email(value: str) -> str | None:
    try:
        return normalise_email(value)
    except InvalidValueError:
        return None


@functools.lru_cache(maxsize=65_536)
def _normalised_phone(value: str, region: str) -> str | None:
    try:
        return normalise_phone(value, region)
    except InvalidValueError:
        return None


def _trait_identifiers(traits: Mapping[str, Any]) -> list[Key]:
    keys: list[Key] = []
    for trait, kind in TRAIT_IDENTIFIERS.items():
        if trait in traits:
            value = _clean_identifier(kind, traits[trait])
            if value and (kind, value) not in keys:
                keys.append((kind, value))
    return keys


def _traits_of(payload: Mapping[str, Any]) -> dict[str, Any]:
    traits = payload.get("traits")
    return traits if isinstance(traits, dict) else {}


def _has_profiling_consent(person_id: int | None) -> bool:
    """Granted on any channel, going by the newest record per channel (as `consent_state` reads it)."""
    if person_id is None:
        return False
    latest: dict[str, bool] = {}
    records = ConsentRecord.objects.filter(person_id=person_id, purpose=ConsentPurpose.PROFILING)
    for channel, granted in records.order_by("-recorded_at", "-id").values_list("channel", "granted"):
        latest.setdefault(channel, granted)
    return any(latest.values())


# ---------------------------------------------------------------------------------------------
# The identity graph as one batch sees it


@dataclass
class _NewProfile:
    first_seen: datetime.datetime
    last_seen: datetime.datetime
    keys: list[Key] = field(default_factory=list)
    source_id: int | None = None


class _Graph:
    """Identifier → profile lookups cached for one batch, with new profiles created in bulk.

    `held` caches the identifiers a profile holds, by type, for the rules' limit and user-id
    checks (read for all the batch's identify and alias events in one query, then kept current
    by the resolver's writes). Only processing writes identifiers, under the checkpoint lock
    (undoing a merge and completing pending joins take it too), so the cache cannot go stale
    within a batch; a merge forgets both profiles' entries.
    """

    def __init__(self) -> None:
        self.owner: dict[Key, int | None] = {}
        self.parent: dict[int, int | None] = {}
        self.new: dict[Key, _NewProfile] = {}
        self.touched: dict[int, list[datetime.datetime]] = {}
        self.held: dict[int, dict[str, set[str]]] = {}
        # Profiles this batch created and nothing merged into: they have no computed traits yet.
        self.created: set[int] = set()
        # The rows this batch inserted, by id: (first seen, last seen, created). Nobody else
        # sees them before the batch commits, so the rules need not lock and read them back.
        self.fresh: dict[int, tuple[datetime.datetime, datetime.datetime, datetime.datetime]] = {}

    def reset(self) -> None:
        """Forget lookups that may have been rolled back; later ones go to the database. (New
        profiles are always flushed before the rules run, and touches only widen a time span.)"""
        self.owner.clear()
        self.parent.clear()
        self.held.clear()
        self.fresh.clear()

    def load_held(self, profile_ids: Iterable[int]) -> None:
        """Read the identifiers of the given profiles not cached yet, in one query."""
        pending = sorted({pk for pk in profile_ids if pk not in self.held})
        for pk in pending:
            self.held[pk] = {}
        for chunk in in_chunks(pending):
            for profile_id, kind, value in Identifier.objects.filter(profile_id__in=chunk).values_list(
                "profile_id", "type", "value"
            ):
                self.held[profile_id].setdefault(kind, set()).add(value)

    def held_of(self, profile_id: int) -> dict[str, set[str]]:
        if profile_id not in self.held:
            self.load_held([profile_id])
        return self.held[profile_id]

    def forget_held(self, *profile_ids: int) -> None:
        for pk in profile_ids:
            self.held.pop(pk, None)

    def prefetch(self, keys: Iterable[Key]) -> None:
        by_type: dict[str, set[str]] = {}
        for kind, value in keys:
            if (kind, value) not in self.owner:
                by_type.setdefault(kind, set()).add(value)
        profile_ids: set[int] = set()
        for kind, values in by_type.items():
            ordered = sorted(values)
            for value in ordered:
                self.owner[(kind, value)] = None
            for chunk in in_chunks(ordered):
                for value, profile_id in Identifier.objects.filter(type=kind, value__in=chunk).values_list(
                    "value", "profile_id"
                ):
                    self.owner[(kind, value)] = profile_id
                    profile_ids.add(profile_id)
        self._load_parents(profile_ids)

    def _load_parents(self, profile_ids: Iterable[int]) -> None:
        pending = sorted(pk for pk in profile_ids if pk not in self.parent)
        while pending:
            found: list[int] = []
            for chunk in in_chunks(pending):
                for pk, merged_into in Profile.objects.filter(pk__in=chunk).values_list("pk", "merged_into_id"):
                    self.parent[pk] = merged_into
                    if merged_into is not None and merged_into not in self.parent:
                        found.append(merged_into)
            pending = found

    def root(self, profile_id: int) -> int:
        seen = 0
        while True:
            if profile_id not in self.parent:
                self._load_parents([profile_id])
            parent = self.parent.get(profile_id)
            if parent is None or seen > 100:
                return profile_id
            profile_id, seen = parent, seen + 1

    def profile_of(self, key: Key) -> int | None:
        """The root profile owning an identifier, if it is known (flushed or in the database)."""
        if key not in self.owner:
            self.prefetch([key])
        owner = self.owner[key]
        return None if owner is None else self.root(owner)

    def touch(self, profile_id: int, at: datetime.datetime) -> None:
        span = self.touched.get(profile_id)
        if span is None:
            self.touched[profile_id] = [at, at]
        else:
            span[0], span[1] = min(span[0], at), max(span[1], at)

    def add_new(self, key: Key, at: datetime.datetime, source_id: int) -> None:
        pending = self.new.get(key)
        if pending is None:
            self.new[key] = _NewProfile(at, at, [key], source_id)
        else:
            pending.first_seen, pending.last_seen = min(pending.first_seen, at), max(pending.last_seen, at)

    def insert_profiles(self, spans: Sequence[tuple[datetime.datetime, datetime.datetime]]) -> list[int]:
        """New profiles, one per (first seen, last seen), written at once (`bulk_sql`: ids back
        through RETURNING in row order, without building a model instance per row) and known
        for the rest of the batch as `created` and `fresh`."""
        now = timezone.now()
        ids = insert_rows(Profile, PROFILE_COLUMNS, [({}, {}, first, last, now) for first, last in spans])
        self.created.update(ids)
        for profile_id, (first, last) in zip(ids, spans, strict=True):
            self.parent[profile_id] = None
            self.fresh[profile_id] = (first, last, now)
        return ids

    def flush_new(self) -> None:
        """Write the profiles the bulk path created and their identifiers."""
        if not self.new:
            return
        pending = list(self.new.values())
        ids = self.insert_profiles([(p.first_seen, p.last_seen) for p in pending])
        now = timezone.now()
        rows: list[tuple[str, str, int, int | None, datetime.datetime]] = []
        for new, profile_id in zip(pending, ids, strict=True):
            held: dict[str, set[str]] = {}
            for key in new.keys:
                self.owner[key] = profile_id
                held.setdefault(key[0], set()).add(key[1])
                rows.append((key[0], key[1], profile_id, new.source_id, now))
            self.held[profile_id] = held
        insert_rows(Identifier, IDENTIFIER_COLUMNS, rows)
        self.new.clear()

    def flush_touched(self) -> None:
        """Widen first/last seen of the profiles this batch saw, each only ever widening the
        span, so no read is needed first."""
        if not self.touched:
            return
        update_rows(
            Profile,
            ["first_seen", "last_seen"],
            [(profile_id, first, last) for profile_id, (first, last) in sorted(self.touched.items())],
            least=["first_seen"],
            greatest=["last_seen"],
        )
        self.touched.clear()


# ---------------------------------------------------------------------------------------------
# The identity rules, applied one event at a time


@dataclass
class _Contact:
    """What the rules compare tracked traits with: a contact's names and birthday, e-mails and phones."""

    values: dict[str, Any]
    emails: list[dict[str, Any]] = field(default_factory=list)
    phones: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _PendingPerson:
    profile_ids: set[int] = field(default_factory=set)
    values: dict[str, Any] = field(default_factory=dict)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)


class _Resolver:
    def __init__(self, graph: _Graph, sources: dict[int, Source]) -> None:
        self.graph = graph
        self.sources = sources
        self.actor = _tracking_actor()
        self.pending_people: list[_PendingPerson] = []
        self.pending_by_profile: dict[int, int] = {}
        self.pending_by_email: dict[str, int] = {}
        self.people_by_email: dict[str, int | None] = {}
        # Profiles the rules read and write, locked and read once for the batch (a merge and
        # the rules change the cached instances as they change the rows), and their contacts.
        self.profiles: dict[int, Profile] = {}
        self.contacts: dict[int, _Contact | None] = {}
        # Identifiers given to profiles, written together (`flush_identifiers`): the rules read
        # who holds what from the graph's caches, so only a merge, which moves rows, needs
        # them written first.
        self.pending_identifiers: list[tuple[str, str, int, int, datetime.datetime]] = []

    def reset(self) -> None:
        """Forget rows that may have been rolled back with a failed event."""
        self.profiles.clear()
        self.contacts.clear()
        self.pending_identifiers.clear()
        self.people_by_email.clear()
        self.pending_people.clear()
        self.pending_by_profile.clear()
        self.pending_by_email.clear()

    def flush_identifiers(self) -> None:
        if self.pending_identifiers:
            insert_rows(Identifier, IDENTIFIER_COLUMNS, self.pending_identifiers)
            self.pending_identifiers.clear()

    def prefetch_profiles(self, profile_ids: Iterable[int]) -> None:
        """Lock and read the given profiles not cached yet, and their contacts, a query each."""
        pending = sorted({pk for pk in profile_ids if pk not in self.profiles})
        for chunk in in_chunks(pending):
            for profile in Profile.objects.select_for_update().filter(pk__in=chunk):
                self.profiles[profile.pk] = profile
        self._prefetch_contacts(self.profiles[pk].person_id for pk in pending if pk in self.profiles)

    def _profile(self, profile_id: int) -> Profile:
        profile = self.profiles.get(profile_id)
        if profile is None:
            fresh = self.graph.fresh.get(profile_id)
            if fresh is None:
                profile = Profile.objects.select_for_update().get(pk=profile_id)
            else:
                first_seen, last_seen, created_at = fresh
                row: dict[str, Any] = {
                    "id": profile_id,
                    "person_id": None,
                    "merged_into_id": None,
                    "traits": {},
                    "applied_person_values": {},
                    "first_seen": first_seen,
                    "last_seen": last_seen,
                    "created_at": created_at,
                }
                names = [f.attname for f in Profile._meta.concrete_fields]
                profile = Profile.from_db(connection.alias, names, [row[name] for name in names])
            self.profiles[profile_id] = profile
        return profile

    def _prefetch_contacts(self, person_ids: Iterable[int | None]) -> None:
        pending = sorted({pk for pk in person_ids if pk is not None and pk not in self.contacts})
        for pk in pending:
            self.contacts[pk] = None
        for chunk in in_chunks(pending):
            for pk, given, family, birthday in Person.objects.filter(pk__in=chunk).values_list(
                "pk", "given_name", "family_name", "birthday"
            ):
                self.contacts[pk] = _Contact({"given_name": given, "family_name": family, "birthday": birthday})
        for chunk in in_chunks(pending):
            # In the models' own order (primary first), as the contact's page lists them.
            for person_id, address, kind, primary in EmailAddress.objects.filter(person_id__in=chunk).values_list(
                "person_id", "address", "kind", "is_primary"
            ):
                contact = self.contacts.get(person_id)
                if contact is not None:
                    contact.emails.append({"address": address, "kind": kind, "is_primary": primary})
            for person_id, number, kind, primary in PhoneNumber.objects.filter(person_id__in=chunk).values_list(
                "person_id", "number", "kind", "is_primary"
            ):
                contact = self.contacts.get(person_id)
                if contact is not None:
                    contact.phones.append({"number": number, "kind": kind, "is_primary": primary})

    def _contact(self, person_id: int) -> _Contact | None:
        if person_id not in self.contacts:
            self._prefetch_contacts([person_id])
        return self.contacts[person_id]

    # -- small helpers ------------------------------------------------------------------------

    def _identifier_count(self, profile_id: int, kind: str) -> int:
        return len(self.graph.held_of(profile_id).get(kind, ()))

    def _user_ids(self, profile_id: int) -> set[str]:
        return set(self.graph.held_of(profile_id).get(IdentifierType.USER_ID.value, ()))

    def _create_profile(self, keys: list[Key], at: datetime.datetime, source: Source) -> int:
        """A new profile holding `keys`; written at once (the rules may merge it next), by the
        bulk path's INSERT: a model instance and its save cost more than the row."""
        (profile_id,) = self.graph.insert_profiles([(at, at)])
        self.graph.held[profile_id] = {}
        for key in keys:
            self._attach(profile_id, key, source, check_limit=False)
        return profile_id

    def _attach(self, profile_id: int, key: Key, source: Source, *, check_limit: bool = True) -> bool:
        """Give an unowned identifier to a profile, within the source's limit for its type."""
        if check_limit and self._identifier_count(profile_id, key[0]) >= source.limit_for(key[0]):
            return False
        self.pending_identifiers.append((key[0], key[1], profile_id, source.pk, timezone.now()))
        self.graph.owner[key] = profile_id
        self.graph.held_of(profile_id).setdefault(key[0], set()).add(key[1])
        return True

    def _touch(self, profile_id: int, at: datetime.datetime) -> None:
        self.graph.touch(profile_id, at)

    # -- joining ----------------------------------------------------------------------------

    def join(
        self,
        from_id: int,
        into_id: int,
        reason: str,
        source: Source,
        *,
        allow_two_user_ids: bool = False,
    ) -> bool:
        """Merge one profile into another under the rules; False when a rule stops it."""
        if from_id == into_id:
            return True
        merged_from, into = self._profile(from_id), self._profile(into_id)
        if merged_from.person_id and into.person_id and merged_from.person_id != into.person_id:
            return False  # two contacts: merging people is the duplicates tool's decision, not ours
        if not allow_two_user_ids and self._user_ids(from_id) and self._user_ids(into_id):
            return False
        for kind in IdentifierType.values:
            if kind == IdentifierType.USER_ID.value and allow_two_user_ids:
                continue
            moving = self._identifier_count(from_id, kind)
            if moving and self._identifier_count(into_id, kind) + moving > source.limit_for(kind):
                return False
        needs_consent = source.require_consent_for_joining and merged_from.person_id is None
        if needs_consent and not _has_profiling_consent(into.person_id):
            exists = ProfileMerge.objects.filter(
                merged_from=merged_from, merged_into=into, status=MergeStatus.PENDING_CONSENT
            ).exists()
            if not exists:
                ProfileMerge.objects.create(
                    merged_from=merged_from,
                    merged_into=into,
                    reason=reason,
                    source=source,
                    status=MergeStatus.PENDING_CONSENT,
                )
            return False
        self.flush_identifiers()  # the merge moves the rows
        perform_merge(merged_from, into, ProfileMerge(reason=reason, source=source))
        self.graph.parent[from_id] = into_id
        self.graph.forget_held(from_id, into_id)
        self.graph.created.discard(into_id)  # it took the merged profile's computed traits
        return True

    # -- per message type ----------------------------------------------------------------------

    def link_user(self, user_key: Key, anonymous_key: Key | None, at: datetime.datetime, source: Source) -> int:
        """The profile of a known user id, joining the anonymous id's history to it."""
        profile_id = self.graph.profile_of(user_key)
        anonymous_profile = self.graph.profile_of(anonymous_key) if anonymous_key else None
        if profile_id is None:
            if (
                anonymous_profile is not None
                and not source.require_consent_for_joining
                and not self._user_ids(anonymous_profile)
            ):
                # The anonymous visitor becomes the known user: history and profile stay one.
                self._attach(anonymous_profile, user_key, source, check_limit=False)
                self._touch(anonymous_profile, at)
                return anonymous_profile
            profile_id = self._create_profile([user_key], at, source)
        if anonymous_key is not None:
            if anonymous_profile is None:
                if source.require_consent_for_joining and not _has_profiling_consent(self._person_of(profile_id)):
                    separate = self._create_profile([anonymous_key], at, source)
                    self.join(separate, profile_id, MergeReason.IDENTIFY, source)
                else:
                    self._attach(profile_id, anonymous_key, source)
            elif anonymous_profile != profile_id:
                self.join(anonymous_profile, profile_id, MergeReason.IDENTIFY, source)
        self._touch(profile_id, at)
        return profile_id

    def _person_of(self, profile_id: int) -> int | None:
        return self._profile(profile_id).person_id

    def handle(self, event: LandedEvent) -> None:
        source = self.sources[event.source_id]
        at = event.timestamp
        user_id = _clean_identifier(IdentifierType.USER_ID.value, event.user_id)
        anonymous_id = _clean_identifier(IdentifierType.ANONYMOUS_ID.value, event.anonymous_id)
        user_key = (IdentifierType.USER_ID.value, user_id) if user_id else None
        anonymous_key = (IdentifierType.ANONYMOUS_ID.value, anonymous_id) if anonymous_id else None
        if event.type == "alias":
            self.alias(event, source)
            return
        traits = _traits_of(event.payload) if event.type == "identify" else {}
        if user_key:
            profile_id: int | None = self.link_user(user_key, anonymous_key, at, source)
        elif anonymous_key:
            profile_id = self.graph.profile_of(anonymous_key)
            if profile_id is None:
                profile_id = self._create_profile([anonymous_key], at, source)
            self._touch(profile_id, at)
        else:
            profile_id = None
        if event.type != "identify":
            return
        if profile_id is None:
            trait_keys = _trait_identifiers(traits)
            if not trait_keys:
                return
            profile_id = self.graph.profile_of(trait_keys[0]) or self._create_profile(trait_keys[:1], at, source)
        profile_id = self._link_traits(profile_id, traits, source)
        profile_id = self.graph.root(profile_id)
        self._apply_traits(profile_id, traits, source, known=bool(user_key))

    def _link_traits(self, profile_id: int, traits: Mapping[str, Any], source: Source) -> int:
        for key in _trait_identifiers(traits):
            owner = self.graph.profile_of(key)
            profile_id = self.graph.root(profile_id)
            if owner is None:
                self._attach(profile_id, key, source)
            elif owner != profile_id:
                # The profile without a known user id joins the one with it.
                if self._user_ids(owner) and not self._user_ids(profile_id):
                    if self.join(profile_id, owner, MergeReason.TRAIT_MATCH, source):
                        profile_id = owner
                else:
                    self.join(owner, profile_id, MergeReason.TRAIT_MATCH, source)
        return profile_id

    def alias(self, event: LandedEvent, source: Source) -> None:
        at = event.timestamp
        user_id = _clean_identifier(IdentifierType.USER_ID.value, event.user_id)
        previous_id = _clean_identifier(IdentifierType.USER_ID.value, event.payload.get("previousId"))
        if not user_id or not previous_id or user_id == previous_id:
            return
        user_key: Key = (IdentifierType.USER_ID.value, user_id)
        previous_profile = self.graph.profile_of((IdentifierType.USER_ID.value, previous_id))
        previous_key: Key = (IdentifierType.USER_ID.value, previous_id)
        if previous_profile is None:
            previous_key = (IdentifierType.ANONYMOUS_ID.value, previous_id)
            previous_profile = self.graph.profile_of(previous_key)
        user_profile = self.graph.profile_of(user_key)
        if user_profile is None:
            user_profile = self._create_profile([user_key], at, source)
        if previous_profile is None:
            previous_profile = self._create_profile([previous_key], at, source)
        self.join(previous_profile, user_profile, MergeReason.ALIAS, source, allow_two_user_ids=True)
        self._touch(self.graph.root(user_profile), at)

    # -- contacts ------------------------------------------------------------------------------

    def _apply_traits(self, profile_id: int, traits: Mapping[str, Any], source: Source, *, known: bool) -> None:
        profile = self._profile(profile_id)
        before = (profile.traits, dict(profile.applied_person_values))
        if traits:
            merged = {**profile.traits, **traits}
            if len(merged) <= MAX_PROFILE_TRAITS:
                profile.traits = merged
        email = _clean_identifier(IdentifierType.EMAIL.value, traits.get("email"))
        phone = _clean_identifier(IdentifierType.PHONE.value, traits.get("phone"))
        if profile.person_id is None and (known or email):
            existing = self._person_by_email(email)
            if existing is None:
                # New contacts are written together at the end of the batch (`flush_people`).
                self._queue_person(profile_id, traits, email, phone)
                profile.save(update_fields=["traits"])
                return
            profile.person_id = existing
            profile.applied_person_values = self._person_values(traits)
            profile.save(update_fields=["traits", "person", "applied_person_values"])
            return
        if profile.person_id is not None:
            self._update_person(profile, traits, email, phone, source)
        # An identify repeating what the profile holds (most of them) writes nothing.
        if (profile.traits, profile.applied_person_values) != before:
            profile.save(update_fields=["traits", "applied_person_values"])

    @staticmethod
    def _person_values(traits: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for trait, field_name in PERSON_TRAITS.items():
            raw = traits.get(trait)
            if not isinstance(raw, str) or not raw.strip():
                continue
            if field_name == "birthday":
                try:
                    parsed = parse_date(raw.strip()[:10])
                except ValueError:
                    parsed = None
                if parsed is None:
                    continue
                values[field_name] = parsed.isoformat()
            else:
                values[field_name] = raw.strip()[:100]
        if "given_name" not in values and "family_name" not in values:
            name = traits.get("name")
            if isinstance(name, str) and name.strip():
                values["family_name"] = name.strip()[:100]
        return values

    def prefetch_people(self, emails: Iterable[str]) -> None:
        """The contact each of the batch's identify e-mails belongs to, in one query (the first
        by the addresses' own order, as a look-up of one address takes)."""
        wanted = sorted({email for email in emails if email not in self.people_by_email})
        for email in wanted:
            self.people_by_email[email] = None
        found: dict[str, tuple[bool, int, int]] = {}
        for chunk in in_chunks(wanted):
            rows = EmailAddress.objects.filter(address__in=chunk).values_list(
                "address", "is_primary", "id", "person_id"
            )
            for address, primary, pk, person_id in rows:
                rank = (not primary, pk, person_id)
                if address not in found or rank < found[address]:
                    found[address] = rank
        for address, (_rank, _pk, person_id) in found.items():
            self.people_by_email[address] = person_id

    def _person_by_email(self, email: str | None) -> int | None:
        if not email:
            return None
        if email not in self.people_by_email:
            existing = EmailAddress.objects.filter(address=email).values_list("person_id", flat=True).first()
            self.people_by_email[email] = int(existing) if existing is not None else None
        return self.people_by_email[email]

    def _queue_person(self, profile_id: int, traits: Mapping[str, Any], email: str | None, phone: str | None) -> None:
        index = self.pending_by_profile.get(profile_id)
        if index is None and email:
            index = self.pending_by_email.get(email)
        if index is None:
            index = len(self.pending_people)
            self.pending_people.append(_PendingPerson())
        pending = self.pending_people[index]
        pending.profile_ids.add(profile_id)
        pending.values.update(self._person_values(traits))
        if email and email not in pending.emails and len(email) <= 254:
            pending.emails.append(email)
            self.pending_by_email[email] = index
        if phone and phone not in pending.phones:
            pending.phones.append(phone)
        self.pending_by_profile[profile_id] = index

    def flush_people(self) -> int:
        """Create the batch's new contacts in one bulk write (`customers.bulk`, what imports use:
        the same rows, search keys and "created" history as `create_person`), then link them."""
        if not self.pending_people:
            return 0
        people: list[NewPerson] = []
        targets: list[tuple[list[int], dict[str, Any], list[str]]] = []
        for pending in self.pending_people:
            roots = {self.graph.root(pk) for pk in pending.profile_ids}
            free = [pk for pk in sorted(roots) if self._profile(pk).person_id is None]
            if not free:
                continue  # joined a known contact meanwhile
            values = pending.values
            family, given = values.get("family_name", ""), values.get("given_name", "")
            if not family and not given:
                family = (pending.emails or pending.phones or [_("Visitor")])[0][:100]
            birthday = datetime.date.fromisoformat(values["birthday"]) if values.get("birthday") else None
            people.append(
                NewPerson(
                    family_name=family,
                    given_name=given,
                    full_name=full_name(family, given)[:201],
                    birthday=birthday,
                    source=PartySource.TRACKING,
                    emails=[(e, "") for e in pending.emails],
                    phones=[(p, "") for p in pending.phones],
                )
            )
            targets.append((free, values, pending.emails))
        ids = customer_bulk.create_people(self.actor, people, note="tracking")
        linked: list[tuple[int, int, dict[str, Any]]] = []
        for person_id, (profile_ids, values, emails) in zip(ids, targets, strict=True):
            for email in emails:
                self.people_by_email[email] = person_id
            for pk in profile_ids:
                linked.append((pk, person_id, values))
                profile = self.profiles[pk]
                profile.person_id, profile.applied_person_values = person_id, values
        update_rows(Profile, ["person", "applied_person_values"], linked)
        self.pending_people.clear()
        self.pending_by_profile.clear()
        self.pending_by_email.clear()
        return len(ids)

    def _update_person(
        self, profile: Profile, traits: Mapping[str, Any], email: str | None, phone: str | None, source: Source
    ) -> None:
        person_id = profile.person_id or 0
        contact = self._contact(person_id)
        if contact is None:
            return
        tracked = self._person_values(traits)
        applied = dict(profile.applied_person_values)
        updates: dict[str, Any] = {}
        for field_name, value in tracked.items():
            current = contact.values[field_name]
            current_text = current.isoformat() if isinstance(current, datetime.date) else (current or "")
            if current_text == value:
                applied[field_name] = value
                continue
            edited_by_staff = current_text != "" and current_text != applied.get(field_name, "")
            if edited_by_staff and not source.traits_overwrite_manual_edits:
                continue
            updates[field_name] = datetime.date.fromisoformat(value) if field_name == "birthday" else value
            applied[field_name] = value
        emails = phones = None
        known_emails = contact.emails
        if email and email not in {e["address"] for e in known_emails}:
            emails = [*known_emails, {"address": email, "kind": "", "is_primary": not known_emails}]
        known_phones = contact.phones
        if phone and phone not in {p["number"] for p in known_phones}:
            phones = [*known_phones, {"number": phone, "kind": "", "is_primary": not known_phones}]
        if not updates and emails is None and phones is None:
            profile.applied_person_values = applied
            return
        try:
            with transaction.atomic():
                # The service reads and locks the contact itself: only its key is needed here.
                customer_services.update_person(self.actor, Person(pk=person_id), updates, emails=emails, phones=phones)
        except (ValidationError, PermissionDenied):
            logger.info("tracked traits not applied to person %s", person_id)
            return
        finally:
            self.contacts.pop(person_id, None)  # read afresh when next asked
        if emails is not None:
            # The contact's addresses changed: look them up afresh when next asked.
            for known in emails:
                self.people_by_email.pop(str(known["address"]), None)
        profile.applied_person_values = applied


# ---------------------------------------------------------------------------------------------
# Merges


def _lock_processing() -> int:
    """Wait for the batch in progress, if any: a batch caches which identifiers its profiles
    hold, so nothing else moves identifiers while it runs (and nothing is locked in another
    order: the checkpoint first, then profiles, as a batch takes them). Returns the watermark,
    which stays put while the lock is held."""
    found = (
        ProcessingCheckpoint.objects.select_for_update().filter(name="default").values_list("last_event_id", flat=True)
    )
    return int(next(iter(found), 0))


def perform_merge(merged_from: Profile, into: Profile, merge: ProfileMerge) -> ProfileMerge:
    """Move identifiers and history span into `into`; the caller holds both rows locked."""
    moved = list(Identifier.objects.filter(profile=merged_from).values_list("pk", flat=True))
    Identifier.objects.filter(pk__in=moved).update(profile=into)
    moved_sessions = list(Session.objects.filter(profile=merged_from).values_list("pk", flat=True))
    Session.objects.filter(pk__in=moved_sessions).update(profile=into)
    computed.merge_traits(merged_from.pk, into.pk)
    merge.merged_from = merged_from
    merge.merged_into = into
    merge.moved_identifier_ids = moved
    merge.moved_session_ids = moved_sessions
    merge.status = MergeStatus.DONE
    merge.merged_at = timezone.now()
    merge.took_person = into.person_id is None and merged_from.person_id is not None
    into.first_seen = min(into.first_seen, merged_from.first_seen)
    into.last_seen = max(into.last_seen, merged_from.last_seen)
    into.traits = {**merged_from.traits, **into.traits}
    if merge.took_person:
        into.person_id = merged_from.person_id
    into.save(update_fields=["first_seen", "last_seen", "traits", "person"])
    merged_from.merged_into = into
    merged_from.save(update_fields=["merged_into"])
    merge.save()
    return merge


@transaction.atomic
def undo_profile_merge(actor: User, merge: ProfileMerge) -> ProfileMerge:
    """Give the merged profile its identifiers (and contact) back; events follow the identifiers."""
    if not access.can_manage_settings(actor):
        raise PermissionDenied(_("Only an admin may undo a profile merge."))
    processed = _lock_processing()
    merge = ProfileMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.status != MergeStatus.DONE:
        raise ValidationError({"status": [_("Only a completed merge can be undone.")]})
    merged_from = Profile.objects.select_for_update().get(pk=merge.merged_from_id)
    into = Profile.objects.select_for_update().get(pk=merge.merged_into_id)
    Identifier.objects.filter(pk__in=merge.moved_identifier_ids).update(profile=merged_from)
    Session.objects.filter(pk__in=merge.moved_session_ids, profile=into).update(profile=merged_from)
    merged_from.merged_into = None
    merged_from.save(update_fields=["merged_into"])
    if merge.took_person and into.person_id == merged_from.person_id:
        into.person = None
        into.save(update_fields=["person"])
    # The events now divide between the two profiles as their identifiers do: count both again.
    rebuild_computed_traits([merged_from.pk, into.pk], up_to=processed)
    merge.status = MergeStatus.UNDONE
    merge.undone_at = timezone.now()
    merge.undone_by = actor if actor.pk else None
    merge.save(update_fields=["status", "undone_at", "undone_by"])
    record_change(merge, actor=actor, action=ChangeAction.UPDATE, changes={"status": [MergeStatus.DONE, "undone"]})
    return merge


def process_pending_joins(limit: int = 1000) -> int:
    """Complete joins that were waiting for profiling consent and now have it."""
    done = 0
    pending_ids = list(
        ProfileMerge.objects.filter(status=MergeStatus.PENDING_CONSENT)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    for merge_id in pending_ids:
        with transaction.atomic():
            _lock_processing()
            merge = (
                ProfileMerge.objects.select_for_update().filter(pk=merge_id, status=MergeStatus.PENDING_CONSENT).first()
            )
            if merge is None:
                continue
            graph = _Graph()
            from_root, into_root = graph.root(merge.merged_from_id), graph.root(merge.merged_into_id)
            if from_root == into_root:
                merge.status = MergeStatus.DONE
                merge.merged_at = timezone.now()
                merge.save(update_fields=["status", "merged_at"])
                continue
            into = Profile.objects.select_for_update().get(pk=into_root)
            if not _has_profiling_consent(into.person_id):
                continue
            merged_from = Profile.objects.select_for_update().get(pk=from_root)
            if merged_from.person_id and merged_from.person_id != into.person_id:
                continue
            perform_merge(merged_from, into, merge)
            done += 1
    return done


# ---------------------------------------------------------------------------------------------
# The batch loop


def _needs_rules(event_type: str, keys: list[Key], graph: _Graph) -> bool:
    """Whether an event can take the bulk path: one known profile, or one new identifier."""
    if event_type in ("identify", "alias"):
        return True
    if len(keys) <= 1:  # most events: the caller looks the one owner up itself
        return False
    owners = {graph.profile_of(key) if key not in graph.new else -1 for key in keys}
    return None in owners or -1 in owners or len(owners) > 1


def _event_profile(graph: _Graph, keys: list[Key]) -> int | None:
    """The profile an event counts for: its user id's, else its anonymous id's (the same rule
    the rebuild uses). An event whose ids were all placeholders counts for nobody."""
    for key in keys:
        owner = graph.profile_of(key)
        if owner is not None:
            return owner
    return None


class _Row(NamedTuple):
    """A landed event as the batch reads it: a tuple, not a model instance (most events never
    need one; the identity rules get a `LandedEvent` built from it)."""

    pk: int
    source_id: int
    type: str
    event: str
    user_id: str
    anonymous_id: str
    timestamp: datetime.datetime
    payload: dict[str, Any]

    def as_event(self) -> LandedEvent:
        return LandedEvent(
            id=self.pk,
            source_id=self.source_id,
            type=self.type,
            event=self.event,
            user_id=self.user_id,
            anonymous_id=self.anonymous_id,
            timestamp=self.timestamp,
            payload=self.payload,
        )


ROW_FIELDS = ("id", "source_id", "type", "event", "user_id", "anonymous_id", "timestamp", "payload")


def _read_rows(events: QuerySet[LandedEvent]) -> list[_Row]:
    """The events as `_Row`s, in the queryset's order: the payload read as text and decoded by
    `bulk_sql.read_json` (Django's JSONField decoder took a fifth of processing's CPU)."""
    rows = events.annotate(payload_text=json_text("payload")).values_list(*ROW_FIELDS[:-1], "payload_text")
    return [
        _Row(pk, source_id, kind, name, user_id, anonymous_id, at, read_json(text))
        for pk, source_id, kind, name, user_id, anonymous_id, at, text in rows
    ]


def _event_keys(e: _Row) -> list[Key]:
    keys: list[Key] = []
    user_id = _clean_identifier(IdentifierType.USER_ID.value, e.user_id)
    if user_id:
        keys.append((IdentifierType.USER_ID.value, user_id))
    anonymous_id = _clean_identifier(IdentifierType.ANONYMOUS_ID.value, e.anonymous_id)
    if anonymous_id:
        keys.append((IdentifierType.ANONYMOUS_ID.value, anonymous_id))
    return keys


def _keys_per_event(events: Sequence[_Row]) -> list[list[Key]]:
    """`_event_keys` of each event, cleaned once per (user id, anonymous id) pair: a visitor
    sends several events a batch. Events of a pair share one list, which nobody changes."""
    found: dict[tuple[str, str], list[Key]] = {}
    per_event: list[list[Key]] = []
    for e in events:
        pair = (e.user_id, e.anonymous_id)
        keys = found.get(pair)
        if keys is None:
            keys = found[pair] = _event_keys(e)
        per_event.append(keys)
    return per_event


# Landings in flight (PostgreSQL): the writers holding ROW EXCLUSIVE on the landed table.
_IN_FLIGHT_SQL = (
    "SELECT DISTINCT virtualtransaction FROM pg_locks WHERE locktype = 'relation' "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND relation = %s::regclass AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid()"
)


def high_water_mark() -> int:
    """The highest landed id below which every landing has committed or rolled back.

    Ids come from a sequence when the INSERT runs, but landings commit in their own order: an
    event with id 100 may commit after one with id 101. Had processing taken 101 and moved the
    watermark past it, 100 would fall under the watermark unprocessed, lost. So:

    - PostgreSQL: read max(id), then the transactions that hold `ROW EXCLUSIVE` on the landed
      table (`pg_locks`; an INSERT takes it before it draws its ids and keeps it to the end).
      An id at or below that max drawn by a landing still in flight belongs to one of them, so
      the max is safe once they have all ended; a landing that takes the lock later draws a
      larger id. Waiting is polling those few transactions for a few milliseconds; landing is
      never held back. (A `LOCK TABLE … IN SHARE MODE` would give the same mark, but it queues
      every landing behind it and behind anything holding a conflicting lock, an autovacuum of
      the landed table included: the benchmark met exactly that.) Should they not end within
      `HIGH_WATER_WAIT_SECONDS`, this round takes nothing new and the next tries again.
    - SQLite: one writer at a time (IMMEDIATE transactions), so a landing's ids are committed
      before any later id is drawn: the committed max(id) is already safe.
    """
    table = LandedEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(id) FROM {connection.ops.quote_name(table)}")  # noqa: S608  -- the model's table
        row = cursor.fetchone()
        highest = int(row[0]) if row and row[0] is not None else 0
        if connection.vendor != "postgresql":
            return highest
        cursor.execute(_IN_FLIGHT_SQL, [table])
        in_flight = [str(found) for (found,) in cursor.fetchall()]
        deadline = time.monotonic() + HIGH_WATER_WAIT_SECONDS
        while in_flight:
            if time.monotonic() > deadline:
                logger.warning("tracking: landings still in flight; processing takes nothing new this round")
                return 0
            time.sleep(0.002)
            cursor.execute(f"{_IN_FLIGHT_SQL} AND virtualtransaction = ANY(%s)", [table, in_flight])
            in_flight = [str(found) for (found,) in cursor.fetchall()]
    return highest


def processed_up_to() -> int:
    """The watermark: every landed event with an id up to it is processed, none above it."""
    found = ProcessingCheckpoint.objects.filter(name="default").values_list("last_event_id", flat=True).first()
    return int(found or 0)


def _process_batch(batch_size: int, high_water: int) -> int:
    """One batch, first without a savepoint around each message the identity rules handle (two
    round trips each, a fifth of a batch with 1 % identify calls in
    `bench_tracking_processing.py`). Should anything fail, the batch is rolled back whole and
    done again with them, so one unexpected message is skipped and logged, not the batch."""
    try:
        return _process_batch_once(batch_size, high_water, guarded=False)
    except Exception:
        logger.warning("tracking: a batch failed; processing it again message by message", exc_info=True)
        return _process_batch_once(batch_size, high_water, guarded=True)


def _process_batch_once(batch_size: int, high_water: int, *, guarded: bool) -> int:
    with transaction.atomic():
        checkpoint = ProcessingCheckpoint.objects.select_for_update().get(name="default")
        # Locked, the watermark is the one the last committed batch left (another worker may
        # have moved it past `high_water` meanwhile: then the range is empty).
        events = _read_rows(
            LandedEvent.objects.filter(id__gt=checkpoint.last_event_id, id__lte=high_water).order_by("id")[:batch_size]
        )
        if not events:
            return 0
        sources = Source.objects.in_bulk({e.source_id for e in events})
        graph = _Graph()
        per_event = _keys_per_event(events)
        # What the identity rules will ask about, read for the whole batch at once: the
        # identify calls' trait identifiers and contacts' e-mails, and the identifiers already
        # held by the profiles identify and alias events name.
        trait_keys = [key for e in events if e.type == "identify" for key in _trait_identifiers(_traits_of(e.payload))]
        graph.prefetch([*(key for keys in per_event for key in keys), *trait_keys])
        resolver = _Resolver(graph, sources)
        ruled = [
            *trait_keys,
            *(
                key
                for e, keys in zip(events, per_event, strict=True)
                if e.type in ("identify", "alias")
                for key in keys
            ),
        ]
        ruled_profiles = {graph.root(owner) for owner in {graph.owner.get(key) for key in ruled} if owner is not None}
        graph.load_held(ruled_profiles)
        resolver.prefetch_profiles(ruled_profiles)
        resolver.prefetch_people(value for kind, value in trait_keys if kind == IdentifierType.EMAIL.value)
        checker = PlanChecker(sources)
        for e, keys in zip(events, per_event, strict=True):
            checker.check(e.source_id, e.pk, e.type, e.event, e.payload, e.timestamp)
            if not _needs_rules(e.type, keys, graph):
                if not keys:
                    continue
                key = keys[0]
                if key in graph.new:
                    graph.add_new(key, e.timestamp, e.source_id)
                    continue
                owner = graph.profile_of(key)
                if owner is None:
                    graph.add_new(key, e.timestamp, e.source_id)
                else:
                    graph.touch(owner, e.timestamp)
                continue
            # The rules read identifiers from the database, so profiles still pending for this
            # event's ids (or for an alias, any id) are written first; otherwise they wait.
            if e.type == "alias" or any(key in graph.new for key in keys):
                graph.flush_new()
            if not guarded:
                resolver.handle(e.as_event())
                continue
            try:
                with transaction.atomic():
                    resolver.handle(e.as_event())
                    # Written within the savepoint, so they go back with it.
                    resolver.flush_identifiers()
                    resolver.flush_people()
            except Exception:
                # One unexpected message must not block the queue behind it forever: it is
                # marked processed, logged with its id, and the cached graph is reloaded.
                logger.exception("tracking: could not process landed event %s", e.pk)
                graph.reset()
                resolver.reset()
        graph.flush_new()
        resolver.flush_identifiers()
        resolver.flush_people()
        checker.flush()
        session_events: list[SessionEvent] = []
        deltas: dict[int, computed.TraitDelta] = {}
        with _not_waited_for():
            # The database widens the profiles' spans while this reads the events again.
            graph.flush_touched()
            # Sessions and computed traits count each event for the profile it ended the batch in.
            for e, keys in zip(events, per_event, strict=True):
                profile_id = _event_profile(graph, keys) if keys else None
                if profile_id is None:
                    continue
                session_events.append(SessionEvent(e.pk, profile_id, e.timestamp, e.type, e.payload, e.source_id))
                delta = deltas.get(profile_id)
                if delta is None:
                    delta = deltas[profile_id] = computed.TraitDelta()
                delta.add(e.type, e.event, e.payload, e.timestamp)
        stored_traits = computed.read_stored(deltas, fresh=graph.created)
        with _not_waited_for():
            # The database writes the sessions while this adds up the computed traits.
            sessions = assign_sessions(session_events)
            for profile_id, added in sessions.new_sessions.items():
                deltas[profile_id].sessions += added
            computed.save_deltas(deltas, fresh=graph.created, already_read=stored_traits)
        checkpoint.last_batch += 1
        # Every id up to the high-water mark was read when the batch came short, so the
        # watermark may go that far (ids not read there belong to landings that rolled back).
        checkpoint.last_event_id = events[-1].pk if len(events) == batch_size else high_water
        checkpoint.events_processed += len(events)
        checkpoint.last_run_at = timezone.now()
        checkpoint.save()
        return len(events)


@contextlib.contextmanager
def _not_waited_for() -> Iterator[None]:
    """On PostgreSQL, statements sent within the block run while Python goes on (psycopg's
    pipeline mode): the client waits only when it reads a result, or at the end of the block,
    where an error of any of them is raised, as Django's own exception class (it is raised out
    of psycopg, not through a Django cursor). Elsewhere, nothing changes."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for one batch. A batch builds tens of thousands of
    long-lived objects (payloads, keys, deltas) and no garbage cycles to speak of, so the
    collector found nothing yet traversed them over and over as they aged into older
    generations: 40 % of processing's CPU in `bench_tracking_processing.py`. Reference counting
    still frees everything else; the collector runs again after the batch. (Process-wide: a
    second thread processing at the same time may turn it back on early, which only costs it
    the time saved.)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _unpack(batch_size: int) -> int:
    """Landed batches into events, about one processing batch's worth, committed on their own
    so the events are listed (as unprocessed) even while processing them fails. Under the
    processing lock: event ids are drawn by one writer at a time."""
    with transaction.atomic():
        _lock_processing()
        return unpack_batches(batch_size)


def _unpack_ahead(batch_size: int) -> int:
    """`_unpack` without the processing lock, for the thread that unpacks the next chunk while
    the batch before it is processed (`_pipelined`). No lock is needed on PostgreSQL: the rows
    it inserts draw ids above the high-water mark the running batch was given, and the next
    batch's `high_water_mark` waits for any unpack still in flight."""
    with transaction.atomic():
        return unpack_batches(batch_size)


def _sequential(batch_size: int, max_batches: int | None) -> tuple[int, int]:
    processed = batches = 0
    while max_batches is None or batches < max_batches:
        unpacked = _unpack(batch_size)
        with _cyclic_gc_paused():
            count = _process_batch(batch_size, high_water_mark())
        processed += count
        if count:
            batches += 1
        if count < batch_size and not unpacked:
            break
    return processed, batches


def _pipelined(batch_size: int, max_batches: int | None) -> tuple[int, int]:
    """As `_sequential`, but the next chunk is unpacked by a second thread, on its own
    connection, while this one processes a batch: unpacking is nearly all database work, so
    it runs on the database's core while processing's Python runs on the other (a fifth of
    a batch's time in `bench_tracking_processing.py`)."""
    processed = batches = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracking-unpack") as ahead:
        try:
            pending = ahead.submit(_unpack_ahead, batch_size)
            while max_batches is None or batches < max_batches:
                unpacked = pending.result()
                high_water = high_water_mark()
                # Drawn after the mark was read, the next chunk's ids all lie above it.
                pending = ahead.submit(_unpack_ahead, batch_size)
                with _cyclic_gc_paused():
                    count = _process_batch(batch_size, high_water)
                processed += count
                if count:
                    batches += 1
                # Done once the backlog is, unless batches landed meanwhile: the chunk unpacked
                # during this batch then goes round once more.
                if count < batch_size and not unpacked and not pending.result():
                    break
            pending.result()  # after `max_batches`, its chunk waits, committed, for the next run
        finally:
            ahead.submit(connections.close_all).result()  # the thread's connection
    return processed, batches


def process_landed_events(batch_size: int = DEFAULT_BATCH_SIZE, max_batches: int | None = None) -> dict[str, int]:
    """Process the backlog batch by batch (each its own transaction) until it is empty.

    On PostgreSQL, unless the caller holds a transaction (which a second connection could not
    see into), the next chunk is unpacked while a batch is processed (`_pipelined`)."""
    ProcessingCheckpoint.objects.get_or_create(name="default")
    joined = process_pending_joins()
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        processed, batches = _pipelined(batch_size, max_batches)
    else:
        processed, batches = _sequential(batch_size, max_batches)
    if processed:
        joined += process_pending_joins()
    return {"processed": processed, "batches": batches, "joined": joined}


def pending_filter() -> Q:
    """Landed events not processed yet: above the watermark."""
    return Q(id__gt=processed_up_to())


# ---------------------------------------------------------------------------------------------
# Rebuilding computed traits


@transaction.atomic
def rebuild_computed_traits(
    profile_ids: Iterable[int] | None = None, chunk: int = DEFAULT_BATCH_SIZE, *, up_to: int | None = None
) -> int:
    """Recompute computed traits from the processed events (all profiles, or the roots of the
    given ones), each event counted for the profile its user id, else anonymous id, belongs to
    now. Sessions are counted from the stored sessions. Returns the number of rows written.
    `up_to` is the watermark when the caller has already read it under the processing lock."""
    graph = _Graph()
    events = LandedEvent.objects.filter(id__lte=processed_up_to() if up_to is None else up_to)
    wanted: set[int] | None = None
    if profile_ids is not None:
        wanted = {graph.root(pk) for pk in profile_ids}
        ids = list(
            Identifier.objects.filter(
                profile_id__in=wanted, type__in=[IdentifierType.ANONYMOUS_ID.value, IdentifierType.USER_ID.value]
            ).values_list("type", "value")
        )
        anonymous = [v for t, v in ids if t == IdentifierType.ANONYMOUS_ID.value]
        users = [v for t, v in ids if t == IdentifierType.USER_ID.value]
        events = events.filter(Q(anonymous_id__in=anonymous) | Q(user_id__in=users))
    deltas: dict[int, computed.TraitDelta] = {pk: computed.TraitDelta() for pk in wanted or ()}
    last_id = 0
    while True:
        rows = _read_rows(events.filter(id__gt=last_id).order_by("id")[:chunk])
        if not rows:
            break
        last_id = rows[-1].pk
        per_event = _keys_per_event(rows)
        graph.prefetch(key for keys in per_event for key in keys)
        for e, keys in zip(rows, per_event, strict=True):
            profile_id = _event_profile(graph, keys) if keys else None
            if profile_id is None or (wanted is not None and profile_id not in wanted):
                continue
            delta = deltas.get(profile_id)
            if delta is None:
                delta = deltas[profile_id] = computed.TraitDelta()
            delta.add(e.type, e.event, e.payload, e.timestamp)
    sessions = Session.objects.all() if wanted is None else Session.objects.filter(profile_id__in=wanted)
    for profile_id, count in sessions.values("profile_id").annotate(n=Count("id")).values_list("profile_id", "n"):
        if profile_id in deltas:
            deltas[profile_id].sessions = count
    stale = ComputedTraits.objects.all() if wanted is None else ComputedTraits.objects.filter(profile_id__in=wanted)
    stale.delete()
    computed.save_deltas(deltas)
    return len(deltas)
