"""A merge re-points the merged person's orders; analytics' purchase summaries follow it."""

import datetime as dt

import pytest

from guanxi.analytics import purchase_store, services
from guanxi.analytics.models import PurchaseSummary
from guanxi.analytics.tests.factories import order
from guanxi.commerce.models import Order
from guanxi.commerce.purchase_history import customer_key
from guanxi.customers.tests.factories import PersonFactory
from guanxi.dataio.services import merging
from guanxi.staff.models import User

NOW = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_merged_orders_move_to_the_survivors_summary(admin_user: User) -> None:
    survivor = PersonFactory.create(family_name="Wang")
    merged = PersonFactory.create(family_name="Wang")
    order(survivor, dt.datetime(2026, 1, 5, tzinfo=dt.UTC), 100)
    moved = order(merged, dt.datetime(2026, 3, 5, tzinfo=dt.UTC), 40)
    purchase_store.refresh(now=NOW)
    before = Order.objects.get(pk=moved.pk).updated_at

    merging.merge_people(admin_user, survivor, merged)

    assert Order.objects.get(pk=moved.pk).updated_at > before
    report = purchase_store.refresh(now=NOW)
    assert report.recomputed == 1
    assert PurchaseSummary.objects.get(customer=customer_key(person_id=survivor.pk)).order_count == 2
    # The merged person's row goes when a scoring run finds no record for it.
    s, _stages = services._summaries(NOW, stored=True, quality={})
    assert s.customer == [customer_key(person_id=survivor.pk)]
    assert list(PurchaseSummary.objects.values_list("customer", flat=True)) == s.customer
