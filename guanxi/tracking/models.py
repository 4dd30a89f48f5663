"""Behaviour tracking: sources with write keys, the append-only landing table, the identity graph.

Events land as sent (fast, durable, deduplicated on the message id) and are processed later in
batches: identity resolution ties identifiers to profiles, and a profile to a customers.Person
once the visitor is known. Profiles are merged by moving identifiers, never by rewriting events,
so a merge is undone by moving them back.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# Identifier limits per profile a source starts with: a profile gathering more anonymous ids
# than a person plausibly has devices is a shared kiosk or a bot, and must stop absorbing them.
DEFAULT_IDENTIFIER_LIMITS: dict[str, int] = {
    "anonymous_id": 50,
    "user_id": 1,
    "email": 5,
    "phone": 5,
    "wechat_openid": 10,
    "wechat_unionid": 1,
}


def default_identifier_limits() -> dict[str, int]:
    return dict(DEFAULT_IDENTIFIER_LIMITS)


class Source(models.Model):
    """A site, app or server sending events, authenticated by its write key.

    Only a SHA-256 of the key is stored (the key is shown once, at creation) with a short prefix
    so admins can tell keys apart; a revoked source's key is refused from then on.
    """

    name = models.CharField(pgettext_lazy("tracking", "name"), max_length=100)
    write_key_hash = models.CharField(max_length=64, unique=True, editable=False)
    write_key_prefix = models.CharField(_("write key starts with"), max_length=12, editable=False)
    require_consent_for_joining = models.BooleanField(
        _("require profiling consent before joining history"),
        default=False,
        help_text=_("Anonymous history joins a known person only once that person has granted profiling consent."),
    )
    traits_overwrite_manual_edits = models.BooleanField(
        _("tracked traits overwrite manual edits"),
        default=False,
        help_text=_("Off: a value a staff member edited on the contact is kept when a tracked trait differs."),
    )
    identifier_limits: models.JSONField[dict[str, int]] = models.JSONField(
        _("identifier limits per profile"), default=default_identifier_limits, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = pgettext_lazy("tracking", "source")
        verbose_name_plural = pgettext_lazy("tracking", "sources")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def limit_for(self, identifier_type: str) -> int:
        value = (self.identifier_limits or {}).get(identifier_type, DEFAULT_IDENTIFIER_LIMITS.get(identifier_type, 0))
        return int(value) if isinstance(value, int) and value > 0 else DEFAULT_IDENTIFIER_LIMITS.get(identifier_type, 1)


class EventType(models.TextChoices):
    IDENTIFY = "identify", _("Identify")
    TRACK = "track", _("Track")
    PAGE = "page", _("Page")
    SCREEN = "screen", _("Screen")
    GROUP = "group", _("Group")
    ALIAS = "alias", _("Alias")


class LandedBatch(models.Model):
    """The valid messages of one accepted request, stored as one row until processing unpacks
    them into `LandedEvent` rows (`landing.unpack_batches`), in the same transaction that
    deletes this row.

    Acknowledging is then one row and one index entry per request, not five index entries and a
    JSON document per message: that upkeep was most of the database's time per acknowledged
    event (`benchmarks/bench_tracking_ingest.py`). `messages` is a JSON array, one
    `[message_id, type, event, user_id, anonymous_id, timestamp, payload]` per message, the
    timestamp already corrected for clock skew and written as the database stores it. A retried
    message may sit in two batches for a moment; unpacking keeps the first (the unique
    constraint on `LandedEvent`), so it is stored once.
    """

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="landed_batches")
    received_at = models.DateTimeField(_("received"))
    message_count = models.PositiveIntegerField(_("messages"))
    messages = models.TextField(_("messages"))

    class Meta:
        verbose_name = _("landed batch")
        verbose_name_plural = _("landed batches")

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.message_count})"


class LandedEvent(models.Model):
    """One message as it arrived. Append-only: processing never writes to it.

    `timestamp` is the sender's time corrected for clock skew (timestamp + received_at − sentAt);
    `user_id` and `anonymous_id` are copied out of the payload so processing and the visitor
    pages read them from an index instead of the JSON. Whether an event is processed is its id
    against the checkpoint's watermark (`ProcessingCheckpoint.last_event_id`), and its session is
    the one of its profile whose time span holds it (`queries.session_events`): marking each row
    would rewrite it and its indexes, which cost processing more than everything else it does.
    """

    # No index of its own: the unique (source, message id) constraint serves look-ups by source.
    # No database constraint either: events are only ever unpacked from landed batches, whose
    # own constraint checked the source, and a checked key on each of tens of thousands of
    # rows a second cost a quarter of the insert (`benchmarks/README.md`). PROTECT still
    # stops deleting a source with events, in Django, as before.
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="events", db_index=False, db_constraint=False
    )
    message_id = models.CharField(_("message id"), max_length=100)
    type = models.CharField(_("type"), max_length=10, choices=EventType.choices)
    event = models.CharField(pgettext_lazy("tracking", "event"), max_length=200, blank=True, default="")
    user_id = models.CharField(_("user id"), max_length=255, blank=True, default="")
    anonymous_id = models.CharField(_("anonymous id"), max_length=255, blank=True, default="")
    payload: models.JSONField[dict[str, Any]] = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received"))
    timestamp = models.DateTimeField(_("timestamp"))

    class Meta:
        verbose_name = pgettext_lazy("tracking", "event")
        verbose_name_plural = pgettext_lazy("tracking", "events")
        constraints = [
            models.UniqueConstraint(fields=["source", "message_id"], name="trk_event_source_message_uniq"),
        ]
        indexes = [
            models.Index(fields=["source", "-id"], name="trk_event_source_recent_idx"),
            models.Index(fields=["anonymous_id", "-id"], name="trk_event_anonymous_idx"),
            models.Index(fields=["user_id", "-id"], name="trk_event_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"


class Profile(models.Model):
    """One cluster of identifiers believed to be the same human; known once `person` is set.

    A merged profile keeps its row with `merged_into` set, so undoing the merge restores it.
    """

    person = models.ForeignKey(
        "customers.Person",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tracking_profiles",
        db_index=False,  # (person, last seen, id) below serves look-ups by contact
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_profiles"
    )
    traits: models.JSONField[dict[str, Any]] = models.JSONField(_("traits"), default=dict, blank=True)
    # The value tracking last wrote to each contact field: a contact value that differs from it
    # was edited by a person, and precedence keeps that edit.
    applied_person_values: models.JSONField[dict[str, Any]] = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
        indexes = [
            models.Index(fields=["last_seen", "id"], name="trk_profile_last_seen_idx"),
            models.Index(fields=["person", "last_seen", "id"], name="trk_profile_person_idx"),
        ]

    def __str__(self) -> str:
        return f"profile {self.pk}"


class IdentifierType(models.TextChoices):
    ANONYMOUS_ID = "anonymous_id", _("Anonymous ID")
    USER_ID = "user_id", _("User ID")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    WECHAT_OPENID = "wechat_openid", _("WeChat OpenID")
    WECHAT_UNIONID = "wechat_unionid", _("WeChat UnionID")


class Identifier(models.Model):
    """A value that names one human (an anonymous id, a user id, an email…), owned by one profile."""

    type = models.CharField(_("type"), max_length=16, choices=IdentifierType.choices)
    value = models.CharField(_("value"), max_length=255)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="identifiers")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("identifier")
        verbose_name_plural = _("identifiers")
        constraints = [models.UniqueConstraint(fields=["type", "value"], name="trk_identifier_type_value_uniq")]
        indexes = [models.Index(fields=["profile", "type"], name="trk_identifier_profile_idx")]

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


class MergeReason(models.TextChoices):
    IDENTIFY = "identify", _("Identified")
    ALIAS = "alias", _("Alias")
    TRAIT_MATCH = "trait_match", _("Matching trait")


class MergeStatus(models.TextChoices):
    PENDING_CONSENT = "pending_consent", _("Waiting for consent")
    DONE = "done", _("Merged")
    UNDONE = "undone", _("Undone")


class ProfileMerge(models.Model):
    """One profile joined into another, recorded so it can be undone.

    A join that waits for the person's profiling consent is recorded as pending and completed by
    the processor once consent is on record.
    """

    merged_from = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="merges_out")
    merged_into = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="merges_in")
    reason = models.CharField(_("reason"), max_length=16, choices=MergeReason.choices)
    status = models.CharField(_("status"), max_length=16, choices=MergeStatus.choices)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    moved_identifier_ids: models.JSONField[list[int]] = models.JSONField(default=list, blank=True)
    moved_session_ids: models.JSONField[list[int]] = models.JSONField(default=list, blank=True)
    # Set when the target had no contact and took the merged profile's: undo gives it back.
    took_person = models.BooleanField(default=False)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    merged_at = models.DateTimeField(_("merged"), null=True, blank=True)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("profile merge")
        verbose_name_plural = _("profile merges")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "id"], name="trk_merge_status_idx")]

    def __str__(self) -> str:
        return f"{self.merged_from_id} → {self.merged_into_id} ({self.status})"


class ProcessingCheckpoint(models.Model):
    """The processor's single row: locked for the length of a batch so two workers never
    process the same events, and a record of how far processing has come.

    `last_event_id` is the watermark: every landed event with an id up to it is processed, and
    none above it. It moves in the batch's transaction, so a crash leaves it where the last
    committed batch put it. Processing only ever reads up to a high-water mark below which no
    landing is still in flight (`processing.high_water_mark`), so an event that commits after a
    later id does not fall under the watermark unprocessed."""

    name = models.CharField(max_length=30, unique=True, default="default")
    last_batch = models.BigIntegerField(default=0)
    last_event_id = models.BigIntegerField(default=0)
    events_processed = models.BigIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("processing checkpoint")
        verbose_name_plural = _("processing checkpoints")

    def __str__(self) -> str:
        return f"{self.name}: batch {self.last_batch}"


class Channel(models.TextChoices):
    WEB = "web", _("Web")
    APP = "app", _("App")
    SERVER = "server", _("Server")


class Session(models.Model):
    """A visit: one profile's events with no pause longer than `engine.sessions.SESSION_GAP`.

    Written by processing a batch at a time. Where the visit came from (first page, referrer,
    campaign) is taken from its earliest event; device and location as the events' `context`
    gives them. A profile merge moves the merged profile's sessions with it.
    """

    # No index of its own: both (profile, …) indexes below start with it.
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="sessions", db_index=False)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"))
    event_count = models.PositiveIntegerField(_("events"), default=0)
    page_views = models.PositiveIntegerField(_("page views"), default=0)
    first_page = models.CharField(_("first page"), max_length=500, blank=True, default="")
    referrer = models.CharField(_("referrer"), max_length=500, blank=True, default="")
    utm_source = models.CharField(_("campaign source"), max_length=100, blank=True, default="")
    utm_medium = models.CharField(_("campaign medium"), max_length=100, blank=True, default="")
    utm_campaign = models.CharField(_("campaign name"), max_length=100, blank=True, default="")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, blank=True, default="")
    device = models.CharField(_("device"), max_length=100, blank=True, default="")
    os = models.CharField(_("operating system"), max_length=100, blank=True, default="")
    browser = models.CharField(_("browser"), max_length=100, blank=True, default="")
    location = models.CharField(_("location"), max_length=200, blank=True, default="")
    ip = models.CharField(_("IP address"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        indexes = [
            models.Index(fields=["profile", "ended_at"], name="trk_session_profile_end_idx"),
            models.Index(fields=["profile", "-started_at", "-id"], name="trk_session_profile_start_idx"),
        ]

    def __str__(self) -> str:
        return f"session {self.pk}"

    @property
    def duration(self) -> Any:
        return self.ended_at - self.started_at


def _empty_dict() -> dict[str, Any]:
    return {}


def _empty_list() -> list[str]:
    return []


class ComputedTraits(models.Model):
    """What a profile's events add up to, kept current by processing (one upsert per batch).

    Orders and revenue count tracked "Order Completed" events only: the shop's orders live in
    `commerce`, which tracking does not read. `products` and `categories` keep view counts of
    the most viewed (capped), so the row stays small however long the history.
    """

    profile = models.OneToOneField(Profile, primary_key=True, on_delete=models.CASCADE, related_name="computed")
    event_count = models.PositiveBigIntegerField(_("events"), default=0)
    session_count = models.PositiveIntegerField(_("sessions"), default=0)
    page_views = models.PositiveBigIntegerField(_("page views"), default=0)
    product_views = models.PositiveBigIntegerField(_("product views"), default=0)
    products: models.JSONField[dict[str, int]] = models.JSONField(_("products viewed"), default=_empty_dict, blank=True)
    categories: models.JSONField[dict[str, int]] = models.JSONField(
        _("categories viewed"), default=_empty_dict, blank=True
    )
    order_count = models.PositiveIntegerField(_("orders"), default=0)
    revenue = models.DecimalField(_("revenue"), max_digits=16, decimal_places=2, default=0)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    channels: models.JSONField[list[str]] = models.JSONField(_("channels"), default=_empty_list, blank=True)
    device = models.CharField(_("device"), max_length=100, blank=True, default="")
    os = models.CharField(_("operating system"), max_length=100, blank=True, default="")
    browser = models.CharField(_("browser"), max_length=100, blank=True, default="")
    location = models.CharField(_("location"), max_length=200, blank=True, default="")
    # The time of the event device and location were last taken from, so a late event does not
    # overwrite what a newer one said.
    context_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("computed traits")
        verbose_name_plural = _("computed traits")

    def __str__(self) -> str:
        return f"traits of profile {self.profile_id}"

    def top_products(self, n: int = 5) -> list[tuple[str, int]]:
        return sorted(self.products.items(), key=lambda item: (-item[1], item[0]))[:n]

    def top_categories(self, n: int = 5) -> list[tuple[str, int]]:
        return sorted(self.categories.items(), key=lambda item: (-item[1], item[0]))[:n]


class PropertyType(models.TextChoices):
    STRING = "string", _("Text")
    NUMBER = "number", _("Number")
    INTEGER = "integer", _("Whole number")
    BOOLEAN = "boolean", _("Yes/no")
    OBJECT = "object", _("Object")
    ARRAY = "array", _("List")


class TrackingPlan(models.Model):
    """The events a source is expected to send and their properties, as JSON (see
    `services/plans.py` for the shape); processing checks each event against it."""

    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="plan")
    events: models.JSONField[list[dict[str, Any]]] = models.JSONField(_("planned events"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("tracking plan")
        verbose_name_plural = _("tracking plans")

    def __str__(self) -> str:
        return f"plan of {self.source_id}"


class SeenEvent(models.Model):
    """How often a source sent each (type, event name): a counter per batch, not a row per event."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="seen_events")
    type = models.CharField(_("type"), max_length=10, choices=EventType.choices)
    name = models.CharField(pgettext_lazy("tracking", "event"), max_length=200, blank=True, default="")
    count = models.PositiveBigIntegerField(_("count"), default=0)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("seen event")
        verbose_name_plural = _("seen events")
        constraints = [models.UniqueConstraint(fields=["source", "type", "name"], name="trk_seen_event_uniq")]

    def __str__(self) -> str:
        return f"{self.type} {self.name}"


class ViolationKind(models.TextChoices):
    UNEXPECTED_EVENT = "unexpected_event", _("Unexpected event")
    MISSING_REQUIRED = "missing_required", _("Missing required property")
    WRONG_TYPE = "wrong_type", _("Wrong type")
    UNEXPECTED_PROPERTY = "unexpected_property", _("Unexpected property")


MAX_VIOLATION_EXAMPLES = 5


class PlanViolation(models.Model):
    """One kind of mismatch with the plan (per event and property): a counter and a few examples."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="violations")
    kind = models.CharField(_("kind"), max_length=24, choices=ViolationKind.choices)
    type = models.CharField(_("type"), max_length=10, choices=EventType.choices)
    event = models.CharField(pgettext_lazy("tracking", "event"), max_length=200, blank=True, default="")
    property = models.CharField(_("property"), max_length=200, blank=True, default="")
    count = models.PositiveBigIntegerField(_("count"), default=0)
    # Up to MAX_VIOLATION_EXAMPLES of {"message_id", "event_id", "detail"}, the newest kept.
    examples: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list, blank=True)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("plan violation")
        verbose_name_plural = _("plan violations")
        constraints = [
            models.UniqueConstraint(fields=["source", "kind", "type", "event", "property"], name="trk_violation_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.event} {self.property}"
