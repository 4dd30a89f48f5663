"""Computed traits: what each profile's events add up to, kept current a batch at a time.

Processing adds each batch's events to a `TraitDelta` per profile, then writes the profiles'
`ComputedTraits` rows: one read of the stored rows (none for profiles the batch created), then
multi-row UPDATEs (one for the rows whose viewed products or categories change, one without
those columns for the rest) and one INSERT (`bulk_sql`: per batch on PostgreSQL, per 500 rows
on SQLite). The capped top-100 product and category counts are merged in Python, not in SQL, so
the rule lives in one place (`apply_delta`). A merge adds the merged profile's row into the
target's; an undo and `process_events --rebuild-traits` recompute rows from the events
themselves (`processing.rebuild_computed_traits`).

Orders, revenue and the last order date come from tracked "Order Completed" events only:
tracking does not read `commerce` (the two apps are independent layers).
"""

import datetime
import operator
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from guanxi.tracking import context
from guanxi.tracking.models import ComputedTraits
from guanxi.tracking.services.bulk_sql import in_chunks, insert_rows, json_text, read_json, update_rows

MAX_KEPT = 100  # products and categories kept per profile, the most viewed


@dataclass
class TraitDelta:
    events: int = 0
    sessions: int = 0
    page_views: int = 0
    product_views: int = 0
    products: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    orders: int = 0
    revenue: Decimal = Decimal(0)
    last_order_at: datetime.datetime | None = None
    channels: set[str] = field(default_factory=set)
    context_at: datetime.datetime | None = None
    context_payload: dict[str, Any] | None = None  # the newest event naming a device
    place_at: datetime.datetime | None = None
    place_payload: dict[str, Any] | None = None  # the newest event naming a place or an IP

    def add(self, event_type: str, name: str, payload: dict[str, Any], at: datetime.datetime) -> None:
        self.events += 1
        self.channels.add(context.channel(payload))
        if event_type in ("page", "screen"):
            self.page_views += 1
        if (event_type == "track" and name == context.PRODUCT_VIEW_EVENT) or event_type == "page":
            pairs = context.products_of(payload)
            if event_type == "track" or any(product for product, _category in pairs):
                self.product_views += 1
            for product, category in pairs:
                if product:
                    self.products[product] += 1
                if category:
                    self.categories[category] += 1
        elif name == context.ORDER_EVENT and event_type == "track":
            self.orders += 1
            self.revenue += context.order_revenue(payload)
            if self.last_order_at is None or at > self.last_order_at:
                self.last_order_at = at
        ctx = payload.get("context")
        if not isinstance(ctx, dict):
            return
        if (self.context_at is None or at >= self.context_at) and ("userAgent" in ctx or "device" in ctx):
            self.context_at, self.context_payload = at, payload
        if (self.place_at is None or at >= self.place_at) and ("location" in ctx or "ip" in ctx):
            self.place_at, self.place_payload = at, payload


def _top(counts: Mapping[str, int]) -> dict[str, int]:
    if len(counts) <= MAX_KEPT:
        return dict(counts)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_KEPT])


@dataclass
class TraitValues:
    """A `ComputedTraits` row as processing reads and writes it (a model instance per profile
    costs more than the rest of its update)."""

    profile_id: int
    event_count: int = 0
    session_count: int = 0
    page_views: int = 0
    product_views: int = 0
    products: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    order_count: int = 0
    revenue: Decimal = Decimal(0)
    last_order_at: datetime.datetime | None = None
    channels: list[str] = field(default_factory=list)
    device: str = ""
    os: str = ""
    browser: str = ""
    location: str = ""
    context_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None


def apply_delta[Row: (ComputedTraits, TraitValues)](row: Row, delta: TraitDelta) -> Row:
    """Add a delta to a row (new or stored) in memory."""
    row.event_count += delta.events
    row.session_count = max(0, row.session_count + delta.sessions)
    row.page_views += delta.page_views
    row.product_views += delta.product_views
    if delta.products:
        row.products = _top(Counter(row.products) + delta.products)
    if delta.categories:
        row.categories = _top(Counter(row.categories) + delta.categories)
    row.order_count += delta.orders
    row.revenue = Decimal(row.revenue) + delta.revenue
    if delta.last_order_at and (row.last_order_at is None or delta.last_order_at > row.last_order_at):
        row.last_order_at = delta.last_order_at
    row.channels = sorted(set(row.channels) | delta.channels)
    newest = row.context_at
    if delta.context_payload is not None and (newest is None or (delta.context_at or newest) >= newest):
        device, system, browser = context.device_of(delta.context_payload)
        row.device, row.os, row.browser = device or row.device, system or row.os, browser or row.browser
        row.context_at = delta.context_at
    if delta.place_payload is not None and (newest is None or (delta.place_at or newest) >= newest):
        place, ip = context.location_of(delta.place_payload)
        row.location = place or ip or row.location
        row.context_at = max(row.context_at or delta.place_at, delta.place_at) if delta.place_at else row.context_at
    return row


def delta_of(row: ComputedTraits) -> TraitDelta:
    """A stored row as a delta, to add a merged profile's traits into its target's."""
    delta = TraitDelta(
        events=row.event_count,
        sessions=row.session_count,
        page_views=row.page_views,
        product_views=row.product_views,
        products=Counter(row.products),
        categories=Counter(row.categories),
        orders=row.order_count,
        revenue=Decimal(row.revenue),
        last_order_at=row.last_order_at,
        channels=set(row.channels),
    )
    return delta


UPSERT_FIELDS = [
    "event_count",
    "session_count",
    "page_views",
    "product_views",
    "products",
    "categories",
    "order_count",
    "revenue",
    "last_order_at",
    "channels",
    "device",
    "os",
    "browser",
    "location",
    "context_at",
    "updated_at",
]
# Written only for the rows whose delta counts products or categories: the others keep theirs,
# so they are neither decoded nor sent back (up to MAX_KEPT entries each).
VIEWED_FIELDS = ("products", "categories")
COUNTER_FIELDS = [name for name in UPSERT_FIELDS if name not in VIEWED_FIELDS]
JSON_FIELDS = (*VIEWED_FIELDS, "channels")
# What the read gives: TraitValues' fields in order, the JSON ones as text.
READ_COLUMNS = ["profile_id", *(f"{name}_text" if name in JSON_FIELDS else name for name in UPSERT_FIELDS[:-1])]
PRODUCTS, CATEGORIES, CHANNELS = (READ_COLUMNS.index(f"{name}_text") for name in JSON_FIELDS)


@dataclass
class StoredTraits:
    """The rows `save_deltas` adds to, read before it is called when the caller has database
    work to overlap with the adding (`processing._process_batch_once`)."""

    rows: dict[int, TraitValues]
    viewed: dict[int, tuple[str, str]]  # the stored products and categories, as text


def read_stored(profile_ids: Iterable[int], fresh: Collection[int] = ()) -> StoredTraits:
    """The rows of the profiles not known to be `fresh` (created by the caller's transaction,
    so without a row), in one read a chunk (`bulk_sql.in_chunks`). JSON columns are read as
    text and decoded by `read_json` (Django's decoder cost more than the rest of the read), the
    viewed products and categories only later, where a delta changes them."""
    stored = StoredTraits({}, {})
    rows = ComputedTraits.objects.annotate(**{f"{name}_text": json_text(name) for name in JSON_FIELDS})
    for chunk in in_chunks(sorted(pk for pk in profile_ids if pk not in fresh)):
        for values in rows.filter(profile_id__in=chunk).values_list(*READ_COLUMNS):
            read = list(values)
            stored.viewed[read[0]] = (read[PRODUCTS], read[CATEGORIES])
            read[PRODUCTS], read[CATEGORIES], read[CHANNELS] = {}, {}, read_json(read[CHANNELS])
            stored.rows[read[0]] = TraitValues(*read)
    return stored


def save_deltas(
    deltas: Mapping[int, TraitDelta], fresh: Collection[int] = (), *, already_read: StoredTraits | None = None
) -> None:
    """Add each profile's delta to its stored row (`read_stored`, unless `already_read`), then
    multi-row UPDATEs of the stored rows and INSERTs of the new ones (the caller holds the
    processing lock, so nobody writes these rows in between)."""
    profile_ids = sorted(deltas)
    now = timezone.now()
    read = already_read if already_read is not None else read_stored(profile_ids, fresh)
    stored, viewed = read.rows, read.viewed
    new: list[TraitValues] = []
    changed: list[TraitValues] = []  # stored rows whose products or categories change
    kept: list[TraitValues] = []
    for profile_id in profile_ids:
        delta = deltas[profile_id]
        row = stored.get(profile_id)
        if row is None:
            row = TraitValues(profile_id)
            new.append(row)
        elif delta.products or delta.categories:
            products, categories = viewed[profile_id]
            row.products, row.categories = read_json(products), read_json(categories)
            changed.append(row)
        else:
            kept.append(row)
        apply_delta(row, delta).updated_at = now
    update_rows(ComputedTraits, UPSERT_FIELDS, [_ROW_VALUES(r) for r in changed])
    update_rows(ComputedTraits, COUNTER_FIELDS, [_COUNTER_VALUES(r) for r in kept])
    insert_rows(ComputedTraits, ["profile_id", *UPSERT_FIELDS], [_ROW_VALUES(r) for r in new])


# A row's values in column order, read in C (a generator of `getattr` a field cost more).
_ROW_VALUES = operator.attrgetter("profile_id", *UPSERT_FIELDS)
_COUNTER_VALUES = operator.attrgetter("profile_id", *COUNTER_FIELDS)


def merge_traits(from_id: int, into_id: int) -> None:
    """A merged profile's traits added into its target's (sessions move with the profile)."""
    merged = ComputedTraits.objects.filter(profile_id=from_id).first()
    if merged is None:
        return
    save_deltas({into_id: delta_of(merged)})
