"""Profitability services: exact money on a small book, the acquisition table, settings, actions."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from guanxi.commerce import services as commerce_services
from guanxi.commerce.tests.factories import PriceListFactory
from guanxi.core.history import history_for
from guanxi.customers.models import Account, Person
from guanxi.profitability import costs, queries, services
from guanxi.profitability.models import AcquisitionCost, CustomerProfit, ProfitabilityRun, RunStatus
from guanxi.profitability.tests.factories import loss_scenario, run, set_costs, spend
from guanxi.staff.models import User

D = Decimal
pytestmark = pytest.mark.django_db


def _row(run_: ProfitabilityRun, party: Account | Person) -> CustomerProfit:
    field = "account" if isinstance(party, Account) else "person"
    return CustomerProfit.objects.get(run=run_, **{field: party})


def test_run_computes_each_customer_to_the_cent(rep: User, other_rep: User) -> None:
    s = loss_scenario(rep, other_rep)
    result = run()
    assert result.status == RunStatus.SUCCEEDED
    a = _row(result, s.account)
    # Only the confirmed CNY order counts: cancelled, returned and USD orders do not.
    assert (a.orders, a.revenue, a.discounts) == (1, D("200.00"), D("50.00"))
    # Two calls (one names the contact too: it belongs to the account) and one visit; notes cost 0.
    assert (a.activities, a.activity_cost, a.tickets, a.ticket_cost) == (4, D("120.00"), 0, D("0.00"))
    assert (a.cost_to_serve, a.profit) == (D("120.00"), D("30.00"))
    p = _row(result, s.person)
    assert (p.revenue, p.discounts, p.cost_to_serve, p.profit) == (D("100.00"), D("0.00"), D("200.00"), D("-100.00"))
    assert _row(result, s.pool_person).profit == D("-10.00")
    assert _row(result, s.other_person).profit == D("-100.00")
    assert not CustomerProfit.objects.filter(run=result, person=s.contact).exists()
    assert result.customers == 4
    totals = result.results["totals"]
    assert totals == {
        "customers": 4,
        "revenue": "300.00",
        "discounts": "50.00",
        "cost_to_serve": "430.00",
        "profit": "-180.00",
        "loss_customers": 3,
        "loss": "-210.00",
    }
    assert sum(b["customers"] for b in result.results["histogram"]) == 4


def test_acquisition_cost_per_source_and_cohort(rep: User, other_rep: User) -> None:
    s = loss_scenario(rep, other_rep)
    result = run()
    month = timezone.localdate().replace(day=1).isoformat()
    cohorts = {(r["source"], r["cohort"]): r for r in result.results["cohorts"]}
    trade = cohorts[("trade_show", month)]
    assert (trade["spent"], trade["customers"], trade["cac"], trade["average_clv"], trade["clv_to_cac"]) == (
        "600.00",
        1,
        "600.00",
        "1200.00",
        2.0,
    )
    # The person came from the web (web_form); the pool and other rep's people have no source (other).
    web = cohorts[("web_form", month)]
    assert (web["customers"], web["cac"], web["clv_to_cac"]) == (1, "90.00", 0.5556)
    assert cohorts[("other", month)]["customers"] == 2
    a = _row(result, s.account)
    assert (a.source, a.cohort.isoformat(), a.cac, a.clv_to_cac) == ("trade_show", month, D("600.00"), 2.0)


def test_converted_lead_gives_source_and_cohort(admin_user: User) -> None:
    from guanxi.leads import services as lead_services
    from guanxi.leads.tests.factories import LeadFactory

    set_costs(admin_user)
    lead = LeadFactory.create(source="campaign", status="qualified")
    converted = lead_services.convert_lead(admin_user, lead)
    result = run()
    assert converted.account is not None
    row = _row(result, converted.account)
    assert row.source == "campaign"
    # The converted person is a contact at the new account with nothing of their own.
    assert not CustomerProfit.objects.filter(run=result, person=converted.person).exists()


def test_ticket_counter_hook_adds_ticket_cost(rep: User, other_rep: User) -> None:
    s = loss_scenario(rep, other_rep)

    def counter() -> dict[tuple[str, int], int]:
        return {("a", s.account.pk): 2}

    costs.register_ticket_counter(counter)
    try:
        result = run()
    finally:
        costs.unregister_ticket_counter(counter)
    a = _row(result, s.account)
    assert (a.tickets, a.ticket_cost, a.cost_to_serve, a.profit) == (2, D("60.00"), D("180.00"), D("-30.00"))


def test_runs_keep_rows_of_the_latest_runs_only(admin_user: User) -> None:
    set_costs(admin_user)
    runs = [run() for _ in range(services.KEEP_RUNS + 1)]
    assert queries.latest_run() == runs[-1]
    assert ProfitabilityRun.objects.count() == services.KEEP_RUNS + 1


def test_run_permissions(rep: User, manager: User) -> None:
    with pytest.raises(PermissionDenied):
        services.run_profitability(rep)
    assert services.run_profitability(manager).status == RunStatus.SUCCEEDED


def test_settings_are_admin_only_validated_and_recorded(admin_user: User, manager: User) -> None:
    with pytest.raises(PermissionDenied):
        set_costs(manager)
    with pytest.raises(ValidationError) as exc:
        services.update_settings(admin_user, currency="yuan", ticket_cost="-1", activity_costs={"call": "1.234"})
    assert set(exc.value.message_dict) == {"currency", "ticket_cost", "cost_call"}
    set_costs(admin_user, call="12.50")
    assert services.activity_costs()["call"] == D("12.50")
    assert services.activity_costs()["email"] == D("0")
    settings = services.current_settings()
    assert history_for(settings).first().changes["cost.call"] == [None, "12.50"]  # type: ignore[union-attr]  # one entry exists


def test_acquisition_costs_upsert_and_delete(admin_user: User, manager: User) -> None:
    month = dt.date(2026, 3, 1)
    with pytest.raises(PermissionDenied):
        spend("campaign", month, "10", manager)
    assert services.save_acquisition_costs(admin_user, {("campaign", dt.date(2026, 3, 17)): "100.50"}) == 1
    assert AcquisitionCost.objects.get().month == month
    assert services.save_acquisition_costs(admin_user, {("campaign", month): "100.50"}) == 0
    assert services.save_acquisition_costs(admin_user, {("campaign", month): "80"}) == 1
    assert AcquisitionCost.objects.get().amount == D("80.00")
    with pytest.raises(ValidationError) as exc:
        services.save_acquisition_costs(admin_user, {("campaign", month): "-5", ("nowhere", month): "1"})
    assert set(exc.value.message_dict) == {"campaign:2026-03", "nowhere:2026-03"}
    assert services.save_acquisition_costs(admin_user, {("campaign", month): ""}) == 1
    assert not AcquisitionCost.objects.exists()


def _loss_rows(user: User) -> list[CustomerProfit]:
    rows = queries.visible_rows(user, queries.latest_run()).filter(profit__lt=0)
    return list(queries.with_customers(rows).order_by("profit", "id"))


def test_review_list_visibility(rep: User, other_rep: User, manager: User, outside_rep: User) -> None:
    s = loss_scenario(rep, other_rep)
    run()
    assert {r.person_id for r in _loss_rows(rep)} == {s.person.pk, s.pool_person.pk}
    assert {r.person_id for r in _loss_rows(manager)} == {s.person.pk, s.pool_person.pk, s.other_person.pk}
    assert {r.person_id for r in _loss_rows(outside_rep)} == {s.pool_person.pk}


def test_hand_back_to_pool_records_history(rep: User, other_rep: User) -> None:
    s = loss_scenario(rep, other_rep)
    run()
    rows = _loss_rows(rep)
    result = services.apply_review_action(rep, rows, services.ReviewAction.RELEASE)
    # The pool customer has no owner to release.
    assert (result.changed, result.skipped) == (1, 1)
    s.person.refresh_from_db()
    assert s.person.owner is None
    assert history_for(s.person).first().changes == {"owner": [str(rep), None]}  # type: ignore[union-attr]  # written above


def test_rep_may_not_reprice(rep: User, other_rep: User) -> None:
    loss_scenario(rep, other_rep)
    run()
    with pytest.raises(PermissionDenied):
        services.apply_review_action(rep, _loss_rows(rep), services.ReviewAction.SERVICE_LEVEL, service_level="basic")


def test_manager_lowers_service_level_and_moves_price_list(rep: User, other_rep: User, manager: User) -> None:
    s = loss_scenario(rep, other_rep)
    run()
    rows = [r for r in _loss_rows(manager) if r.person_id == s.person.pk]
    result = services.apply_review_action(manager, rows, services.ReviewAction.SERVICE_LEVEL, service_level="basic")
    assert (result.changed, result.skipped) == (1, 0)
    s.person.refresh_from_db()
    assert s.person.service_level == "basic"
    entry = history_for(s.person).first()
    assert entry is not None
    assert entry.changes == {"service_level": ["standard", "basic"]}
    assert entry.note == services.REVIEW_NOTE
    again = services.apply_review_action(manager, rows, services.ReviewAction.SERVICE_LEVEL, service_level="basic")
    assert (again.changed, again.skipped) == (0, 1)

    price_list = PriceListFactory.create(name="Lean")
    moved = services.apply_review_action(manager, rows, services.ReviewAction.PRICE_LIST, price_list=price_list)
    assert (moved.changed, moved.skipped) == (1, 0)
    assert commerce_services.assigned_price_list(s.person) == price_list
    assert commerce_services.price_list_for_buyer(None, s.person) == price_list
    entry = history_for(s.person).first()
    assert entry is not None
    assert entry.changes == {"price_list": [None, str(price_list)]}


def test_action_validation(rep: User, other_rep: User, manager: User) -> None:
    loss_scenario(rep, other_rep)
    run()
    rows = _loss_rows(manager)
    with pytest.raises(ValidationError):
        services.apply_review_action(manager, rows, "delete")
    with pytest.raises(ValidationError):
        services.apply_review_action(manager, rows, services.ReviewAction.PRICE_LIST)
    with pytest.raises(ValidationError):
        services.apply_review_action(manager, rows, services.ReviewAction.SERVICE_LEVEL, service_level="gold")


def test_assign_price_list_rules(rep: User, manager: User, outside_rep: User) -> None:
    from guanxi.commerce.models import CustomerPriceList
    from guanxi.customers.tests.factories import AccountFactory

    account = AccountFactory.create(owner=rep)
    lean = PriceListFactory.create(name="Lean")
    with pytest.raises(PermissionDenied):
        commerce_services.assign_price_list(rep, account, lean)
    outside = AccountFactory.create(owner=outside_rep)
    with pytest.raises(PermissionDenied):
        commerce_services.assign_price_list(manager, outside, lean)
    assert commerce_services.assign_price_list(manager, account, lean) is True
    assert commerce_services.assign_price_list(manager, account, lean) is False
    lean.is_active = False
    lean.save()
    other = PriceListFactory.create(name="Other")
    assert commerce_services.price_list_for_buyer(account, None) is None  # inactive lists are not offered
    with pytest.raises(ValidationError):
        commerce_services.assign_price_list(manager, account, PriceListFactory.create(name="Old", is_active=False))
    assert commerce_services.assign_price_list(manager, account, other) is True
    assert commerce_services.assign_price_list(manager, account, None) is True
    assert not CustomerPriceList.objects.exists()
    changes = [entry.changes for entry in history_for(account)[:3]]
    assert changes == [
        {"price_list": [str(other), None]},
        {"price_list": [str(lean), str(other)]},
        {"price_list": [None, str(lean)]},
    ]


def test_set_service_level_rules(rep: User, manager: User, outside_rep: User) -> None:
    from guanxi.customers import services as customer_services
    from guanxi.customers.tests.factories import PersonFactory

    person = PersonFactory.create(owner=rep)
    with pytest.raises(PermissionDenied):
        customer_services.set_service_level(rep, person, "premium")
    with pytest.raises(PermissionDenied):
        customer_services.set_service_level(manager, PersonFactory.create(owner=outside_rep), "basic")
    with pytest.raises(ValidationError):
        customer_services.set_service_level(manager, person, "gold")
    assert customer_services.set_service_level(manager, person, "premium").service_level == "premium"
    assert Person.objects.get(pk=person.pk).service_level == "premium"
