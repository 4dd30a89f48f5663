"""Churn model, engagement definition and account-health pages and API: permissions, content, cost."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoAssertNumQueries
from rest_framework.test import APIClient

from guanxi.analytics import services
from guanxi.analytics.models import AccountHealth, EngagementDefinition
from guanxi.analytics.tests.factories import monthly_orders, order
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db

END = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def scored(rep: User, other_rep: User) -> dict[str, Any]:
    """Contract customers owned by `rep` and `other_rep` (one named with markup), and a one-off buyer."""
    mine = AccountFactory.create(name="Mine Ltd", owner=rep)
    theirs = AccountFactory.create(name="<i>Theirs</i>", owner=other_rep)
    monthly_orders(mine, dt.date(2026, 1, 1), 6)
    monthly_orders(theirs, dt.date(2025, 10, 1), 4)
    late = order(mine, dt.datetime(2026, 6, 1, tzinfo=dt.UTC), 500)
    late.payment_due_date = dt.date(2026, 6, 15)
    late.save(update_fields=["payment_due_date"])
    for i, amount in enumerate((20, 75, 300)):
        other = PersonFactory.create()
        order(other, dt.datetime(2025, 3 + i, 2, tzinfo=dt.UTC), amount)
        order(other, dt.datetime(2025, 9 + i, 2, tzinfo=dt.UTC), amount * 2)
    run = services.run_scoring(None, end=END)
    return {"mine": mine, "theirs": theirs, "run": run}


@pytest.mark.parametrize("name", ["analytics:churn", "analytics:engagement"])
def test_planning_pages_are_for_planning_roles(
    name: str, admin_user: User, analyst: User, manager: User, rep: User, agent: User
) -> None:
    for user in (admin_user, analyst, manager):
        assert client_for(user).get(reverse(name)).status_code == 200
    for user in (rep, agent):
        assert client_for(user).get(reverse(name)).status_code == 403
    assert Client().get(reverse(name)).status_code == 302


def test_churn_page_shows_why_there_is_no_model(scored: dict[str, Any], analyst: User) -> None:
    html = client_for(analyst).get(reverse("analytics:churn")).content.decode()
    assert "Not enough data to train and check a classifier yet" in html
    assert "not enough data: 2 labelled customers" in html
    assert "different calendar months" in html


def test_churn_page_draws_calibration_and_importances(db: None, analyst: User) -> None:
    for i in range(12):
        monthly_orders(PersonFactory.create(family_name=f"Gone{i}"), dt.date(2025, 9, 1), 4)
        monthly_orders(PersonFactory.create(family_name=f"Kept{i}"), dt.date(2025, 12, 1), 7)
    for i in range(20):
        buyer = PersonFactory.create()
        order(buyer, dt.datetime(2024, 7, 1, tzinfo=dt.UTC) + dt.timedelta(days=i * 29), 40 + i)
        order(buyer, dt.datetime(2025, 9, 1, tzinfo=dt.UTC) + dt.timedelta(days=i * 7), 60)
    services.run_scoring(None, end=END, seed=1)
    html = client_for(analyst).get(reverse("analytics:churn")).content.decode()
    assert "AUC" in html
    assert "<circle" in html
    assert "Days since the last order" in html
    assert "Hold-out rows" in html


def test_definition_editor_is_admin_only_and_saves_a_version(admin_user: User, analyst: User) -> None:
    url = reverse("analytics:engagement-edit")
    assert client_for(analyst).get(url).status_code == 403
    assert client_for(analyst).post(url, {"note": "x"}).status_code == 403
    client = client_for(admin_user)
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="involvement__orders_365"' in page.content.decode()
    data = {f"{i}__orders_365": "1" for i in ("involvement", "interaction", "intimacy", "influence")}
    data["involvement__tracked_events_90"] = "4"
    data["note"] = "<script>alert(1)</script>"
    response = client.post(url, data)
    assert response.status_code == 302
    saved = EngagementDefinition.objects.order_by("-version").first()
    assert saved is not None
    assert saved.version == 2
    assert saved.items["involvement"] == [["tracked_events_90", 4.0], ["orders_365", 1.0]]
    listing = client.get(reverse("analytics:engagement")).content.decode()
    assert "Definition in force: version 2" in listing
    assert "&lt;script&gt;" in listing
    assert "<script>alert(1)" not in listing


def test_definition_editor_refuses_an_empty_part(admin_user: User) -> None:
    data = {f"{i}__orders_365": "1" for i in ("involvement", "interaction", "intimacy")}
    response = client_for(admin_user).post(reverse("analytics:engagement-edit"), data)
    assert response.status_code == 400
    assert "Give at least one behaviour a weight above zero." in response.content.decode()
    assert EngagementDefinition.objects.count() == 1


def test_health_list_shows_what_the_user_may_see_worst_first(
    scored: dict[str, Any], rep: User, manager: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = client_for(rep)
    client.get(reverse("analytics:health"))
    # session, user, the page of rows (with records and owners), the owner choices, the latest run
    with django_assert_num_queries(5):
        response = client.get(reverse("analytics:health"))
    html = response.content.decode()
    assert "Mine Ltd" in html
    assert "Theirs" not in html
    assert "1 of 1 due order not paid in full on time" in html
    assert "Engagement by definition version 1." in html
    both = client_for(manager).get(reverse("analytics:health")).content.decode()
    worst = AccountHealth.objects.order_by("health", "id").first()
    assert worst is not None
    first_name = "Mine Ltd" if worst.account_id == scored["mine"].pk else "&lt;i&gt;Theirs&lt;/i&gt;"
    other_name = "&lt;i&gt;Theirs&lt;/i&gt;" if first_name == "Mine Ltd" else "Mine Ltd"
    assert both.index(first_name) < both.index(other_name)
    only_theirs = client_for(manager).get(reverse("analytics:health"), {"owner": scored["theirs"].owner_id})
    assert "Mine Ltd" not in only_theirs.content.decode()


def test_record_panel_shows_health_engagement_and_definition(scored: dict[str, Any], rep: User) -> None:
    html = client_for(rep).get(reverse("customers:account-detail", args=[scored["mine"].pk])).content.decode()
    assert "Account health" in html
    assert "By engagement definition version 1" in html
    assert "Involvement" in html
    assert "1 of 1 due order not paid in full on time" in html


def test_dashboard_links_the_new_pages(scored: dict[str, Any], analyst: User) -> None:
    html = client_for(analyst).get(reverse("analytics:dashboard")).content.decode()
    assert reverse("analytics:churn") in html
    assert reverse("analytics:health") in html
    assert "Definition version 1" in html
    assert "2 contract customers" in html


def test_api_scores_and_health_respect_visibility(scored: dict[str, Any], rep: User, analyst: User) -> None:
    mine, theirs = scored["mine"], scored["theirs"]
    response = api_for(rep).get("/api/account-health/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["account"] for row in rows] == [mine.pk]
    assert rows[0]["reasons"][0]["code"] == "payments"
    assert rows[0]["reasons"][0]["text"] == "1 of 1 due order not paid in full on time; 1 still overdue"
    assert len(api_for(analyst).get("/api/account-health/").json()["results"]) == 2
    scores = api_for(rep).get("/api/customer-scores/", {"account": theirs.pk}).json()["results"]
    assert scores == []
    mine_scores = api_for(rep).get("/api/customer-scores/", {"account": mine.pk}).json()["results"]
    assert mine_scores[0]["definition_version"] == 1
    assert mine_scores[0]["is_contract"] is True
    assert api_for(rep).get("/api/customer-scores/", {"account": "x"}).status_code == 400


def test_api_models_and_definitions(scored: dict[str, Any], rep: User, analyst: User) -> None:
    assert api_for(rep).get("/api/churn-models/").status_code == 403
    models = api_for(analyst).get("/api/churn-models/").json()["results"]
    assert models[0]["run"] == scored["run"].pk
    assert models[0]["fitted"] is False
    definitions = api_for(rep).get("/api/engagement-definitions/").json()["results"]
    assert definitions[0]["version"] == 1
    assert APIClient().get("/api/engagement-definitions/").status_code in (401, 403)
