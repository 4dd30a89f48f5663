"""The stored purchase summaries always equal computing them from every order.

Each test changes the orders the way shops do — new orders on the last purchase day or later,
a back-dated order, a cancelled old order, a new customer — refreshes, and compares the store
with the summaries computed from the orders, row for row.
"""

import datetime as dt

import numpy as np
import pytest
from django.db import connection

from guanxi.analytics import purchase_store, services
from guanxi.analytics.models import PurchaseSummary, PurchaseSummaryState
from guanxi.analytics.tests.factories import order
from guanxi.commerce.models import Order, OrderStatus
from guanxi.commerce.purchase_history import customer_key
from guanxi.customers.models import Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.engine import summaries
from guanxi.staff.models import User

NOW = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


def _stored() -> dict[str, tuple[int, int, int, int, float, float]]:
    return {
        row.customer: (
            row.periods,
            row.first_day,
            row.last_day,
            row.order_count,
            round(row.revenue, 6),
            round(row.repeat_revenue, 6),
        )
        for row in PurchaseSummary.objects.all()
    }


def _from_orders() -> dict[str, tuple[int, int, int, int, float, float]]:
    from guanxi.commerce import purchase_history

    expr = summaries.purchase_periods(purchase_history.purchases_table(), end=NOW)
    return {
        str(r[0]): (int(r[1]), int(r[2]), int(r[3]), int(r[4]), round(float(r[5]), 6), round(float(r[6]), 6))
        for r in purchase_history.run(expr.select(*summaries.PERIOD_COLUMNS))
    }


@pytest.fixture(autouse=True)
def no_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders made a moment before a refresh would be recomputed again by the next one (the
    overlap that covers late commits); the counts below are exact without it."""
    monkeypatch.setattr(purchase_store, "CHANGE_OVERLAP", dt.timedelta(0))


@pytest.fixture
def people(db: None) -> dict[str, Person]:
    alice = PersonFactory.create(family_name="Alice")
    bob = PersonFactory.create(family_name="Bob")
    order(alice, at("2026-01-10"), 100)
    order(alice, at("2026-03-10"), 40)
    order(bob, at("2026-02-01"), 70)
    return {"alice": alice, "bob": bob}


def test_the_first_refresh_builds_every_customer(people: dict[str, Person]) -> None:
    report = purchase_store.refresh(now=NOW)
    assert (report.rebuilt, report.recomputed, report.customers) == (True, 2, 2)
    assert _stored() == _from_orders()
    alice = _stored()[customer_key(person_id=people["alice"].pk)]
    assert alice == (2, summaries.day_number(at("2026-01-10")), summaries.day_number(at("2026-03-10")), 2, 140.0, 40.0)
    state = PurchaseSummaryState.objects.get()
    assert state.order_id == Order.objects.order_by("-pk").values_list("pk", flat=True)[0]


def test_new_orders_are_folded_in_without_recomputing(people: dict[str, Person]) -> None:
    purchase_store.refresh(now=NOW)
    order(people["alice"], at("2026-03-10", hour=18), 5)  # the stored last day: same period
    order(people["alice"], at("2026-05-01"), 60)  # a new period
    order(people["bob"], at("2026-02-01", hour=20), 30)  # bob's first and only day: not repeat spend
    carol = PersonFactory.create(family_name="Carol")
    order(carol, at("2026-06-01"), 20)
    order(carol, at("2026-06-03"), 10, status=OrderStatus.CANCELLED)  # not a purchase
    report = purchase_store.refresh(now=NOW)
    assert (report.rebuilt, report.new_orders, report.folded, report.recomputed, report.customers) == (
        False,
        4,
        3,
        0,
        3,
    )
    assert _stored() == _from_orders()
    bob = _stored()[customer_key(person_id=people["bob"].pk)]
    assert bob[0] == 1
    assert bob[4:] == (100.0, 0.0)


def test_back_dated_orders_are_folded_in_exactly(people: dict[str, Person]) -> None:
    alice = customer_key(person_id=people["alice"].pk)
    purchase_store.refresh(now=NOW)
    steps = [
        (people["alice"], at("2026-02-14"), 3),  # a day between the stored first and last: a new period
        (people["alice"], at("2026-02-14", hour=18), 3),  # the same inside day again: found by the probe
        (people["alice"], at("2025-12-01"), 4),  # before the stored first day: the old first day is now repeat
        (people["alice"], at("2025-12-01", hour=9), 4),  # onto the new first day
    ]
    for buyer, when, periods in steps:
        order(buyer, when, 25)
        report = purchase_store.refresh(now=NOW)
        assert (report.new_orders, report.folded, report.recomputed) == (1, 1, 0)
        assert _stored()[alice][0] == periods
        assert _stored() == _from_orders()
    assert _stored()[alice][4:] == (240.0, 190.0)  # 100 + 40 + 25 * 4, less the first day's 50


def test_a_back_dated_order_on_a_day_of_only_cancelled_orders_adds_a_period(people: dict[str, Person]) -> None:
    order(people["alice"], at("2026-02-20"), 80, status=OrderStatus.CANCELLED)
    purchase_store.refresh(now=NOW)
    order(people["alice"], at("2026-02-20", hour=15), 10)
    purchase_store.refresh(now=NOW)
    assert _stored()[customer_key(person_id=people["alice"].pk)][0] == 3
    assert _stored() == _from_orders()


def test_back_dated_orders_of_an_account_are_probed_by_the_account(people: dict[str, Person]) -> None:
    acme = AccountFactory.create(name="Acme")
    order(acme, at("2026-01-01"), 500)
    order(acme, at("2026-03-01"), 300)
    order(acme, at("2026-02-01"), 200)
    purchase_store.refresh(now=NOW)
    order(acme, at("2026-02-01", hour=20), 50)  # onto the stored inside day
    order(acme, at("2026-02-02"), 50)  # a new inside day
    report = purchase_store.refresh(now=NOW)
    assert (report.folded, report.recomputed) == (1, 0)
    assert _stored()[customer_key(account_id=acme.pk)][0] == 4
    assert _stored() == _from_orders()


def test_a_store_emptied_by_a_crash_is_rebuilt(people: dict[str, Person]) -> None:
    """PostgreSQL empties the unlogged store after a crash; the state row still counts rows."""
    purchase_store.refresh(now=NOW)
    PurchaseSummary.objects.all().delete()
    report = purchase_store.refresh(now=NOW)
    assert (report.rebuilt, report.customers) == (True, 2)
    assert _stored() == _from_orders()


def test_a_changed_old_order_recomputes_its_customer(people: dict[str, Person]) -> None:
    purchase_store.refresh(now=NOW)
    cancelled = Order.objects.get(buyer_person=people["bob"])
    cancelled.status = OrderStatus.CANCELLED
    cancelled.save()  # updated_at moves
    report = purchase_store.refresh(now=NOW)
    assert (report.new_orders, report.recomputed, report.customers) == (0, 1, 1)
    assert customer_key(person_id=people["bob"].pk) not in _stored()
    assert _stored() == _from_orders()


def test_the_overlap_recomputes_orders_changed_just_before_the_last_refresh(
    people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    purchase_store.refresh(now=NOW)
    monkeypatch.setattr(purchase_store, "CHANGE_OVERLAP", dt.timedelta(minutes=2))
    report = purchase_store.refresh(now=NOW)
    assert report.recomputed == 2  # alice's and bob's orders were written within the overlap
    assert _stored() == _from_orders()


def test_an_account_buyer_is_keyed_by_the_account(people: dict[str, Person]) -> None:
    purchase_store.refresh(now=NOW)
    acme = AccountFactory.create(name="Acme")
    order(acme, at("2026-06-01"), 500)
    purchase_store.refresh(now=NOW)
    assert _stored()[customer_key(account_id=acme.pk)][3:5] == (1, 500.0)
    assert _stored() == _from_orders()


def test_a_new_engine_version_rebuilds(people: dict[str, Person]) -> None:
    purchase_store.refresh(now=NOW)
    PurchaseSummary.objects.filter(customer=customer_key(person_id=people["bob"].pk)).update(revenue=1.0)
    PurchaseSummaryState.objects.update(engine_version="0.0.0")
    assert purchase_store.refresh(now=NOW).rebuilt is True
    assert _stored() == _from_orders()
    assert purchase_store.refresh(now=NOW).rebuilt is False


def test_a_scoring_run_reads_the_store_and_scores_as_from_the_orders(people: dict[str, Person], analyst: User) -> None:
    """The stored path and the from-orders path give the same summaries at the same moment."""
    for n, amounts in enumerate(((30, 50, 20), (200, 180), (15, 25, 35, 45))):
        buyer = PersonFactory.create(family_name=f"Repeat {n}")
        for month, amount in enumerate(amounts, start=1):
            order(buyer, at(f"2026-0{month}-0{n + 2}"), amount)
    stored, _ = services._summaries(NOW, stored=True, quality={})
    computed, _ = services._summaries(NOW, stored=False, quality={})
    assert stored.customer == computed.customer
    for name in summaries.SUMMARY_COLUMNS[1:]:
        np.testing.assert_allclose(getattr(stored, name), getattr(computed, name), err_msg=name)
    run = services.run_scoring(analyst)
    assert run.parameters["summaries"] == "stored"
    assert run.quality["summaries"]["source"] == "stored"
    assert run.quality["customers_scored"] == 5


def test_a_customer_without_a_record_is_dropped_from_the_store(people: dict[str, Person]) -> None:
    purchase_store.refresh(now=NOW)
    ghost = customer_key(person_id=people["bob"].pk + 1000)
    PurchaseSummary.objects.create(
        customer=ghost, periods=1, first_day=1, last_day=1, order_count=1, revenue=1.0, repeat_revenue=0.0
    )
    quality: dict[str, object] = {}
    s, current = services._summaries(NOW, stored=True, quality=quality)
    assert ghost not in s.customer
    assert len(s) == len(current) == 2
    assert not PurchaseSummary.objects.filter(customer=ghost).exists()


def test_a_small_recompute_through_the_buyer_indexes_gives_the_same_rows(
    people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a recompute of few customers is planned with a low random-read cost; the
    rows are the same, and the setting does not outlive the statement."""
    purchase_store.refresh(now=NOW)
    monkeypatch.setattr(purchase_store, "INDEX_JOIN_SHARE", 1.0)
    cancelled = Order.objects.filter(buyer_person=people["alice"]).order_by("ordered_at").first()
    assert cancelled is not None
    cancelled.status = OrderStatus.CANCELLED
    cancelled.save()  # alice is recomputed
    assert purchase_store.refresh(now=NOW).recomputed == 1
    assert _stored() == _from_orders()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW random_page_cost")
            assert cursor.fetchone() == ("4",)
