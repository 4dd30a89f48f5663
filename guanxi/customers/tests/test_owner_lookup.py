"""Anyone can find who owns a customer from a phone, an email or a name; the record stays private."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.customers.tests.test_api import client_for
from guanxi.staff.models import User


@pytest.fixture
def customers(rep: User, outside_rep: User, admin_user: User) -> dict[str, Any]:
    outside_rep.email = "far@example.com"
    outside_rep.save()
    return {
        "theirs": PersonFactory.create(
            actor=outside_rep, family_name="王", given_name="芳", phones=["+8613812345678"], emails=["fang@example.com"]
        ),
        "mine": PersonFactory.create(actor=rep, family_name="王", given_name="强"),
        "pool": AccountFactory.create(actor=admin_user, name="王氏贸易"),
    }


def test_a_rep_finds_the_owner_of_someone_elses_customer_by_phone(
    client: Client, rep: User, customers: dict[str, Any], django_assert_num_queries: Any
) -> None:
    client.force_login(rep)
    url = reverse("customers:owner-lookup")
    with django_assert_num_queries(5):  # session, user, accounts, people, which people are visible (no account matched)
        html = client.get(url, {"q": "138 1234 5678"}).content.decode()
    theirs = customers["theirs"]
    assert "王芳" in html
    assert "far@example.com" in html
    assert reverse("customers:person-detail", args=[theirs.pk]) not in html  # not theirs to open


def test_name_lookup_lists_own_pool_and_others_with_links_only_where_visible(
    client: Client, rep: User, customers: dict[str, Any]
) -> None:
    client.force_login(rep)
    html = client.get(reverse("customers:owner-lookup"), {"q": "王"}).content.decode()
    assert reverse("customers:person-detail", args=[customers["mine"].pk]) in html
    assert reverse("customers:account-detail", args=[customers["pool"].pk]) in html
    assert "Anyone in sales may claim it." in html
    assert reverse("customers:person-detail", args=[customers["theirs"].pk]) not in html
    assert html.count("<tr>") == 4  # header + three customers


def test_empty_and_short_queries(client: Client, rep: User) -> None:
    client.force_login(rep)
    assert "Type at least two characters." in client.get(reverse("customers:owner-lookup"), {"q": "x"}).content.decode()
    html = client.get(reverse("customers:owner-lookup"), {"q": "nobody-here"}).content.decode()
    assert "No customer matches “nobody-here”." in html


def test_api_owner_lookup(rep: User, outside_rep: User, customers: dict[str, Any]) -> None:
    client = client_for(rep)
    response = client.get("/api/owner-lookup/", {"q": "fang@example.com"})
    assert response.status_code == 200
    assert response.json() == [
        {
            "type": "person",
            "id": customers["theirs"].pk,
            "name": "王芳",
            "owner": {"id": outside_rep.pk, "name": str(outside_rep), "email": "far@example.com", "team": None},
            "visible": False,
        }
    ]
    assert client.get("/api/owner-lookup/", {"q": "a"}).status_code == 400


def test_owner_lookup_needs_login(client: Client) -> None:
    response = client.get(reverse("customers:owner-lookup"), {"q": "王"})
    assert response.status_code == 302
    assert client_for_anonymous_status() == 401


def client_for_anonymous_status() -> int:
    from rest_framework.test import APIClient

    return int(APIClient().get("/api/owner-lookup/", {"q": "王"}).status_code)
