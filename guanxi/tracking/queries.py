"""Reads of the tracking app, with visibility applied: lag, sources, profiles and their events.

A profile is visible as its contact is (`staff.access` over `person__owner`); an anonymous
visitor has no owner, so it is visible like a shared-pool record.
"""

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from guanxi.core.pagination import capped_count
from guanxi.customers.models import Person
from guanxi.staff import access
from guanxi.tracking.models import (
    ComputedTraits,
    Identifier,
    IdentifierType,
    LandedEvent,
    Profile,
    ProfileMerge,
    Session,
    Source,
)
from guanxi.tracking.services import landing, processing, traits

PROFILE_ORDERING = ("last_seen", "first_seen")


@dataclass(frozen=True)
class Lag:
    backlog: int
    backlog_more: bool
    oldest_received_at: datetime.datetime | None

    @property
    def oldest_age(self) -> datetime.timedelta | None:
        return timezone.now() - self.oldest_received_at if self.oldest_received_at else None


def processing_lag(source: Source | None = None) -> Lag:
    """Backlog and the oldest's age: the messages still in landed batches, and the events above
    the watermark (capped: an index range)."""
    landed, landed_oldest = landing.pending_messages(source)
    pending = LandedEvent.objects.filter(processing.pending_filter())
    if source is not None:
        pending = pending.filter(source=source)
    count, more = capped_count(pending, cap=100_000)
    oldest = pending.order_by("id").values_list("received_at", flat=True).first()
    return Lag(
        backlog=count + landed,
        backlog_more=more,
        oldest_received_at=min((at for at in (oldest, landed_oldest) if at is not None), default=None),
    )


def sources_with_counts() -> QuerySet[Source]:
    return Source.objects.select_related("created_by", "revoked_by").order_by("revoked_at", "name", "id")


def recent_events(source: Source) -> QuerySet[LandedEvent]:
    return LandedEvent.objects.filter(source=source).defer("payload")


def visible_profiles(user: Any) -> QuerySet[Profile]:
    return Profile.objects.filter(access.visible_q(user, owner_field="person__owner"), merged_into__isnull=True)


def filter_profiles(qs: QuerySet[Profile], *, known: str, q: str) -> QuerySet[Profile]:
    if known == "anonymous":
        qs = qs.filter(person__isnull=True)
    elif known == "known":
        qs = qs.filter(person__isnull=False)
    q = q.strip()
    if q:
        # An identifier prefix: an index range on (type, value) per type, then the profiles.
        owners: set[int] = set()
        for kind in IdentifierType.values:
            matches = Identifier.objects.filter(type=kind, value__startswith=q).order_by("value")
            owners.update(matches.values_list("profile_id", flat=True)[:1000])
        qs = qs.filter(pk__in=sorted(owners))
    return qs


def profile_identifiers(profile: Profile) -> list[Identifier]:
    return list(profile.identifiers.order_by("type", "value"))


def profile_events(profile: Profile) -> QuerySet[LandedEvent]:
    """Events of a profile: those sent under its anonymous ids or user ids (followed through merges)."""
    ids = list(profile.identifiers.filter(type__in=["anonymous_id", "user_id"]).values_list("type", "value"))
    anonymous = [v for t, v in ids if t == "anonymous_id"]
    users = [v for t, v in ids if t == "user_id"]
    if not anonymous and not users:
        return LandedEvent.objects.none()
    return LandedEvent.objects.filter(Q(anonymous_id__in=anonymous) | Q(user_id__in=users)).select_related("source")


def profile_merges(profile: Profile) -> QuerySet[ProfileMerge]:
    return ProfileMerge.objects.filter(Q(merged_from=profile) | Q(merged_into=profile)).order_by("-created_at", "-id")


def hourly_counts(source: Source, hours: int = 24, window: int = 200_000) -> list[tuple[datetime.datetime, int]]:
    """Events received per hour over the last `hours` (zero-filled, oldest first), for the chart.

    Counted over at most the newest `window` events, found through the (source, -id) index, so a
    busy source's page does not scan millions of rows; the chart says when it is capped.
    """
    now = timezone.now().astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    start = now - datetime.timedelta(hours=hours - 1)
    counts = dict.fromkeys((start + datetime.timedelta(hours=h) for h in range(hours)), 0)
    events = LandedEvent.objects.filter(source=source, received_at__gte=start)
    threshold = (
        LandedEvent.objects.filter(source=source)
        .order_by("-id")
        .values_list("id", flat=True)[window : window + 1]
        .first()
    )
    if threshold is not None:
        events = events.filter(id__gt=threshold)
    rows = (
        events.annotate(hour=TruncHour("received_at", tzinfo=datetime.UTC))
        .values("hour")
        .annotate(n=Count("id"))
        .values_list("hour", "n")
    )
    for hour, n in rows:
        if hour in counts:
            counts[hour] = n
    return sorted(counts.items())


def identifiers_by_profile(profile_ids: list[int]) -> dict[int, list[Identifier]]:
    """The identifiers of a page of profiles in one query."""
    grouped: dict[int, list[Identifier]] = {}
    for identifier in Identifier.objects.filter(profile_id__in=profile_ids).order_by("type", "value"):
        grouped.setdefault(identifier.profile_id, []).append(identifier)
    return grouped


def profile_sessions(profile: Profile) -> QuerySet[Session]:
    """A profile's sessions, newest first (an index range on (profile, -started_at, -id))."""
    return Session.objects.filter(profile=profile).select_related("source").order_by("-started_at", "-id")


def session_events(session: Session) -> QuerySet[LandedEvent]:
    """The events of a session: its profile's events within its span (events carry no session
    id, see `services.sessions`). Where a merge brought two sessions that overlap in time onto
    one profile, an event in the overlap is listed under both until a later event joins them."""
    return profile_events(session.profile).filter(
        timestamp__gte=session.started_at, timestamp__lte=session.ended_at, id__lte=processing.processed_up_to()
    )


def processed_up_to() -> int:
    """The processing watermark, for pages that show whether each event is processed yet."""
    return processing.processed_up_to()


def computed_traits(profile: Profile) -> ComputedTraits | None:
    return ComputedTraits.objects.filter(profile=profile).first()


def person_traits(user: Any, person: Person) -> tuple[ComputedTraits | None, int]:
    """A contact's computed traits over all their (visible, unmerged) profiles, added up, and
    how many profiles that was (a contact may use several devices not yet joined)."""
    profile_ids = list(visible_profiles(user).filter(person=person).values_list("pk", flat=True))
    rows = list(ComputedTraits.objects.filter(profile_id__in=profile_ids).order_by("profile_id"))
    if not rows:
        return None, len(profile_ids)
    total = ComputedTraits(products={}, categories={}, channels=[])
    for row in rows:
        traits.apply_delta(total, traits.delta_of(row))
        if row.context_at and (total.context_at is None or row.context_at >= total.context_at):
            total.device, total.os, total.browser = row.device, row.os, row.browser
            total.location, total.context_at = row.location, row.context_at
    return total, len(profile_ids)


def person_seen(user: Any, person: Person) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """First and last seen over a contact's visible profiles."""
    spans = visible_profiles(user).filter(person=person).values_list("first_seen", "last_seen")
    firsts = [first for first, _last in spans]
    lasts = [last for _first, last in spans]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)
