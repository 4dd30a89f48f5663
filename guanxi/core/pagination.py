"""Keyset (cursor) pagination shared by the web lists and the API.

OFFSET pagination reads and throws away every skipped row, so page 4,000 of a million-row list
gets slower and slower; a keyset page seeks straight to `(sort value, id)` through an index and
costs the same on every page. Sortable fields must be NOT NULL and indexed together with `id`.
"""

import base64
import binascii
import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models
from django.db.models import Q

COUNT_CAP = 1_000


class InvalidCursorError(ValueError):
    """The cursor in the request is not one this server wrote."""


@dataclass
class KeysetPage[ModelT: models.Model]:
    items: list[ModelT]
    next_cursor: str | None
    previous_cursor: str | None


def _encode(value: Any, pk: int, backwards: bool) -> str:
    if isinstance(value, datetime.datetime | datetime.date):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = str(value)  # exact, and the field's to_python reads it back
    raw = json.dumps({"v": value, "pk": pk, "b": backwards}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, field: models.Field[Any, Any]) -> tuple[Any, int, bool]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        value = field.to_python(data["v"])
        pk = int(data["pk"])
        backwards = bool(data["b"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursorError("the cursor is malformed") from exc
    except Exception as exc:  # to_python raises ValidationError for values of the wrong type
        raise InvalidCursorError("the cursor does not fit this ordering") from exc
    return value, pk, backwards


def parse_ordering(ordering: str | None, allowed: tuple[str, ...], default: str) -> str:
    """Return a validated `field` or `-field`; anything else falls back to the default."""
    if ordering and ordering.lstrip("-") in allowed:
        return ordering
    return default


def keyset_page[ModelT: models.Model](
    queryset: models.QuerySet[ModelT],
    *,
    ordering: str,
    cursor: str | None,
    size: int,
    branches: Sequence[Q] = (),
) -> KeysetPage[ModelT]:
    """One page of `queryset` after (or before) `cursor`.

    `branches`, when given, are filters whose union is the queryset (e.g. "mine" and "the
    pool"): each is fetched as its own ordered, limited query and the results merged, which
    keyset order makes exact. It lets SQLite walk one index per branch instead of sorting
    every row an OR matches. Only on SQLite: its BINARY collation orders text as Python does,
    while PostgreSQL's collation may not (and PostgreSQL plans the OR well by itself).
    """
    descending = ordering.startswith("-")
    name = ordering.lstrip("-")
    try:
        field = queryset.model._meta.get_field(name)
    except FieldDoesNotExist as exc:
        raise InvalidCursorError(f"cannot order by {name}") from exc
    if not isinstance(field, models.Field):
        raise InvalidCursorError(f"cannot order by {name}")

    backwards = False
    if cursor:
        value, pk, backwards = _decode(cursor, field)
        # Walking forwards in descending order, or backwards in ascending order, means "less than".
        less = descending != backwards
        op = "lt" if less else "gt"
        queryset = queryset.filter(Q(**{f"{name}__{op}": value}) | Q(**{name: value, f"pk__{op}": pk}))
    reverse_sort = descending != backwards
    prefix = "-" if reverse_sort else ""
    ordered = queryset.order_by(f"{prefix}{name}", f"{prefix}pk")
    if len(branches) > 1 and connections[queryset.db].vendor == "sqlite":
        # Keys first (index-only per branch), then one query for the page's rows and prefetches.
        keys = {key for branch in branches for key in ordered.filter(branch).values_list(name, "pk")[: size + 1]}
        page_pks = [pk for _, pk in sorted(keys, reverse=reverse_sort)[: size + 1]]
        rows = list(ordered.filter(pk__in=page_pks))
    else:
        rows = list(ordered[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    if not rows:
        return KeysetPage(items=[], next_cursor=None, previous_cursor=None)
    first, last = rows[0], rows[-1]
    first_pk, last_pk = int(first.pk), int(last.pk)
    next_cursor: str | None
    previous_cursor: str | None
    if backwards:
        next_cursor = _encode(getattr(last, name), last_pk, False)
        previous_cursor = _encode(getattr(first, name), first_pk, True) if has_more else None
    else:
        next_cursor = _encode(getattr(last, name), last_pk, False) if has_more else None
        previous_cursor = _encode(getattr(first, name), first_pk, True) if cursor else None
    return KeysetPage(items=rows, next_cursor=next_cursor, previous_cursor=previous_cursor)


def capped_count(queryset: models.QuerySet[Any], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """Count at most `cap + 1` rows: "1,000+" is as useful to a person as the exact figure."""
    count = queryset.order_by()[: cap + 1].count()
    return min(count, cap), count > cap
