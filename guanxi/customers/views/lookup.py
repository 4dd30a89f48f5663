"""“Who owns this customer?” — answered from a phone number, an email or a name, for anyone."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from guanxi.customers import queries
from guanxi.customers.views.common import request_user


@login_required
@require_GET
def owner_lookup(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    matches = queries.owner_lookup(request_user(request), query) if query else []
    return render(
        request,
        "customers/owner_lookup.html",
        {"query": query, "matches": matches, "too_short": bool(query) and not queries.owner_lookup_query_ok(query)},
    )
