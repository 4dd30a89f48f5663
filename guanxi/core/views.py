"""Error pages that speak the client's language: problem+json under /api/, HTML elsewhere."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from guanxi.core.api import PROBLEM_CONTENT_TYPE


def _problem(status: int, title: str, detail: str) -> JsonResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _problem(404, "Not found.", f"No API endpoint or record at {request.path}.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _problem(500, "Server error.", "The server failed to handle this request; nothing was changed.")
    return defaults.server_error(request)
