"""Demo data: believable, deterministic, consistent totals, and safe to load twice."""

import pytest
from django.core.management import call_command
from django.db.models import F

from guanxi.commerce import demo
from guanxi.commerce.models import Order, OrderLine, PriceList
from guanxi.customers.models import Relationship, RelationshipKind

pytestmark = pytest.mark.django_db


def test_demo_orders_on_demo_customers() -> None:
    call_command("demo_data", accounts=20, people=200, password="demo-pass-1", verbosity=0)
    demo.SIZES["tiny"] = 400
    try:
        counts = demo.load_demo("tiny", seed=3)
    finally:
        del demo.SIZES["tiny"]
    assert counts["orders"] == 400
    assert Order.objects.count() == 400
    assert OrderLine.objects.count() == counts["order_lines"]
    assert set(PriceList.objects.values_list("currency", flat=True)) == {"CNY", "USD"}
    # Totals add up: each order's subtotal is the sum of its lines; paid never exceeds the total.
    # (Summed in Python: SQLite adds decimals as floats.)
    orders = list(Order.objects.prefetch_related("lines", "payments"))
    assert [o.number for o in orders if o.subtotal_amount != sum(line.line_total for line in o.lines.all())] == []
    assert [o.number for o in orders if o.paid_amount != sum(p.amount for p in o.payments.all())] == []
    assert not Order.objects.filter(paid_amount__gt=F("total_amount")).exists()
    # Where a "buys for" relationship exists, some lines are used by the other person.
    if Relationship.objects.filter(kind=RelationshipKind.BUYS_FOR).exists():
        assert OrderLine.objects.filter(user_person__isnull=False).exists()
    numbers = list(Order.objects.order_by("number").values_list("number", flat=True))
    assert numbers[0] == "SO-000001"
    assert numbers[-1] == "SO-000400"
    again = demo.load_demo("small")
    assert again["orders"] == 0
    assert Order.objects.count() == 400
