"""Order panels on customer pages: what a person bought, what they use, what an account bought.

`customers` may not import this app, so the panels register themselves with `core.panels`.
A person's panel keeps the two roles apart: "Bought" (orders where they are the buyer, 购买人)
and "Uses" (order lines bought by someone else for them, 使用人), because the person who pays
and the person who uses are different people to sell to.
"""

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString

from guanxi.commerce import queries, services
from guanxi.core.panels import register_panel
from guanxi.customers.models import Account, Person
from guanxi.staff.models import User

RECENT = 5


def _user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def person_panel(request: HttpRequest, record: object) -> SafeString | str:
    user = _user(request)
    if user is None or not isinstance(record, Person):
        return ""
    bought = queries.visible_orders(user).filter(buyer_person=record)
    used = queries.used_lines_of(record, user)
    list_url = reverse("commerce:order-list")
    return render_to_string(
        "commerce/_person_panel.html",
        {
            "person": record,
            "totals": queries.order_totals(bought),
            "recent": list(queries.order_list_rows(bought).order_by("-ordered_at", "-id")[:RECENT]),
            "used_lines": list(used[:RECENT]),
            "used_count": used.count(),
            "bought_url": f"{list_url}?buyer_person={record.pk}",
            "used_url": f"{list_url}?user_person={record.pk}",
            "create_url": f"{reverse('commerce:order-create')}?buyer_person={record.pk}",
            "can_write": services.can_write_orders(user),
        },
        request=request,
    )


def account_panel(request: HttpRequest, record: object) -> SafeString | str:
    user = _user(request)
    if user is None or not isinstance(record, Account):
        return ""
    orders = queries.visible_orders(user).filter(buyer_account=record)
    list_url = reverse("commerce:order-list")
    return render_to_string(
        "commerce/_account_panel.html",
        {
            "account": record,
            "totals": queries.order_totals(orders),
            "recent": list(queries.order_list_rows(orders).order_by("-ordered_at", "-id")[:RECENT]),
            "orders_url": f"{list_url}?buyer_account={record.pk}",
            "create_url": f"{reverse('commerce:order-create')}?buyer_account={record.pk}",
            "can_write": services.can_write_orders(user),
        },
        request=request,
    )


def register() -> None:
    register_panel("customers.person", "commerce.orders", person_panel, order=40)
    register_panel("customers.account", "commerce.orders", account_panel, order=40)
