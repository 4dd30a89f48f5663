"""What the commerce pages share: the signed-in user, sort columns and keyset pages.

Views read through `commerce.queries` (visibility applied: an invisible order is a 404) and
write only through `commerce.services`.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms import BaseForm
from django.http import HttpRequest

from guanxi.core.pagination import InvalidCursorError, capped_count, keyset_page, parse_ordering
from guanxi.staff.models import User

PAGE_SIZE = 25


def request_user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # login_required runs first
        raise PermissionDenied
    return user


def paged_list(
    request: HttpRequest,
    queryset: QuerySet[Any],
    rows: QuerySet[Any],
    *,
    orderings: Sequence[str],
    default: str,
    labels: Mapping[str, Any],
) -> dict[str, Any]:
    """The context every list page needs: one keyset page, a capped total, sortable columns."""
    ordering = parse_ordering(request.GET.get("ordering"), tuple(orderings), default)
    cursor = request.GET.get("cursor") or None
    try:
        page = keyset_page(rows, ordering=ordering, cursor=cursor, size=PAGE_SIZE)
    except InvalidCursorError:
        cursor = None
        page = keyset_page(rows, ordering=ordering, cursor=None, size=PAGE_SIZE)
    total, more = capped_count(queryset)
    try:
        position = max(1, int(request.GET.get("pos", "1"))) if cursor else 1
    except ValueError:
        position = 1
    columns = {}
    for field in orderings:
        active = ordering.lstrip("-") == field
        descending = ordering.startswith("-")
        columns[field] = {
            "field": field,
            "label": labels[field],
            "ordering": f"-{field}" if active and not descending else field,
            "direction": ("desc" if descending else "asc") if active else "",
        }
    return {
        "items": page.items,
        "page": page,
        "total": total,
        "total_more": more,
        "first": position,
        "last": position + len(page.items) - 1,
        "next_pos": position + len(page.items),
        "prev_pos": max(1, position - PAGE_SIZE),
        "columns": columns,
        "ordering": ordering,
    }


def add_service_errors(form: BaseForm, exc: ValidationError) -> None:
    """Put each service error next to its field; other keys become form-wide errors."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, messages in exc.message_dict.items():
        for message in messages:
            if key in form.fields:
                form.add_error(key, message)
            else:
                form.add_error(None, message if key in ("", "__all__") else f"{key}: {message}")
