"""Profitability pages: who may open what, the review list (filters, paging, pinned queries),
its actions, the settings and the acquisition grid, and the panel on customer pages."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from guanxi.commerce import services as commerce_services
from guanxi.commerce.tests.factories import PriceListFactory
from guanxi.customers.models import Person
from guanxi.customers.tests.factories import PersonFactory
from guanxi.profitability.models import AcquisitionCost, CostSettings, CustomerProfit, ProfitabilityRun
from guanxi.profitability.tests.factories import loss_scenario, run, set_costs
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pages_need_login() -> None:
    response = Client().get(reverse("profitability:review"))
    assert response.status_code == 302
    assert "/login" in response["Location"] or "login" in response["Location"]


def test_overview_roles_and_figures(rep: User, other_rep: User, manager: User) -> None:
    loss_scenario(rep, other_rep)
    assert _client(rep).get(reverse("profitability:overview")).status_code == 403
    client = _client(manager)
    empty = client.get(reverse("profitability:overview"))
    assert "No profitability run yet" in empty.content.decode()
    run()
    page = client.get(reverse("profitability:overview"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html
    assert "-180" in html  # total profit
    assert "Trade show" in html
    assert "Run now" in html


def test_run_now_button_runs_in_the_background(manager: User, rep: User) -> None:
    set_costs()
    response = _client(manager).post(reverse("profitability:run-start"))
    assert response.status_code == 302
    # The test settings run tasks immediately.
    assert ProfitabilityRun.objects.get().created_by == manager
    assert _client(rep).post(reverse("profitability:run-start")).status_code == 403


def test_review_list_shows_only_visible_losses_biggest_first(
    rep: User, other_rep: User, django_assert_num_queries: object
) -> None:
    s = loss_scenario(rep, other_rep)
    run()
    client = _client(rep)
    client.get(reverse("profitability:review"))  # warm the session and content types
    with django_assert_num_queries(7):  # type: ignore[operator]  # pytest-django fixture is a context manager factory
        response = client.get(reverse("profitability:review"))
    html = response.content.decode()
    assert response.status_code == 200
    rows = [row.person_id for row in response.context["items"]]
    assert rows == [s.person.pk, s.pool_person.pk]  # -100 before -10
    assert s.other_person.full_name not in html
    assert s.account.name not in html  # profitable
    profitable = client.get(reverse("profitability:review"), {"all": "1", "ordering": "-profit_cents"})
    assert next(r.account_id for r in profitable.context["items"]) == s.account.pk
    pool = client.get(reverse("profitability:review"), {"owner": "pool"})
    assert [r.person_id for r in pool.context["items"]] == [s.pool_person.pk]


def test_review_list_query_count_does_not_grow_with_rows(admin_user: User, django_assert_num_queries: object) -> None:
    set_costs(admin_user)
    from guanxi.activities.tests.factories import ActivityFactory

    for i in range(30):
        person = PersonFactory.create(family_name=f"Loss{i}")
        ActivityFactory.create(person=person, kind="call")
    run()
    client = _client(admin_user)
    first = client.get(reverse("profitability:review"))
    assert len(first.context["items"]) == 25
    cursor = first.context["page"].next_cursor
    with django_assert_num_queries(8):  # type: ignore[operator]  # as above, plus the price lists an admin may pick
        second = client.get(reverse("profitability:review"), {"cursor": cursor, "pos": "26"})
    assert len(second.context["items"]) == 5
    assert "26–30 of 30" in second.content.decode()


def test_row_and_bulk_actions(rep: User, other_rep: User, manager: User) -> None:
    s = loss_scenario(rep, other_rep)
    result = run()
    row = CustomerProfit.objects.get(run=result, person=s.person)
    client = _client(manager)
    response = client.post(
        reverse("profitability:review-action"), {"row_action": f"service_level:{row.pk}:basic", "next": "/x"}
    )
    assert response.status_code == 302
    s.person.refresh_from_db()
    assert s.person.service_level == "basic"
    price_list = PriceListFactory.create(name="Cost-plus")
    pool_row = CustomerProfit.objects.get(run=result, person=s.pool_person)
    client.post(
        reverse("profitability:review-action"),
        {"action": "price_list", "price_list": price_list.pk, "ids": [row.pk, pool_row.pk]},
    )
    assert commerce_services.assigned_price_list(s.person) == price_list
    assert commerce_services.assigned_price_list(s.pool_person) == price_list
    # A rep hands their own customer back; they may not reprice.
    rep_client = _client(rep)
    assert (
        rep_client.post(reverse("profitability:review-action"), {"row_action": f"release:{row.pk}"}).status_code == 302
    )
    s.person.refresh_from_db()
    assert s.person.owner is None
    denied = rep_client.post(reverse("profitability:review-action"), {"row_action": f"service_level:{row.pk}:premium"})
    assert denied.status_code == 403
    s.person.refresh_from_db()
    assert s.person.service_level == "basic"


def test_actions_ignore_rows_the_user_may_not_see(rep: User, other_rep: User, outside_rep: User) -> None:
    s = loss_scenario(rep, other_rep)
    result = run()
    row = CustomerProfit.objects.get(run=result, person=s.person)
    _client(outside_rep).post(reverse("profitability:review-action"), {"row_action": f"release:{row.pk}"})
    s.person.refresh_from_db()
    assert s.person.owner == rep


def test_action_needs_selection_and_csrf(manager: User) -> None:
    set_costs()
    run()
    response = _client(manager).post(reverse("profitability:review-action"), {"action": "release"}, follow=True)
    assert "Select at least one customer." in response.content.decode()
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(manager)
    assert csrf.post(reverse("profitability:review-action"), {"action": "release", "ids": ["1"]}).status_code == 403


def test_settings_page_is_admin_only_and_saves(admin_user: User, manager: User) -> None:
    assert _client(manager).get(reverse("profitability:settings")).status_code == 403
    client = _client(admin_user)
    assert client.get(reverse("profitability:settings")).status_code == 200
    data = {"currency": "cny", "ticket_cost": "40", "cost_call": "12.5", "cost_meeting": "100", "cost_visit": "250"}
    data |= {"cost_email": "2", "cost_note": "0"}
    assert client.post(reverse("profitability:settings"), data).status_code == 302
    settings = CostSettings.objects.get()
    assert (settings.currency, settings.ticket_cost) == ("CNY", Decimal("40.00"))
    bad = client.post(reverse("profitability:settings"), data | {"currency": "yuan"})
    assert bad.status_code == 400


def test_acquisition_grid(admin_user: User, manager: User) -> None:
    url = reverse("profitability:acquisition-costs")
    assert _client(manager).get(url).status_code == 403
    client = _client(admin_user)
    assert client.get(url, {"year": "2026"}).status_code == 200
    response = client.post(url, {"year": "2026", "cost-campaign-2026-03": "1200", "cost-referral-2026-03": ""})
    assert response.status_code == 302
    assert list(AcquisitionCost.objects.values_list("source", "month", "amount")) == [
        ("campaign", dt.date(2026, 3, 1), Decimal("1200.00"))
    ]
    bad = client.post(url, {"year": "2026", "cost-campaign-2026-03": "abc", "cost-web_form-2026-04": "5"})
    assert bad.status_code == 400
    assert "abc" in bad.content.decode()
    assert AcquisitionCost.objects.count() == 1


def test_panel_on_customer_pages(rep: User, other_rep: User, manager: User) -> None:
    s = loss_scenario(rep, other_rep)
    run()
    html = _client(rep).get(reverse("customers:person-detail", args=[s.person.pk])).content.decode()
    assert 'id="profitability"' in html
    assert "-100.00" in html
    assert "Standard" in html
    assert "service-level" not in html  # a rep may not change it
    account_html = _client(manager).get(reverse("customers:account-detail", args=[s.account.pk])).content.decode()
    assert "30.00" in account_html
    assert "2.00" in account_html  # CLV:CAC


def test_panel_service_level_form(rep: User, other_rep: User, manager: User) -> None:
    s = loss_scenario(rep, other_rep)
    url = reverse("profitability:service-level", args=["person", s.person.pk])
    response = _client(manager).post(url, {"service_level": "premium"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"/{s.person.pk}/#profitability")
    assert Person.objects.get(pk=s.person.pk).service_level == "premium"
    assert _client(rep).post(url, {"service_level": "basic"}).status_code == 403
    outsider = UserFactory.create(username="outsider", role=StaffRole.SALES_REP)
    assert _client(outsider).post(url, {"service_level": "basic"}).status_code == 404
