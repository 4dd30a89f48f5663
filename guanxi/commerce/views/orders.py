"""Orders: the list (search, filters, sorting, pages, totals), the record page with its buyer
and each line's user shown apart, status moves, payments, and the order form with its lines."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from guanxi.commerce import queries, services
from guanxi.commerce.charts import monthly_revenue
from guanxi.commerce.forms import OrderFilterForm, OrderForm, OrderLineFormSet, PaymentForm, StatusForm
from guanxi.commerce.models import Order, OrderLine, OrderStatus, Payment
from guanxi.commerce.views.common import paged_list, request_user
from guanxi.core.history import history_for
from guanxi.customers import queries as customer_queries
from guanxi.customers.models import Account, Person

ORDER_SORT_LABELS = {
    "ordered_at": gettext_lazy("Ordered at"),
    "total_amount": gettext_lazy("Total"),
    "number": gettext_lazy("Order number"),
}


def get_order(request: HttpRequest, pk: int) -> Order:
    lines = OrderLine.objects.select_related("product", "user_person").order_by("position", "id")
    return get_object_or_404(
        queries.visible_orders(request_user(request))
        .select_related("buyer_account", "buyer_person", "price_list", "created_by")
        .prefetch_related(
            Prefetch("lines", queryset=lines),
            Prefetch("payments", queryset=Payment.objects.select_related("created_by").order_by("paid_at", "id")),
        ),
        pk=pk,
    )


@login_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    filters = queries.OrderFilters.from_query(request.GET)
    queryset = queries.filter_orders(queries.visible_orders(user), filters, user)
    context = paged_list(
        request,
        queryset,
        queries.order_list_rows(queryset),
        orderings=queries.ORDER_ORDERING,
        default="-ordered_at",
        labels=ORDER_SORT_LABELS,
    )
    buyer: Account | Person | None = None
    if filters.buyer_person:
        buyer = customer_queries.visible_people(user).filter(pk=filters.buyer_person).first()
    elif filters.buyer_account:
        buyer = customer_queries.visible_accounts(user).filter(pk=filters.buyer_account).first()
    user_person = (
        customer_queries.visible_people(user).filter(pk=filters.user_person).first() if filters.user_person else None
    )
    context.update(
        {
            "filter_form": OrderFilterForm(request.GET),
            "is_filtered": filters.active,
            "totals": queries.order_totals(queryset),
            "chart": monthly_revenue(queryset),
            "buyer": buyer,
            "user_person": user_person,
            "can_write": services.can_write_orders(user),
        }
    )
    return render(request, "commerce/order_list.html", context)


def _history_rows(order: Order) -> list[dict[str, Any]]:
    rows = []
    for record in history_for(order)[:50]:
        changes = [
            {
                "field": key,
                "old": value[0] if isinstance(value, list) else "",
                "new": value[1] if isinstance(value, list) else value,
            }
            for key, value in sorted(record.changes.items())
            if key != "lines"
        ]
        rows.append({"record": record, "changes": changes})
    return rows


@login_required
@require_GET
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    order = get_order(request, pk)
    can_write = services.can_write_orders(user)
    outstanding = order.total_amount - order.paid_amount
    return render(
        request,
        "commerce/order_detail.html",
        {
            "order": order,
            "lines": list(order.lines.all()),
            "payments": list(order.payments.all()),
            "outstanding": outstanding,
            "can_write": can_write,
            "next_statuses": [
                (value, OrderStatus(value).label)
                for value in OrderStatus.values
                if value in services.ALLOWED_TRANSITIONS[order.status]
            ]
            if can_write
            else [],
            "payment_form": PaymentForm(initial={"amount": outstanding})
            if can_write and outstanding > 0 and order.status not in (OrderStatus.CANCELLED, OrderStatus.RETURNED)
            else None,
            "history": _history_rows(order),
        },
    )


@login_required
@require_POST
def order_status(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_order(request, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a status."))
        return redirect("commerce:order-detail", pk=order.pk)
    try:
        services.set_order_status(request_user(request), order, form.cleaned_data["status"])
    except (ValidationError, PermissionDenied) as exc:
        for message in exc.messages if isinstance(exc, ValidationError) else [str(exc)]:
            messages.error(request, message)
    else:
        messages.success(
            request, _("The order is now %(status)s.") % {"status": OrderStatus(form.cleaned_data["status"]).label}
        )
    return redirect("commerce:order-detail", pk=order.pk)


@login_required
@require_POST
def order_payment(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_order(request, pk)
    form = PaymentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.record_payment(
                request_user(request), order, data["amount"], data["paid_at"], data["method"], data["reference"]
            )
        except (ValidationError, PermissionDenied) as exc:
            for message in exc.messages if isinstance(exc, ValidationError) else [str(exc)]:
                messages.error(request, message)
        else:
            messages.success(request, _("Recorded the payment."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("commerce:order-detail", pk=order.pk)


def _initial_buyer(request: HttpRequest) -> dict[str, str]:
    """Prefill the buyer from ?buyer_person= or ?buyer_account= (the links on customer pages)."""
    user = request_user(request)
    initial: dict[str, str] = {}
    person_id = request.GET.get("buyer_person", "")
    account_id = request.GET.get("buyer_account", "")
    if person_id.isdigit():
        person = customer_queries.visible_people(user).filter(pk=int(person_id)).first()
        if person is not None:
            initial["buyer_person"] = f"{person.pk} · {person}"
    if account_id.isdigit():
        account = customer_queries.visible_accounts(user).filter(pk=int(account_id)).first()
        if account is not None:
            initial["buyer_account"] = f"{account.pk} · {account}"
    return initial


@login_required
def order_create(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not services.can_write_orders(user):
        raise PermissionDenied(_("You may not take orders or record payments."))
    if request.method != "POST":
        form = OrderForm(initial=_initial_buyer(request))
        formset = OrderLineFormSet(prefix="lines", initial=[{"quantity": 1}] * 3)
        return render(request, "commerce/order_form.html", {"form": form, "formset": formset})

    form = OrderForm(request.POST)
    formset = OrderLineFormSet(request.POST, prefix="lines")
    if "add_line" in request.POST:
        # Re-show the form with one more empty line, keeping what was typed.
        data = request.POST.copy()
        data["lines-TOTAL_FORMS"] = str(int(data.get("lines-TOTAL_FORMS", "1") or 1) + 1)
        formset = OrderLineFormSet(data, prefix="lines")
        form = OrderForm(data)
        return render(request, "commerce/order_form.html", {"form": form, "formset": formset, "adding": True})
    if form.is_valid() and formset.is_valid():
        order = _create_from_forms(request, form, formset)
        if order is not None:
            messages.success(request, _("Created the order %(number)s.") % {"number": order.number})
            return redirect("commerce:order-detail", pk=order.pk)
    return render(request, "commerce/order_form.html", {"form": form, "formset": formset}, status=400)


def _create_from_forms(request: HttpRequest, form: OrderForm, formset: Any) -> Order | None:
    """Call the service with the forms' values; put its errors back on the right form and field."""
    user = request_user(request)
    data = form.cleaned_data
    people = customer_queries.visible_people(user)
    accounts = customer_queries.visible_accounts(user)
    filled = [line_form for line_form in formset.forms if not line_form.is_blank]
    if not filled:
        form.add_error(None, _("An order needs at least one line."))
        return None
    person_ids = {data["buyer_person"]} | {f.cleaned_data["user_person"] for f in filled}
    found_people = people.in_bulk([pk for pk in person_ids if pk])
    buyer_account = accounts.filter(pk=data["buyer_account"]).first() if data["buyer_account"] else None
    buyer_person = found_people.get(data["buyer_person"]) if data["buyer_person"] else None
    if data["buyer_account"] and buyer_account is None:
        form.add_error("buyer_account", _("No account with this number that you may see."))
    if data["buyer_person"] and buyer_person is None:
        form.add_error("buyer_person", _("No contact with this number that you may see."))
    lines = []
    for line_form in filled:
        values = line_form.cleaned_data
        user_person = found_people.get(values["user_person"]) if values["user_person"] else None
        if values["user_person"] and user_person is None:
            line_form.add_error("user_person", _("No contact with this number that you may see."))
        lines.append(
            {
                "product": values["product"],
                "description": values["description"],
                "quantity": values["quantity"] if values["quantity"] is not None else 1,
                "unit_price": values["unit_price"],
                "discount_amount": values["discount_amount"] or 0,
                "user_person": user_person,
            }
        )
    if form.errors or any(f.errors for f in filled):
        return None
    try:
        return services.create_order(
            user,
            buyer_account=buyer_account,
            buyer_person=buyer_person,
            lines=lines,
            ordered_at=data["ordered_at"],
            channel=data["channel"],
            status=data["status"],
            currency=data["currency"],
            price_list=data["price_list"],
            discount_amount=data["discount_amount"],
            tax_amount=data["tax_amount"],
            payment_due_date=data["payment_due_date"],
            note=data["note"],
        )
    except ValidationError as exc:
        for key, messages_ in exc.message_dict.items():
            if key.startswith("lines["):
                index_text, _dot, field = key[len("lines[") :].partition("].")
                line_form = filled[int(index_text)] if index_text.isdigit() and int(index_text) < len(filled) else None
                if line_form is not None and field in line_form.fields:
                    for message in messages_:
                        line_form.add_error(field, message)
                    continue
            target = "buyer_person" if key == "buyer" else key
            for message in messages_:
                form.add_error(target if target in form.fields else None, message)
        return None
