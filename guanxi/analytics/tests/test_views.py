"""Analytics pages: who may see and change what, what they show, and what they cost."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoAssertNumQueries

from guanxi.analytics import services
from guanxi.analytics.models import AnalyticsRun, LifecycleRule, RunKind, RunStatus
from guanxi.analytics.tests.factories import order
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db

END = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def scored(db: None) -> dict[str, Any]:
    """Orders for three people, one of them buying a product with markup in its name; both runs done."""
    at = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    people = [PersonFactory.create(family_name=f"Buyer{i}") for i in range(3)]
    order(people[0], at, 100, products=("tea", "<b>cups</b>"))
    order(people[0], at + dt.timedelta(days=20), 50, products=("tea", "<b>cups</b>"))
    order(people[1], at - dt.timedelta(days=200), 80, products=("tea", "<b>cups</b>"))
    order(people[2], at + dt.timedelta(days=5), 30, products=("tea",))
    order(people[1], at + dt.timedelta(days=40), 60, products=("honey",))
    scoring = services.run_scoring(None, end=END)
    rules = services.run_rules(None, min_support=0.3, min_confidence=0.5)
    return {"people": people, "scoring": scoring, "rules": rules}


@pytest.mark.parametrize("role_user", ["admin_user", "analyst", "marketer", "manager"])
def test_planning_roles_see_the_dashboard(role_user: str, request: pytest.FixtureRequest) -> None:
    user = request.getfixturevalue(role_user)
    response = client_for(user).get(reverse("analytics:dashboard"))
    assert response.status_code == 200
    assert "No scoring run yet" in response.content.decode()


@pytest.mark.parametrize("role_user", ["rep", "agent"])
def test_record_by_record_roles_do_not(role_user: str, request: pytest.FixtureRequest) -> None:
    user = request.getfixturevalue(role_user)
    client = client_for(user)
    for name in ("analytics:dashboard", "analytics:run-list", "analytics:rule-list"):
        assert client.get(reverse(name)).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in() -> None:
    response = Client().get(reverse("analytics:dashboard"))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_dashboard_shows_kpis_charts_and_escaped_rules(
    scored: dict[str, Any], analyst: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = client_for(analyst)
    client.get(reverse("analytics:dashboard"))  # warm the session and content types
    # session, user, latest scoring run, stage counts (2), stage flow, latest rules run, top rules
    with django_assert_num_queries(8):
        response = client.get(reverse("analytics:dashboard"))
    html = response.content.decode()
    assert response.status_code == 200
    assert f"From run #{scored['scoring'].pk}" in html
    assert "<svg" in html
    assert "R \\ FM" in html
    assert "&lt;b&gt;cups&lt;/b&gt;" in html
    assert "<b>cups</b>" not in html
    assert "Champions" in html


def test_run_list_and_detail_show_parameters_and_quality(scored: dict[str, Any], analyst: User) -> None:
    client = client_for(analyst)
    html = client.get(reverse("analytics:run-list")).content.decode()
    assert f'href="{reverse("analytics:run-detail", args=[scored["scoring"].pk])}"' in html
    detail = client.get(reverse("analytics:run-detail", args=[scored["scoring"].pk])).content.decode()
    assert "horizon_days" in detail
    assert "customers_scored" in detail


def test_analysts_start_runs_and_marketers_may_not(analyst: User, marketer: User) -> None:
    response = client_for(analyst).post(reverse("analytics:run-start"), {"kind": "scoring"})
    assert response.status_code == 302
    run = AnalyticsRun.objects.get()  # the test settings run tasks at once
    assert (run.kind, run.status, run.created_by) == (RunKind.SCORING, RunStatus.SUCCEEDED, analyst)
    assert client_for(marketer).post(reverse("analytics:run-start"), {"kind": "rules"}).status_code == 403
    assert AnalyticsRun.objects.count() == 1


def test_starting_a_run_needs_a_post(analyst: User) -> None:
    assert client_for(analyst).get(reverse("analytics:run-start")).status_code == 405


def test_admins_edit_the_lifecycle_rules(admin_user: User) -> None:
    client = client_for(admin_user)
    listing = client.get(reverse("analytics:rule-list")).content.decode()
    assert reverse("analytics:rule-create") in listing
    response = client.post(
        reverse("analytics:rule-create"),
        {"position": 5, "stage": "loyal", "min_orders": 10, "rfm_segments": ["champions"], "is_active": "on"},
    )
    assert response.status_code == 302
    rule = LifecycleRule.objects.get(position=5)
    assert (rule.stage, rule.min_orders, rule.rfm_segments) == ("loyal", 10, ["champions"])
    bad = client.post(
        reverse("analytics:rule-edit", args=[rule.pk]),
        {"position": 5, "stage": "loyal", "min_orders": 10, "max_orders": 2, "is_active": "on"},
    )
    assert bad.status_code == 400
    assert "The upper bound is below the lower bound." in bad.content.decode()
    assert client.post(reverse("analytics:rule-delete", args=[rule.pk])).status_code == 302
    assert not LifecycleRule.objects.filter(pk=rule.pk).exists()


def test_others_read_the_rules_but_do_not_change_them(analyst: User) -> None:
    client = client_for(analyst)
    listing = client.get(reverse("analytics:rule-list"))
    assert listing.status_code == 200
    assert reverse("analytics:rule-create") not in listing.content.decode()
    assert client.get(reverse("analytics:rule-create")).status_code == 403
    rule = LifecycleRule.objects.first()
    assert rule is not None
    assert client.post(reverse("analytics:rule-delete", args=[rule.pk])).status_code == 403
    assert client.post(reverse("analytics:rule-edit", args=[rule.pk]), {"stage": "lost"}).status_code == 403


def test_person_page_shows_scores_and_suggestions(scored: dict[str, Any], admin_user: User) -> None:
    buyer = scored["people"][2]  # bought tea only
    html = client_for(admin_user).get(reverse("customers:person-detail", args=[buyer.pk])).content.decode()
    assert 'id="analytics-scores"' in html
    buyer.refresh_from_db()
    assert buyer.rfm_score in html
    assert "Bought tea, often buys &lt;b&gt;cups&lt;/b&gt;" in html


def test_account_page_shows_scores_panel(admin_user: User) -> None:
    account = AccountFactory.create(name="Acme")
    order(account, dt.datetime(2026, 5, 1, tzinfo=dt.UTC), 120)
    services.run_scoring(None, end=END)
    account.refresh_from_db()
    html = client_for(admin_user).get(reverse("customers:account-detail", args=[account.pk])).content.decode()
    assert 'id="analytics-scores"' in html
    assert account.rfm_score == "111"
    assert "111" in html
    assert "No suggestions yet." in html
