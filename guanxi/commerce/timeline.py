"""Orders and payments on a customer's timeline.

A person's timeline shows the orders they bought (购买人) and the payments against them; an
account's, the orders it bought. Visibility is the orders' own: whoever may see the buyer.
One query per kind and page, each an index range on the buyer and the time column.
"""

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.commerce import queries
from guanxi.commerce.models import OrderStatus
from guanxi.core.timeline import Batch, Entry, Window, register_source
from guanxi.customers.models import Account, Person
from guanxi.staff.models import User

KINDS = (("order", gettext_lazy("Orders")), ("payment", gettext_lazy("Payments")))


def _buyer_filter(record: Account | Person, prefix: str = "") -> dict[str, int]:
    field = "buyer_account" if isinstance(record, Account) else "buyer_person"
    return {f"{prefix}{field}_id": record.pk}


def source(request: HttpRequest, record: object, window: Window) -> Batch:
    user = request.user
    if not isinstance(user, User) or not isinstance(record, Account | Person):
        return Batch([], False)
    entries: list[Entry] = []
    more = False
    if window.wants("order"):
        orders = list(
            window.bound(queries.visible_orders(user).filter(**_buyer_filter(record)), "ordered_at").select_related(
                "created_by"
            )[: window.fetch]
        )
        more = len(orders) >= window.fetch
        for order in orders:
            entries.append(
                Entry(
                    at=order.ordered_at,
                    kind="order",
                    key=f"order:{order.pk}",
                    title=_("Order %(number)s · %(total)s %(currency)s")
                    % {"number": order.number, "total": order.total_amount, "currency": order.currency},
                    detail=f"{order.get_status_display()} · {order.get_channel_display()}",
                    url=reverse("commerce:order-detail", args=[order.pk]),
                    who=str(order.created_by) if order.created_by else "",
                    tone="warn" if order.status in (OrderStatus.CANCELLED, OrderStatus.RETURNED) else "",
                )
            )
    if window.wants("payment"):
        payments = list(
            window.bound(
                queries.visible_payments(user).filter(**_buyer_filter(record, "order__")), "paid_at"
            ).select_related("order", "created_by")[: window.fetch]
        )
        more = more or len(payments) >= window.fetch
        for payment in payments:
            entries.append(
                Entry(
                    at=payment.paid_at,
                    kind="payment",
                    key=f"payment:{payment.pk}",
                    title=_("Payment of %(amount)s %(currency)s")
                    % {"amount": payment.amount, "currency": payment.currency},
                    detail=_("Order %(number)s · %(method)s")
                    % {"number": payment.order.number, "method": payment.get_method_display()},
                    url=reverse("commerce:order-detail", args=[payment.order_id]),
                    who=str(payment.created_by) if payment.created_by else "",
                )
            )
    return Batch(entries, more)


def register() -> None:
    for record_type in ("customers.person", "customers.account"):
        register_source(record_type, "commerce.orders", source, kinds=KINDS)
