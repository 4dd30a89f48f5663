"""Duplicates and merge pages, the create form's duplicate warning, and the merge API."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries
from rest_framework.test import APIClient

from guanxi.customers import services
from guanxi.customers.models import Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.dataio import duplicates
from guanxi.dataio.models import DismissedPair, DuplicateCandidate, DuplicateSearch, MergeRecord
from guanxi.dataio.views import merging as merging_views
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


# ---------------------------------------------------------------------------------------------
# The create and edit forms


def test_create_form_shows_a_likely_duplicate_before_saving(client: Client, rep: User) -> None:
    existing = PersonFactory.create(family_name="李", given_name="娜", emails=["lina@qq.example"], owner=rep, actor=rep)
    _login(client, rep)
    data = {"family_name": "Li", "given_name": "Na", "emails": "LiNa@qq.example", "lifecycle_stage": "prospect"}
    response = client.post(reverse("customers:person-create"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Likely duplicates" in html
    assert f'href="/people/{existing.pk}/"' in html
    assert "same name, same e-mail" in html
    assert 'name="save_anyway"' in html
    assert Person.objects.count() == 1
    response = client.post(reverse("customers:person-create"), {**data, "save_anyway": "on"})
    assert response.status_code == 302
    assert Person.objects.count() == 2


def test_create_form_without_duplicates_saves_at_once(client: Client, rep: User) -> None:
    PersonFactory.create(family_name="王", given_name="芳", owner=rep, actor=rep)
    _login(client, rep)
    data = {"family_name": "王", "given_name": "伟", "lifecycle_stage": "prospect"}
    assert client.post(reverse("customers:person-create"), data).status_code == 302


def test_edit_form_checks_only_when_the_identity_changes(client: Client, rep: User) -> None:
    PersonFactory.create(family_name="Smith", given_name="Ann", phones=["+447400123456"], owner=rep, actor=rep)
    person = PersonFactory.create(family_name="Smith", given_name="Anne", owner=rep, actor=rep)
    _login(client, rep)
    url = reverse("customers:person-edit", args=[person.pk])
    data = {"family_name": "Smith", "given_name": "Anne", "notes": "new note", "owner": rep.pk}
    assert client.post(url, data).status_code == 302
    response = client.post(url, {**data, "phones": "+44 7400 123456"})
    assert response.status_code == 200
    assert "Likely duplicates" in response.content.decode()


def test_account_form_shows_an_account_with_the_same_registration_number(client: Client, admin_user: User) -> None:
    existing = AccountFactory.create(name="Acme Ltd", registration_number="12345678", actor=admin_user)
    _login(client, admin_user)
    data = {"name": "ACME Limited", "registration_number": "1234 5678", "lifecycle_stage": "prospect"}
    data.update({"kind": "customer", "organisation_type": "company", "status": "active"})
    response = client.post(reverse("customers:account-create"), data)
    assert response.status_code == 200
    assert f'href="/accounts/{existing.pk}/"' in response.content.decode()


# ---------------------------------------------------------------------------------------------
# The duplicates list


@pytest.fixture
def found(rep: User, other_rep: User) -> dict[str, Any]:
    mine = PersonFactory.create(family_name="Li", given_name="Na", emails=["lina@qq.example"], owner=rep, actor=rep)
    mine_too = PersonFactory.create(family_name="李", given_name="娜", emails=["lina@qq.example"], owner=rep, actor=rep)
    theirs = PersonFactory.create(
        family_name="Zhang", given_name="Wei", phones=["+8613812345678"], owner=other_rep, actor=other_rep
    )
    theirs_too = PersonFactory.create(
        family_name="张", given_name="伟", phones=["+8613812345678"], owner=other_rep, actor=other_rep
    )
    duplicates.find_and_store("person")
    return {"mine": (mine, mine_too), "theirs": (theirs, theirs_too)}


def test_duplicate_list_shows_only_pairs_the_user_may_see(
    client: Client, rep: User, found: dict[str, Any], django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    _login(client, rep)
    url = reverse("dataio:duplicate-list") + "?target=person"
    client.get(url)
    with django_assert_num_queries(5):  # session, user, the page of pairs, their records, the searches
        response = client.get(url)
    html = response.content.decode()
    mine, mine_too = found["mine"]
    theirs, _theirs_too = found["theirs"]
    assert reverse("dataio:merge", args=["person", mine.pk, mine_too.pk]) in html
    assert f"/people/{theirs.pk}/" not in html
    assert "same name, same e-mail" in html
    assert ">90<" in html
    assert "found 2 pairs" in html  # the search's figure, for every record


def test_duplicate_list_pages_by_keyset(
    client: Client, rep: User, django_assert_num_queries: DjangoAssertNumQueries, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(merging_views, "PAIRS_PER_PAGE", 2)
    people = [PersonFactory.create(owner=rep, actor=rep).pk for _ in range(4)]
    now = timezone.now()
    DuplicateCandidate.objects.bulk_create(
        DuplicateCandidate(target="person", low_id=low, high_id=high, score=score, reasons=["phone"], found_at=now)
        for low, high, score in [
            (people[0], people[1], 80),
            (people[0], people[2], 70),
            (people[1], people[2], 70),
            (people[2], people[3], 60),
        ]
    )
    _login(client, rep)
    url = reverse("dataio:duplicate-list") + "?target=person"
    html = client.get(url).content.decode()
    assert html.count('href="/data/merge/person/') == 2
    cursor = f"70.{people[0]}.{people[2]}"
    assert f"cursor={cursor}" in html
    with django_assert_num_queries(5):
        html = client.get(f"{url}&cursor={cursor}").content.decode()
    assert html.count('href="/data/merge/person/') == 2
    assert reverse("dataio:merge", args=["person", people[1], people[2]]) in html
    assert reverse("dataio:merge", args=["person", people[2], people[3]]) in html
    assert 'rel="next"' not in html
    assert "Last searched" not in html  # no search row: the pairs were made by hand
    response = client.get(f"{url}&cursor=nonsense")
    assert (response.status_code, response["Location"]) == (302, url)


def test_not_duplicates_hides_the_pair(client: Client, rep: User, found: dict[str, Any]) -> None:
    mine, mine_too = found["mine"]
    theirs, theirs_too = found["theirs"]
    _login(client, rep)
    response = client.post(
        reverse("dataio:duplicate-dismiss"), {"target": "person", "first": mine_too.pk, "second": mine.pk}
    )
    assert response.status_code == 302
    assert list(DismissedPair.objects.values_list("low_id", "high_id")) == [(mine.pk, mine_too.pk)]
    assert not DuplicateCandidate.objects.filter(low_id=mine.pk, high_id=mine_too.pk).exists()
    html = client.get(reverse("dataio:duplicate-list")).content.decode()
    assert reverse("dataio:merge", args=["person", mine.pk, mine_too.pk]) not in html
    response = client.post(
        reverse("dataio:duplicate-dismiss"), {"target": "person", "first": theirs.pk, "second": theirs_too.pk}
    )
    assert response.status_code == 404


def test_search_is_for_admins_and_managers(
    client: Client, rep: User, manager: User, django_capture_on_commit_callbacks: Any
) -> None:
    _login(client, rep)
    assert client.post(reverse("dataio:duplicate-search"), {"target": "person"}).status_code == 403
    PersonFactory.create(family_name="Li", given_name="Na", emails=["lina@qq.example"], owner=manager, actor=manager)
    PersonFactory.create(family_name="李", given_name="娜", emails=["lina@qq.example"], owner=manager, actor=manager)
    _login(client, manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dataio:duplicate-search"), {"target": "person"})
    assert response.status_code == 302
    search = DuplicateSearch.objects.get()
    assert (search.target, search.status, search.pairs_found, search.created_by) == ("person", "done", 1, manager)
    assert DuplicateCandidate.objects.count() == 1


def test_the_page_shows_a_running_search_and_its_progress(client: Client, manager: User) -> None:
    DuplicateSearch.objects.create(target="person", status="running", progress="roles read: 100,000")
    _login(client, manager)
    html = client.get(reverse("dataio:duplicate-list")).content.decode()
    assert "A search is running." in html
    assert "roles read: 100,000" in html
    # Asking again while it runs queues nothing new.
    assert client.post(reverse("dataio:duplicate-search"), {"target": "person"}).status_code == 302
    assert DuplicateSearch.objects.count() == 1


def test_pages_need_login(client: Client, db: None) -> None:
    for name in ("dataio:duplicate-list", "dataio:merge-list"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


# ---------------------------------------------------------------------------------------------
# The merge screen and the history


def test_merge_screen_picks_fields_and_moves_records(client: Client, rep: User, found: dict[str, Any]) -> None:
    mine, mine_too = found["mine"]
    acme = AccountFactory.create(name="Acme", owner=rep, actor=rep)
    services.add_role(rep, mine_too, acme, "purchaser")
    _login(client, rep)
    url = reverse("dataio:merge", args=["person", mine.pk, mine_too.pk])
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'type="radio" name="family_name" value="merged"' in html
    assert 'name="notes"' not in html  # the same on both: nothing to choose
    assert "roles: 1 moved" in html
    response = client.post(url, {"family_name": "merged", "given_name": "merged"})
    assert response.status_code == 302
    assert response["Location"] == f"/people/{mine.pk}/"
    kept = Person.objects.get(pk=mine.pk)
    assert kept.full_name == "李娜"
    assert list(kept.roles.values_list("account__name", flat=True)) == ["Acme"]
    assert not Person.objects.filter(pk=mine_too.pk).exists()


def test_a_rep_cannot_merge_records_of_someone_else(client: Client, rep: User, other_rep: User) -> None:
    mine = PersonFactory.create(owner=rep, actor=rep)
    pool = PersonFactory.create(owner=None, actor=UserFactory.create(role=StaffRole.ADMIN))
    theirs = PersonFactory.create(owner=other_rep, actor=other_rep)
    _login(client, rep)
    assert client.get(reverse("dataio:merge", args=["person", mine.pk, theirs.pk])).status_code == 404
    url = reverse("dataio:merge", args=["person", mine.pk, pool.pk])
    assert "disabled" in client.get(url).content.decode()
    assert client.post(url, {}).status_code == 403
    assert Person.objects.count() == 3


def test_analysts_may_not_merge(client: Client, db: None) -> None:
    analyst = UserFactory.create(role=StaffRole.ANALYST)
    a, b = PersonFactory.create(), PersonFactory.create()
    _login(client, analyst)
    assert client.get(reverse("dataio:merge", args=["person", a.pk, b.pk])).status_code == 403


def test_merge_history_lists_and_undoes(
    client: Client, rep: User, found: dict[str, Any], django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    mine, mine_too = found["mine"]
    _login(client, rep)
    client.post(reverse("dataio:merge", args=["person", mine.pk, mine_too.pk]), {})
    record = MergeRecord.objects.get()
    client.get(reverse("dataio:merge-list"))
    with django_assert_num_queries(4):  # session, user, merges (with their users), editable people (no accounts)
        response = client.get(reverse("dataio:merge-list"))
    html = response.content.decode()
    assert reverse("dataio:merge-undo", args=[record.pk]) in html
    response = client.post(reverse("dataio:merge-undo", args=[record.pk]))
    assert response.status_code == 302
    assert response["Location"] == f"/people/{mine_too.pk}/"
    assert Person.objects.filter(pk=mine_too.pk).exists()
    assert (
        reverse("dataio:merge-undo", args=[record.pk]) not in client.get(reverse("dataio:merge-list")).content.decode()
    )


def test_merge_history_hides_merges_of_records_the_user_cannot_see(
    client: Client, rep: User, other_rep: User, found: dict[str, Any]
) -> None:
    theirs, theirs_too = found["theirs"]
    from guanxi.dataio.services import merging

    record = merging.merge_people(other_rep, theirs, theirs_too)
    _login(client, rep)
    assert (
        reverse("dataio:merge-undo", args=[record.pk]) not in client.get(reverse("dataio:merge-list")).content.decode()
    )
    assert client.post(reverse("dataio:merge-undo", args=[record.pk])).status_code == 404


# ---------------------------------------------------------------------------------------------
# API


def _api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_duplicates_merge_and_undo(rep: User, found: dict[str, Any]) -> None:
    mine, mine_too = found["mine"]
    api = _api(rep)
    response = api.get("/api/duplicates/?target=people")
    assert response.status_code == 200
    search = DuplicateSearch.objects.get()
    assert search.finished_at is not None
    assert response.json() == {
        "status": "done",
        "finished_at": timezone.localtime(search.finished_at).isoformat(),
        "pairs_found": 2,
        "next": None,
        "results": [
            {
                "score": 90,
                "reasons": ["name", "email"],
                "first": {"id": mine.pk, "name": "Na Li"},
                "second": {"id": mine_too.pk, "name": "李娜"},
            }
        ],
    }
    response = api.post(
        "/api/merges/",
        {"target": "people", "survivor": mine.pk, "merged": mine_too.pk, "fields": ["family_name", "given_name"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["target"], body["survivor_id"], body["merged_id"], body["merged_label"]) == (
        "person",
        mine.pk,
        mine_too.pk,
        "李娜",
    )
    assert Person.objects.get(pk=mine.pk).full_name == "李娜"
    assert api.get("/api/merges/").json()["results"][0]["id"] == body["id"]
    response = api.post(f"/api/merges/{body['id']}/undo/")
    assert response.status_code == 200
    assert response.json()["undone_by"] == "rep"
    assert Person.objects.get(pk=mine.pk).full_name == "Na Li"
    response = api.post(f"/api/merges/{body['id']}/undo/")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_api_merge_errors_are_problem_json(rep: User, other_rep: User, found: dict[str, Any]) -> None:
    mine, mine_too = found["mine"]
    theirs, _theirs_too = found["theirs"]
    api = _api(rep)
    response = api.post(
        "/api/merges/",
        {"target": "people", "survivor": mine.pk, "merged": mine_too.pk, "fields": ["password"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "fields", "reason": "Unknown field: password"}]
    response = api.post("/api/merges/", {"target": "people", "survivor": mine.pk, "merged": theirs.pk}, format="json")
    assert response.status_code == 404
    response = api.post(
        "/api/merges/", {"target": "people", "survivor": mine.pk, "merged": mine_too.pk, "extra": 1}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "extra", "reason": "Unknown field."}]
    assert api.get("/api/duplicates/?target=nothing").status_code == 400
    assert MergeRecord.objects.count() == 0


def test_api_is_in_the_schema(client: Client, admin_user: User) -> None:
    _login(client, admin_user)
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/api/duplicates/", "/api/merges/", "/api/merges/{id}/undo/"} <= set(paths)
