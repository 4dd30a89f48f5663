"""Quotes: the list, a quote's page (lines, send, accept into an order, decline), its printable
view, and making one from an opportunity."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from guanxi.core.history import history_for
from guanxi.core.pagination import InvalidCursorError, keyset_page
from guanxi.sales import queries, services
from guanxi.sales.forms import LineForm, QuoteForm
from guanxi.sales.models import Quote, QuoteLine, QuoteStatus
from guanxi.sales.views.common import get_opportunity, report_errors, request_user

PAGE_SIZE = 25


def _get_quote(request: HttpRequest, pk: int) -> Quote:
    return get_object_or_404(
        queries.visible_quotes(request_user(request)).select_related(
            "account", "person", "opportunity", "owner", "price_list", "order"
        ),
        pk=pk,
    )


@login_required
@require_GET
def quote_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    queryset = queries.visible_quotes(user).select_related("account", "person", "opportunity", "owner")
    status = request.GET.get("status", "")
    if status in QuoteStatus.values:
        queryset = queryset.filter(status=status)
    cursor = request.GET.get("cursor") or None
    branches = queries.visible_opportunity_branches(user)
    try:
        page = keyset_page(queryset, ordering="-created_at", cursor=cursor, size=PAGE_SIZE, branches=branches)
    except InvalidCursorError:
        page = keyset_page(queryset, ordering="-created_at", cursor=None, size=PAGE_SIZE, branches=branches)
    return render(
        request,
        "sales/quote_list.html",
        {"page": page, "items": page.items, "status": status, "statuses": QuoteStatus.choices},
    )


@login_required
@require_POST
def quote_from_opportunity(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = get_opportunity(request, pk)
    try:
        quote = services.create_quote_from_opportunity(request_user(request), opportunity)
    except (ValidationError, PermissionDenied) as exc:
        report_errors(request, exc)
        return redirect("sales:opportunity-detail", pk=pk)
    messages.success(request, _("Created the quote %(number)s.") % {"number": quote.number})
    return redirect("sales:quote-detail", pk=quote.pk)


@login_required
def quote_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    quote = _get_quote(request, pk)
    editable = queries.editable_quotes(user).filter(pk=pk).exists()
    form = QuoteForm(
        request.POST or None,
        initial={
            "valid_until": quote.valid_until,
            "tax_rate": quote.tax_rate,
            "price_list": quote.price_list_id,
            "note": quote.note,
        },
    )
    if request.method == "POST":
        if not editable:
            raise PermissionDenied(_("You may not change this quote."))
        if form.is_valid():
            try:
                services.update_quote(user, quote, form.cleaned_data)
            except ValidationError as exc:
                report_errors(request, exc)
            else:
                messages.success(request, _("Saved."))
            return redirect("sales:quote-detail", pk=pk)
    return render(
        request,
        "sales/quote_detail.html",
        {
            "quote": quote,
            "lines": quote.lines.select_related("product"),
            "can_edit": editable,
            "is_draft": quote.status == QuoteStatus.DRAFT,
            "form": form,
            "line_form": LineForm(),
            "history": [{"record": record, "changes": []} for record in history_for(quote)[:20]],
        },
    )


@login_required
@require_GET
def quote_print(request: HttpRequest, pk: int) -> HttpResponse:
    quote = _get_quote(request, pk)
    return render(request, "sales/quote_print.html", {"quote": quote, "lines": quote.lines.select_related("product")})


@login_required
@require_POST
def quote_line_add(request: HttpRequest, pk: int) -> HttpResponse:
    quote = _get_quote(request, pk)
    form = LineForm(request.POST)
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        try:
            services.add_quote_line(request_user(request), quote, data)
        except (ValidationError, PermissionDenied) as exc:
            report_errors(request, exc)
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("sales:quote-detail", pk=pk)


@login_required
@require_POST
def quote_line_remove(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_object_or_404(QuoteLine, pk=pk)
    _get_quote(request, line.quote_id)
    try:
        services.remove_quote_line(request_user(request), line)
    except (ValidationError, PermissionDenied) as exc:
        report_errors(request, exc)
    return redirect("sales:quote-detail", pk=line.quote_id)


@login_required
@require_POST
def quote_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Send, accept (which takes the order) or decline."""
    user = request_user(request)
    quote = _get_quote(request, pk)
    actions = {"send": services.send_quote, "accept": services.accept_quote, "decline": services.decline_quote}
    if action not in actions:
        return redirect("sales:quote-detail", pk=pk)
    try:
        quote = actions[action](user, quote)
    except (ValidationError, PermissionDenied) as exc:
        report_errors(request, exc)
        return redirect("sales:quote-detail", pk=pk)
    if action == "accept" and quote.order is not None:
        messages.success(request, _("Accepted; order %(number)s was taken.") % {"number": quote.order.number})
    else:
        messages.success(request, _("The quote is now %(status)s.") % {"status": quote.get_status_display()})
    return redirect("sales:quote-detail", pk=pk)
