"""The REST API: token sign-in, visibility, validation as problem+json, filters, paging, actions."""

from typing import Any

import pytest
from django.db import connection
from pytest_django import DjangoAssertNumQueries
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from guanxi.core.history import history_for
from guanxi.core.models import AttributeDefinition, ChangeRecord, Tag
from guanxi.customers import services
from guanxi.customers.models import (
    Account,
    ConsentRecord,
    EmailAddress,
    LifecycleChange,
    Person,
    PhoneNumber,
    Relationship,
    Role,
)
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def client_for(user: User) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def problem_fields(response: Any) -> set[str]:
    assert response["Content-Type"] == PROBLEM, response.content
    return {error["field"] for error in response.json()["errors"]}


def ids(response: Any) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


# ---------------------------------------------------------------------------------------------
# Authentication


def test_token_sign_in_and_use(rep: User) -> None:
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": "rep", "password": "correct horse battery"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=rep).key

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/people/").status_code == 200


def test_wrong_password_is_a_problem(rep: User) -> None:
    response = APIClient().post("/api/auth/token/", {"username": "rep", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert "Unable to log in" in response.json()["errors"][0]["reason"]
    assert not Token.objects.exists()


def test_unauthenticated_is_401_problem(db: None) -> None:
    response = APIClient().get("/api/people/")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == "Token"
    body = response.json()
    assert body["status"] == 401
    assert body["title"]


def test_bad_token_is_401(db: None) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/accounts/")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


# ---------------------------------------------------------------------------------------------
# Visibility


def test_rep_lists_only_own_and_pool(rep: User, other_rep: User, admin_user: User) -> None:
    mine = PersonFactory.create(actor=rep)
    PersonFactory.create(actor=other_rep)
    pool = PersonFactory.create(actor=admin_user)
    response = client_for(rep).get("/api/people/")
    assert response.status_code == 200
    assert set(ids(response)) == {mine.pk, pool.pk}


def test_manager_sees_team_admin_sees_all(
    rep: User, other_rep: User, outside_rep: User, manager: User, admin_user: User
) -> None:
    mine = AccountFactory.create(actor=rep)
    teammate = AccountFactory.create(actor=other_rep)
    outsider = AccountFactory.create(actor=outside_rep)
    assert set(ids(client_for(manager).get("/api/accounts/"))) == {mine.pk, teammate.pk}
    assert set(ids(client_for(admin_user).get("/api/accounts/"))) == {mine.pk, teammate.pk, outsider.pk}


def test_invisible_record_is_404_and_not_changed(rep: User, outside_rep: User) -> None:
    theirs = PersonFactory.create(actor=outside_rep, given_name="Kept")
    client = client_for(rep)
    for response in (
        client.get(f"/api/people/{theirs.pk}/"),
        client.patch(f"/api/people/{theirs.pk}/", {"given_name": "X"}, format="json"),
        client.delete(f"/api/people/{theirs.pk}/"),
        client.get(f"/api/people/{theirs.pk}/history/"),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == PROBLEM
    theirs.refresh_from_db()
    assert theirs.given_name == "Kept"


def test_visible_but_not_editable_is_403(rep: User, admin_user: User) -> None:
    pool = PersonFactory.create(actor=admin_user, given_name="Pool")
    client = client_for(rep)
    assert client.get(f"/api/people/{pool.pk}/").status_code == 200
    response = client.patch(f"/api/people/{pool.pk}/", {"given_name": "Mine now"}, format="json")
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == "You may not change this record."
    assert client.delete(f"/api/people/{pool.pk}/").status_code == 403
    lost = {"stage": "lost", "lost_reason": "price"}
    assert client.post(f"/api/people/{pool.pk}/stage/", lost, format="json").status_code == 403
    pool.refresh_from_db()
    assert (pool.given_name, pool.lifecycle_stage) == ("Pool", "prospect")


# ---------------------------------------------------------------------------------------------
# People: create, read, update, delete


def test_create_person_and_read_it_back(rep: User) -> None:
    client = client_for(rep)
    response = client.post(
        "/api/people/",
        {
            "family_name": "王",
            "given_name": "芳",
            "emails": ["Wang.Fang@Example.com", {"address": "fang@home.cn", "kind": "personal"}],
            "phones": [{"number": "138 1234 5678", "kind": "mobile", "is_primary": True}],
            "tags": ["vip"],
            "lifecycle_stage": "active",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    person = Person.objects.get()
    assert response["Location"] == f"http://testserver/api/people/{person.pk}/"
    assert body["url"] == response["Location"]
    assert body["full_name"] == "王芳"
    assert body["owner"] == rep.pk
    assert body["lifecycle_stage"] == "active"
    assert body["emails"] == [
        {"address": "wang.fang@example.com", "kind": "work", "is_primary": True},
        {"address": "fang@home.cn", "kind": "personal", "is_primary": False},
    ]
    assert body["phones"] == [{"number": "+8613812345678", "kind": "mobile", "is_primary": True}]
    assert body["tags"] == ["vip"]
    assert body["attributes"] == {}
    assert body["roles"] == []
    assert client.get(f"/api/people/{person.pk}/").json() == body
    assert history_for(person).get().actor == rep


def test_bad_email_and_phone_name_both_fields_and_write_nothing(rep: User) -> None:
    response = client_for(rep).post(
        "/api/people/",
        {"family_name": "Li", "emails": ["not-an-email"], "phones": ["13812345678", "12"]},
        format="json",
    )
    assert response.status_code == 400
    assert problem_fields(response) == {"emails.0", "phones.1"}
    assert response.json()["title"] == "Invalid input"
    assert response.json()["detail"] == "Invalid input in: emails.0, phones.1."
    reasons = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert "not-an-email is not a valid e-mail address" in reasons["emails.0"]
    assert "12 is not" in reasons["phones.1"]
    assert Person.objects.count() == 0
    assert EmailAddress.objects.count() == 0
    assert PhoneNumber.objects.count() == 0
    assert ChangeRecord.objects.count() == 0


def test_unknown_fields_null_and_bad_nested_items_are_400(rep: User) -> None:
    client = client_for(rep)
    response = client.post(
        "/api/people/",
        {"family_name": None, "nickname": "Xiao Li", "emails": [{"address": "a@b.cn", "colour": "red"}, 7]},
        format="json",
    )
    assert response.status_code == 400
    assert problem_fields(response) == {"family_name", "nickname", "emails.0.colour", "emails.1"}
    errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert errors["nickname"] == "Unknown field."
    assert errors["family_name"] == "This field may not be null."
    assert Person.objects.count() == 0


def test_non_object_body_is_400(rep: User) -> None:
    response = client_for(rep).post("/api/people/", [1, 2], format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM


def test_patch_updates_through_services_and_keeps_history(rep: User) -> None:
    person = PersonFactory.create(actor=rep, family_name="Li", given_name="Na", emails=["li@example.com"])
    response = client_for(rep).patch(
        f"/api/people/{person.pk}/",
        {"given_name": "Nana", "emails": ["nana@example.com"], "lifecycle_stage": "active", "full_name": "ignored"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["full_name"] == "Nana Li"
    assert [e["address"] for e in body["emails"]] == ["nana@example.com"]
    assert body["lifecycle_stage"] == "active"
    stage_change, update, _create = list(history_for(person))
    assert update.changes == {"emails": [["li@example.com"], ["nana@example.com"]], "given_name": ["Na", "Nana"]}
    assert stage_change.changes == {"lifecycle_stage": ["prospect", "active"]}


def test_failed_patch_changes_nothing(rep: User) -> None:
    person = PersonFactory.create(actor=rep, given_name="Na", emails=["li@example.com"])
    response = client_for(rep).patch(
        f"/api/people/{person.pk}/", {"given_name": "Nana", "phones": ["12"], "lifecycle_stage": "lost"}, format="json"
    )
    assert response.status_code == 400
    assert problem_fields(response) == {"phones.0"}
    person.refresh_from_db()
    assert (person.given_name, person.lifecycle_stage) == ("Na", "prospect")
    assert history_for(person).count() == 1


def test_owner_must_be_assignable_and_existing(rep: User, other_rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    client = client_for(rep)
    response = client.patch(f"/api/people/{person.pk}/", {"owner": other_rep.pk}, format="json")
    assert response.status_code == 400
    assert problem_fields(response) == {"owner"}
    response = client.patch(f"/api/people/{person.pk}/", {"owner": 999_999}, format="json")
    assert response.status_code == 400
    assert problem_fields(response) == {"owner"}
    person.refresh_from_db()
    assert person.owner == rep


def test_put_requires_required_fields_and_accepts_round_trip(rep: User) -> None:
    account = AccountFactory.create(actor=rep, name="Acme", website="https://www.acme.cn")
    client = client_for(rep)
    body = client.get(f"/api/accounts/{account.pk}/").json()
    response = client.put(f"/api/accounts/{account.pk}/", {**body, "name": "Acme Group"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "Acme Group"
    assert response.json()["domain"] == "acme.cn"
    response = client.put(f"/api/accounts/{account.pk}/", {"industry": "x"}, format="json")
    assert response.status_code == 400
    assert problem_fields(response) == {"name"}


def test_delete_person(rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    response = client_for(rep).delete(f"/api/people/{person.pk}/")
    assert response.status_code == 204
    assert not Person.objects.exists()
    assert ChangeRecord.objects.filter(action="delete", object_id=person.pk).exists()


def test_method_not_allowed_is_a_problem(rep: User) -> None:
    client = client_for(rep)
    response = client.delete("/api/people/")
    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM
    response = client.put("/api/relationships/1/", {}, format="json")
    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM


# ---------------------------------------------------------------------------------------------
# Accounts


def test_account_create_with_parent_team_addresses(rep: User, team: Any, outside_rep: User) -> None:
    parent = AccountFactory.create(actor=rep, name="Parent Co")
    hidden = AccountFactory.create(actor=outside_rep, name="Hidden Co")
    client = client_for(rep)
    response = client.post(
        "/api/accounts/",
        {
            "name": "Child Co",
            "parent": parent.pk,
            "team": team.pk,
            "website": "http://child.example.cn/about",
            "addresses": [{"line1": "1 Nanjing Rd", "city": "Shanghai", "country": "cn"}],
            "tags": ["distributor"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["parent"], body["team"], body["owner"], body["domain"]) == (
        parent.pk,
        team.pk,
        rep.pk,
        "child.example.cn",
    )
    assert body["addresses"][0]["country"] == "CN"
    assert body["tags"] == ["distributor"]

    response = client.post("/api/accounts/", {"name": "Sneaky", "parent": hidden.pk}, format="json")
    assert response.status_code == 400
    assert problem_fields(response) == {"parent"}
    response = client.post("/api/accounts/", {"name": "Bad", "addresses": [{"city": "x", "pin": 1}]}, format="json")
    assert problem_fields(response) == {"addresses.0.line1", "addresses.0.pin"}
    assert Account.objects.count() == 3


def test_account_custom_attribute_errors_are_named(rep: User, admin_user: User) -> None:
    services.create_attribute_definition(
        admin_user, {"target": "account", "key": "employees", "label": "Employees", "data_type": "number"}
    )
    response = client_for(rep).post(
        "/api/accounts/", {"name": "Acme", "attributes": {"employees": "many", "colour": "red"}}, format="json"
    )
    assert response.status_code == 400
    assert problem_fields(response) == {"attributes.employees", "attributes.colour"}
    assert not Account.objects.exists()


# ---------------------------------------------------------------------------------------------
# Filters, ordering, paging


def test_filters_q_tag_stage_owner_and_attribute(rep: User, admin_user: User) -> None:
    services.create_attribute_definition(
        admin_user, {"target": "person", "key": "shoe_size", "label": "Shoe size", "data_type": "number"}
    )
    wang = PersonFactory.create(
        actor=rep,
        family_name="王",
        given_name="芳",
        tags=["vip"],
        attributes={"shoe_size": 38},
        lifecycle_stage="active",
    )
    li = PersonFactory.create(actor=rep, family_name="李", given_name="娜", emails=["lina@example.com"])
    pool = PersonFactory.create(actor=admin_user, family_name="Zhao", given_name="Lei", attributes={"shoe_size": 42})
    client = client_for(rep)
    assert ids(client.get("/api/people/", {"q": "王芳"})) == [wang.pk]
    assert ids(client.get("/api/people/", {"q": "lina@example"})) == [li.pk]
    assert ids(client.get("/api/people/", {"tag": "vip"})) == [wang.pk]
    assert ids(client.get("/api/people/", {"stage": "active"})) == [wang.pk]
    assert ids(client.get("/api/people/", {"owner": "pool"})) == [pool.pk]
    assert set(ids(client.get("/api/people/", {"owner": "me"}))) == {wang.pk, li.pk}
    assert ids(client.get("/api/people/", {"attr.shoe_size": "42"})) == [pool.pk]
    assert ids(client.get("/api/people/", {"attr.shoe_size": "38", "stage": "active"})) == [wang.pk]

    response = client.get("/api/people/", {"owner": "someone", "stage": "dormant"})
    assert response.status_code == 400
    assert problem_fields(response) == {"owner", "stage"}


def test_account_filters_kind_segment_and_people_by_account(rep: User) -> None:
    distributor = AccountFactory.create(actor=rep, name="Dist", kind="distributor", market_segment="enterprise")
    AccountFactory.create(actor=rep, name="Shop", kind="retailer")
    client = client_for(rep)
    assert ids(client.get("/api/accounts/", {"kind": "distributor"})) == [distributor.pk]
    assert ids(client.get("/api/accounts/", {"market_segment": "enterprise"})) == [distributor.pk]
    person = PersonFactory.create(actor=rep)
    PersonFactory.create(actor=rep)
    services.add_role(rep, person, distributor, "purchaser")
    assert ids(client.get("/api/people/", {"account": distributor.pk})) == [person.pk]


def test_cursor_paging_forward_and_back_without_gaps(rep: User) -> None:
    for n in range(60):
        # Names collide in pairs so the id tiebreak matters.
        PersonFactory.create(actor=rep, family_name=f"Name{n // 2:02d}", given_name="Alex")
    expected = list(Person.objects.order_by("full_name", "id").values_list("id", flat=True))
    client = client_for(rep)

    pages: list[list[int]] = []
    url: str | None = "/api/people/?ordering=full_name&page_size=25"
    while url:
        body = client.get(url).json()
        pages.append([row["id"] for row in body["results"]])
        url = body["next"]
    assert [len(p) for p in pages] == [25, 25, 10]
    assert [pk for page in pages for pk in page] == expected

    back: list[list[int]] = [[row["id"] for row in body["results"]]]
    url = body["previous"]
    while url:
        body = client.get(url).json()
        back.append([row["id"] for row in body["results"]])
        url = body["previous"]
    assert [pk for page in reversed(back) for pk in page] == expected

    descending = client.get("/api/people/?ordering=-full_name&page_size=5").json()
    assert [row["id"] for row in descending["results"]] == list(reversed(expected))[:5]


def test_bad_cursor_and_page_size_are_400(rep: User) -> None:
    client = client_for(rep)
    response = client.get("/api/people/", {"cursor": "garbage!"})
    assert response.status_code == 400
    assert problem_fields(response) == {"cursor"}
    response = client.get("/api/people/", {"page_size": "0"})
    assert problem_fields(response) == {"page_size"}


def branch_keys(branches: int) -> int:
    """Extra queries of a list paged branch by branch: on SQLite the keys of each visibility
    branch (own, pool, team) are read apart first (see `keyset_page`); one OR query elsewhere."""
    return branches if connection.vendor == "sqlite" else 0


def _list_queries(
    client: APIClient,
    url: str,
    page_size: int,
    django_assert_num_queries: DjangoAssertNumQueries,
    expected: int,
    **params: str,
) -> None:
    with django_assert_num_queries(expected):
        response = client.get(url, {"page_size": str(page_size), **params})
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size


def test_people_list_query_count_is_fixed(
    rep: User, admin_user: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    services.create_attribute_definition(
        admin_user, {"target": "person", "key": "size", "label": "Size", "data_type": "text"}
    )
    account = AccountFactory.create(actor=rep)
    for n in range(12):
        person = PersonFactory.create(
            actor=rep,
            emails=[f"p{n}@example.com"],
            phones=[f"+861381234{n:04d}"],
            tags=["a", "b"],
            attributes={"size": "x"},
        )
        services.add_role(rep, person, account, "user")
    client = client_for(rep)
    # token + page + tags + emails + phones + roles (with their accounts)
    own_and_pool = branch_keys(2)
    _list_queries(client, "/api/people/", 3, django_assert_num_queries, 6 + own_and_pool)
    _list_queries(client, "/api/people/", 12, django_assert_num_queries, 6 + own_and_pool)
    # a custom attribute filter reads the definitions once
    _list_queries(client, "/api/people/", 3, django_assert_num_queries, 7 + own_and_pool, **{"attr.size": "x"})
    _list_queries(client, "/api/people/", 12, django_assert_num_queries, 7 + own_and_pool, **{"attr.size": "x"})


def test_accounts_list_query_count_is_fixed(
    rep: User, manager: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    parent = AccountFactory.create(actor=rep, name="Group")
    for n in range(10):
        AccountFactory.create(actor=rep, name=f"Co {n}", parent=parent, tags=["x"], addresses=[{"line1": f"{n} Road"}])
    client = client_for(rep)
    # token + page (with owner and parent joined) + tags + addresses
    _list_queries(client, "/api/accounts/", 2, django_assert_num_queries, 4 + branch_keys(2))
    _list_queries(client, "/api/accounts/", 11, django_assert_num_queries, 4 + branch_keys(2))
    # a manager's visibility needs the managed teams once, and has a third branch: the team's
    _list_queries(client_for(manager), "/api/accounts/", 11, django_assert_num_queries, 5 + branch_keys(3))


# ---------------------------------------------------------------------------------------------
# Bulk actions, stage, history


def test_bulk_actions_respect_visibility(rep: User, other_rep: User, admin_user: User) -> None:
    mine = PersonFactory.create(actor=rep)
    theirs = PersonFactory.create(actor=other_rep)
    pool = PersonFactory.create(actor=admin_user)
    client = client_for(rep)
    all_ids = [mine.pk, theirs.pk, pool.pk]

    def bulk(payload: dict[str, Any]) -> Any:
        return client.post("/api/people/bulk/", {"ids": all_ids, **payload}, format="json")

    assert bulk({"action": "add_tag", "tag": "hot"}).json() == {"changed": 1}
    assert list(Person.objects.filter(tags__name="hot")) == [mine]
    assert bulk({"action": "set_stage", "stage": "active"}).json() == {"changed": 1}
    assert set(Person.objects.filter(lifecycle_stage="active")) == {mine}
    assert bulk({"action": "claim"}).json() == {"changed": 1}
    pool.refresh_from_db()
    assert pool.owner == rep
    assert bulk({"action": "release"}).json() == {"changed": 2}
    theirs.refresh_from_db()
    assert theirs.owner == other_rep
    assert bulk({"action": "remove_tag", "tag": "hot"}).json() == {"changed": 0}  # mine is in the pool now


def test_bulk_assign_owner_checks_assignee(rep: User, other_rep: User, manager: User) -> None:
    mine = AccountFactory.create(actor=rep)
    response = client_for(rep).post(
        "/api/accounts/bulk/", {"action": "assign_owner", "ids": [mine.pk], "owner": other_rep.pk}, format="json"
    )
    assert response.status_code == 400
    assert problem_fields(response) == {"owner"}
    response = client_for(manager).post(
        "/api/accounts/bulk/", {"action": "assign_owner", "ids": [mine.pk], "owner": other_rep.pk}, format="json"
    )
    assert response.json() == {"changed": 1}
    mine.refresh_from_db()
    assert mine.owner == other_rep


def test_bulk_input_is_validated(rep: User) -> None:
    client = client_for(rep)
    response = client.post("/api/people/bulk/", {"action": "add_tag", "ids": []}, format="json")
    assert response.status_code == 400
    assert problem_fields(response) == {"ids"}
    response = client.post("/api/people/bulk/", {"action": "set_stage", "ids": [1]}, format="json")
    assert problem_fields(response) == {"stage"}
    response = client.post("/api/people/bulk/", {"action": "explode", "ids": ["x"]}, format="json")
    assert problem_fields(response) == {"action", "ids.0"}


def test_stage_and_history(rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    client = client_for(rep)
    response = client.post(
        f"/api/people/{person.pk}/stage/", {"stage": "active", "reason": "first order"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["lifecycle_stage"] == "active"
    change = LifecycleChange.objects.filter(person=person).first()
    assert change is not None
    assert (change.from_stage, change.to_stage, change.reason) == ("prospect", "active", "first order")

    history = client.get(f"/api/people/{person.pk}/history/").json()
    assert [row["action"] for row in history["results"]] == ["update", "create"]
    assert history["results"][0]["changes"] == {"lifecycle_stage": ["prospect", "active"]}
    assert history["results"][0]["actor"] == rep.pk
    assert history["results"][0]["actor_name"] == str(rep)
    first_page = client.get(f"/api/people/{person.pk}/history/", {"page_size": 1}).json()
    assert len(first_page["results"]) == 1
    second = client.get(first_page["next"]).json()
    assert [row["action"] for row in second["results"]] == ["create"]

    account = AccountFactory.create(actor=rep)
    assert client.get(f"/api/accounts/{account.pk}/history/").json()["results"][0]["action"] == "create"
    response = client.post(f"/api/people/{person.pk}/stage/", {"stage": "dormant"}, format="json")
    assert problem_fields(response) == {"stage"}


# ---------------------------------------------------------------------------------------------
# Consent


def test_consent_is_appended_and_state_is_latest(rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    client = client_for(rep)
    url = f"/api/people/{person.pk}/consents/"
    grant = {"purpose": "marketing", "channel": "email", "granted": True, "source": "signup form", "wording": "Yes"}
    assert client.post(url, grant, format="json").status_code == 201
    response = client.post(url, {**grant, "granted": False, "source": "unsubscribe link"}, format="json")
    assert response.status_code == 201
    assert response.json()["granted"] is False
    assert response.json()["recorded_by"] == rep.pk
    client.post(url, {**grant, "channel": "sms"}, format="json")

    body = client.get(url).json()
    assert len(body["records"]) == 3
    assert ConsentRecord.objects.filter(person=person).count() == 3
    state = {(r["purpose"], r["channel"]): (r["granted"], r["source"]) for r in body["state"]}
    assert state == {("marketing", "email"): (False, "unsubscribe link"), ("marketing", "sms"): (True, "signup form")}

    response = client.post(url, {"purpose": "spam", "channel": "email", "source": " ", "wording": "x"}, format="json")
    assert response.status_code == 400
    assert problem_fields(response) == {"purpose", "granted", "source"}
    assert client.delete(url).status_code == 405
    assert ConsentRecord.objects.count() == 3


# ---------------------------------------------------------------------------------------------
# Roles and relationships


def test_role_crud(rep: User, outside_rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    account = AccountFactory.create(actor=rep, name="Acme")
    hidden = AccountFactory.create(actor=outside_rep)
    client = client_for(rep)

    response = client.post(
        "/api/roles/",
        {"person": person.pk, "account": account.pk, "kind": "decision_maker", "job_title": "CEO"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    role_id = response.json()["id"]
    assert response.json()["account_name"] == "Acme"
    assert client.get(f"/api/people/{person.pk}/").json()["roles"] == [
        {
            "id": role_id,
            "account": account.pk,
            "account_name": "Acme",
            "kind": "decision_maker",
            "job_title": "CEO",
            "is_primary_contact": False,
        }
    ]
    response = client.post(
        "/api/roles/", {"person": person.pk, "account": account.pk, "kind": "decision_maker"}, format="json"
    )
    assert problem_fields(response) == {"kind"}
    response = client.post("/api/roles/", {"person": person.pk, "account": hidden.pk, "kind": "user"}, format="json")
    assert problem_fields(response) == {"account"}

    assert ids(client.get("/api/roles/", {"account": account.pk})) == [role_id]
    assert ids(client.get("/api/roles/", {"account": hidden.pk})) == []

    response = client.patch(f"/api/roles/{role_id}/", {"job_title": "Chair", "account": hidden.pk}, format="json")
    assert problem_fields(response) == {"account"}
    response = client.patch(f"/api/roles/{role_id}/", {"job_title": "Chair", "is_primary_contact": True}, format="json")
    assert response.status_code == 200
    assert (response.json()["job_title"], response.json()["is_primary_contact"]) == ("Chair", True)

    assert client.delete(f"/api/roles/{role_id}/").status_code == 204
    assert not Role.objects.exists()


def test_role_summary_shows_only_visible_accounts(rep: User, outside_rep: User, admin_user: User) -> None:
    person = PersonFactory.create(actor=rep)
    seen = AccountFactory.create(actor=rep, name="Seen Co")
    hidden = AccountFactory.create(actor=outside_rep, name="Hidden Co")
    services.add_role(admin_user, person, seen, "user")
    services.add_role(admin_user, person, hidden, "purchaser")
    body = client_for(rep).get(f"/api/people/{person.pk}/").json()
    assert [r["account_name"] for r in body["roles"]] == ["Seen Co"]
    listed = client_for(rep).get("/api/people/").json()["results"][0]
    assert [r["account_name"] for r in listed["roles"]] == ["Seen Co"]
    admin_view = client_for(admin_user).get(f"/api/people/{person.pk}/").json()
    assert sorted(r["account_name"] for r in admin_view["roles"]) == ["Hidden Co", "Seen Co"]


def test_role_of_someone_elses_records_is_403(rep: User, other_rep: User, manager: User) -> None:
    person = PersonFactory.create(actor=other_rep)
    account = AccountFactory.create(actor=other_rep)
    role = services.add_role(other_rep, person, account, "user")
    assert client_for(rep).delete(f"/api/roles/{role.pk}/").status_code == 404  # rep cannot see either record
    assert client_for(manager).patch(f"/api/roles/{role.pk}/", {"note": "ok"}, format="json").status_code == 200


def test_role_visible_but_not_editable_is_403_before_validation(rep: User, admin_user: User) -> None:
    person = PersonFactory.create(actor=admin_user)
    account = AccountFactory.create(actor=admin_user)
    role = services.add_role(admin_user, person, account, "user")
    client = client_for(rep)
    assert client.get(f"/api/roles/{role.pk}/").status_code == 200  # both are in the shared pool
    response = client.patch(f"/api/roles/{role.pk}/", {"kind": "nonsense"}, format="json")
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert client.delete(f"/api/roles/{role.pk}/").status_code == 403
    assert Role.objects.get().kind == "user"


def test_relationship_crud(rep: User, outside_rep: User, admin_user: User) -> None:
    li = PersonFactory.create(actor=rep, family_name="Li", given_name="Na")
    wang = PersonFactory.create(actor=rep, family_name="Wang", given_name="Fang")
    acme = AccountFactory.create(actor=rep, name="Acme")
    hidden = PersonFactory.create(actor=outside_rep)
    pool = PersonFactory.create(actor=admin_user)
    client = client_for(rep)

    payload = {"kind": "referred_by", "from_type": "person", "from_id": li.pk, "to_type": "person", "to_id": wang.pk}
    response = client.post("/api/relationships/", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["from_name"], body["kind"], body["to_name"]) == ("Na Li", "referred_by", "Fang Wang")
    rel_id = body["id"]
    response = client.post("/api/relationships/", payload, format="json")
    assert problem_fields(response) == {"to_id"}
    response = client.post("/api/relationships/", {**payload, "to_id": hidden.pk}, format="json")
    assert problem_fields(response) == {"to_id"}
    response = client.post(
        "/api/relationships/",
        {"kind": "works_at", "from_type": "person", "from_id": pool.pk, "to_type": "account", "to_id": acme.pk},
        format="json",
    )
    assert response.status_code == 403  # the pool record is visible but not the rep's to change
    client.post(
        "/api/relationships/",
        {"kind": "works_at", "from_type": "person", "from_id": wang.pk, "to_type": "account", "to_id": acme.pk},
        format="json",
    )

    assert ids(client.get("/api/relationships/", {"person": li.pk})) == [rel_id]
    assert len(ids(client.get("/api/relationships/", {"person": wang.pk}))) == 2
    assert len(ids(client.get("/api/relationships/", {"account": acme.pk}))) == 1
    assert client.patch(f"/api/relationships/{rel_id}/", {"note": "x"}, format="json").status_code == 405
    assert client.delete(f"/api/relationships/{rel_id}/").status_code == 204
    assert Relationship.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# Settings


def test_tags_everyone_reads_admin_writes(rep: User, admin_user: User) -> None:
    Tag.objects.create(name="vip")
    response = client_for(rep).get("/api/tags/")
    assert [t["name"] for t in response.json()["results"]] == ["vip"]
    response = client_for(rep).post("/api/tags/", {"name": "new"}, format="json")
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM

    admin = client_for(admin_user)
    response = admin.post("/api/tags/", {"name": "new", "color": "#ff0000"}, format="json")
    assert response.status_code == 201
    tag_id = response.json()["id"]
    response = admin.post("/api/tags/", {"name": "new"}, format="json")
    assert problem_fields(response) == {"name"}
    response = admin.patch(f"/api/tags/{tag_id}/", {"color": "red"}, format="json")
    assert problem_fields(response) == {"color"}
    assert admin.patch(f"/api/tags/{tag_id}/", {"name": "newer"}, format="json").json()["name"] == "newer"
    assert client_for(rep).delete(f"/api/tags/{tag_id}/").status_code == 403
    assert admin.delete(f"/api/tags/{tag_id}/").status_code == 204
    assert list(Tag.objects.values_list("name", flat=True)) == ["vip"]


def test_attribute_definitions_everyone_reads_admin_writes(rep: User, admin_user: User) -> None:
    payload = {"target": "person", "key": "shoe_size", "label": "Shoe size", "data_type": "number"}
    assert client_for(rep).post("/api/attribute-definitions/", payload, format="json").status_code == 403
    admin = client_for(admin_user)
    response = admin.post("/api/attribute-definitions/", payload, format="json")
    assert response.status_code == 201
    definition_id = response.json()["id"]
    response = admin.post(
        "/api/attribute-definitions/",
        {"target": "order", "key": "colour", "label": "Colour", "data_type": "choice"},
        format="json",
    )
    assert problem_fields(response) == {"target"}
    response = admin.post(
        "/api/attribute-definitions/",
        {"target": "person", "key": "colour", "label": "Colour", "data_type": "choice"},
        format="json",
    )
    assert problem_fields(response) == {"choices"}
    response = admin.patch(f"/api/attribute-definitions/{definition_id}/", {"data_type": "text"}, format="json")
    assert problem_fields(response) == {"data_type"}
    response = admin.patch(f"/api/attribute-definitions/{definition_id}/", {"label": "Shoe (EU)"}, format="json")
    assert response.json()["label"] == "Shoe (EU)"

    listed = client_for(rep).get("/api/attribute-definitions/", {"target": "person"}).json()["results"]
    assert [(d["key"], d["label"]) for d in listed] == [("shoe_size", "Shoe (EU)")]
    assert client_for(rep).get("/api/attribute-definitions/", {"target": "account"}).json()["results"] == []
    assert admin.delete(f"/api/attribute-definitions/{definition_id}/").status_code == 204
    assert not AttributeDefinition.objects.exists()


def test_service_agent_reads_all_but_changes_only_own(outside_rep: User) -> None:
    agent = UserFactory.create(username="agent", role=StaffRole.SERVICE_AGENT)
    theirs = PersonFactory.create(actor=outside_rep)
    client = client_for(agent)
    assert ids(client.get("/api/people/")) == [theirs.pk]
    assert client.patch(f"/api/people/{theirs.pk}/", {"notes": "called"}, format="json").status_code == 403
