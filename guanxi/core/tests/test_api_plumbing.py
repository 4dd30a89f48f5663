"""API plumbing shared by every app: problem details, the OpenAPI schema and the docs page."""

import json
import re
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.test import Client
from rest_framework import exceptions

from guanxi.core.api import PROBLEM_CONTENT_TYPE, flatten_errors, problem_exception_handler
from guanxi.core.pagination import InvalidCursorError


def test_flatten_errors_names_nested_fields() -> None:
    detail = {
        "emails": {1: ["Bad address."]},
        "addresses": [{}, {"line1": ["Required."]}],
        "non_field_errors": ["Whole thing is off."],
        "name": "Too long.",
    }
    assert flatten_errors(detail) == [
        {"field": "emails.1", "reason": "Bad address."},
        {"field": "addresses.1.line1", "reason": "Required."},
        {"field": "", "reason": "Whole thing is off."},
        {"field": "name", "reason": "Too long."},
    ]


@pytest.mark.parametrize(
    ("exc", "status", "fields"),
    [
        (DjangoValidationError({"emails.1": ["Bad."], "phones.0": ["Bad."]}), 400, ["emails.1", "phones.0"]),
        (DjangoValidationError("Just wrong."), 400, [""]),
        (Http404(), 404, None),
        (DjangoPermissionDenied("No."), 403, None),
        (InvalidCursorError("the cursor is malformed"), 400, ["cursor"]),
        (exceptions.NotAuthenticated(), 401, None),
        (exceptions.MethodNotAllowed("PUT"), 405, None),
    ],
)
def test_every_error_is_problem_json(exc: Exception, status: int, fields: list[str] | None) -> None:
    response = problem_exception_handler(exc, {})
    assert response is not None
    assert response.status_code == status
    assert response.content_type == PROBLEM_CONTENT_TYPE
    data: dict[str, Any] = response.data
    assert data["status"] == status
    assert data["type"] == "about:blank"
    if fields is None:
        assert "errors" not in data
    else:
        assert [e["field"] for e in data["errors"]] == fields


def test_unknown_exceptions_are_left_to_django() -> None:
    assert problem_exception_handler(RuntimeError("boom"), {}) is None


@pytest.mark.django_db
def test_schema_is_openapi_3_json_with_the_endpoints() -> None:
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    schema = json.loads(response.content)
    assert re.fullmatch(r"3\.0\.\d+", schema["openapi"])
    paths = schema["paths"]
    for path in (
        "/api/people/",
        "/api/people/{id}/",
        "/api/people/bulk/",
        "/api/people/{id}/stage/",
        "/api/people/{id}/history/",
        "/api/people/{id}/consents/",
        "/api/accounts/",
        "/api/accounts/{id}/",
        "/api/roles/",
        "/api/relationships/",
        "/api/tags/",
        "/api/attribute-definitions/",
        "/api/auth/token/",
    ):
        assert path in paths, path
    list_params = {p["name"] for p in paths["/api/people/"]["get"]["parameters"]}
    assert {"q", "owner", "tag", "stage", "account", "attr.<key>", "cursor", "page_size", "ordering"} <= list_params
    account_params = {p["name"] for p in paths["/api/accounts/"]["get"]["parameters"]}
    assert {"market_segment", "kind"} <= account_params
    assert "put" not in paths["/api/relationships/{id}/"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


@pytest.mark.django_db
def test_docs_page_loads_swagger_from_our_own_static_files() -> None:
    response = Client().get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']([^"']+)["']""", html)
    assert sources, html
    assert not [s for s in sources if re.match(r"(https?:)?//", s)]
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in sources
    assert "/api/openapi.json" in html
    assert Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
