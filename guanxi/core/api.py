"""API plumbing every app shares: strict input, RFC 9457 problem details and keyset cursor pagination."""

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from guanxi.core.pagination import InvalidCursorError, keyset_page, parse_ordering

PROBLEM_CONTENT_TYPE = "application/problem+json"
UNKNOWN_FIELD = "Unknown field."


class StrictInputMixin:
    """Refuse input keys the serializer does not know, naming each one.

    `ignored_fields` are output-only fields (id, url, timestamps...) a client may send back
    unchanged after a GET; they are accepted and ignored, never written.
    """

    ignored_fields: ClassVar[frozenset[str]] = frozenset()
    fields: Any

    def to_internal_value(self, data: Any) -> Any:
        errors: dict[str, Any] = {}
        if isinstance(data, Mapping):
            errors = {key: [UNKNOWN_FIELD] for key in data if key not in self.fields and key not in self.ignored_fields}
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]  # mixed into a Serializer
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            raise serializers.ValidationError({**detail, **errors}) from exc
        if errors:
            raise serializers.ValidationError(errors)
        return value


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Nested DRF/Django error structures as a flat list of `{field, reason}` pairs."""
    errors: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            errors.extend(flatten_errors(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            errors.extend({"field": prefix, "reason": str(item)} for item in detail)
        else:
            for index, item in enumerate(detail):
                errors.extend(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        errors.append({"field": prefix, "reason": str(detail)})
    return errors


def django_error_detail(error: DjangoValidationError) -> Any:
    return error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}


def problem_response(
    status_code: int, title: str, detail: str, errors: list[dict[str, str]] | None = None, **extra: Any
) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status_code, "detail": detail}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error as `application/problem+json`, naming each bad field and why."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(django_error_detail(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, InvalidCursorError):
        exc = exceptions.ValidationError({"cursor": [str(exc)]})
    if not isinstance(exc, exceptions.APIException):
        return None
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = str(exc.auth_header)  # type: ignore[attr-defined]  # set by DRF on 401s
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        fields = ", ".join(sorted({e["field"] for e in errors if e["field"]}))
        detail = f"Invalid input in: {fields}." if fields else "; ".join(e["reason"] for e in errors)
        response = problem_response(status.HTTP_400_BAD_REQUEST, "Invalid input", detail, errors)
    else:
        detail_text = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        title = str(getattr(exc, "default_detail", "Error"))
        response = problem_response(exc.status_code, title, str(detail_text))
    for key, value in headers.items():
        response[key] = value
    return response


class KeysetCursorPagination(BasePagination):
    """Cursor pagination over `(ordering field, id)`; `?ordering=` picks from the view's list.

    A view may offer `keyset_branches()`, the OR-ed parts of its queryset (see `keyset_page`).
    """

    page_size = 25
    max_page_size = 200
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate_queryset(  # type: ignore[override]  # keyset paging needs a QuerySet, not any Sequence
        self, queryset: models.QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        allowed: tuple[str, ...] = tuple(getattr(view, "ordering_fields", ("id",)))
        default: str = getattr(view, "default_ordering", "-id")
        self.ordering = parse_ordering(request.query_params.get("ordering"), (*allowed, "id"), default)
        try:
            size = int(request.query_params.get(self.page_size_query_param, self.page_size))
        except ValueError as exc:
            raise exceptions.ValidationError({self.page_size_query_param: ["Enter a whole number."]}) from exc
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [f"Must be between 1 and {self.max_page_size}."]}
            )
        branches_of = getattr(view, "keyset_branches", None)
        page = keyset_page(
            queryset,
            ordering=self.ordering,
            cursor=request.query_params.get(self.cursor_query_param),
            size=size,
            branches=branches_of() if branches_of else (),
        )
        self.request = request
        self.page = page
        return page.items

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            OrderedDict(
                [
                    ("next", self._link(self.page.next_cursor)),
                    ("previous", self._link(self.page.previous_cursor)),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        allowed = ", ".join(getattr(view, "ordering_fields", ("id",)))
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque cursor from a previous page's `next` or `previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page, 1 to {self.max_page_size}.",
                "schema": {"type": "integer"},
            },
            {
                "name": "ordering",
                "required": False,
                "in": "query",
                "description": f"Sort field, `-` prefix for descending. One of: {allowed}, id.",
                "schema": {"type": "string"},
            },
        ]
