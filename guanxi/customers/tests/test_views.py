"""Web pages for accounts and contacts, through Django's test client."""

import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import translation

from guanxi.core.models import AttributeDefinition, Tag
from guanxi.customers import services
from guanxi.customers.models import Account, ConsentRecord, Person, Relationship, Role
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.customers.tests.test_api import branch_keys
from guanxi.staff.models import User


def _login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def _names(response: object) -> list[str]:
    """Names of the records listed on a list page, in order."""
    html = response.content.decode()  # type: ignore[attr-defined]
    return re.findall(r'<a href="/(?:people|accounts)/\d+/">([^<]+)</a>', html)


# ---------------------------------------------------------------------------------------------
# Access


@pytest.mark.parametrize(
    "name",
    ["web:home", "customers:account-list", "customers:person-list", "customers:person-create", "customers:tag-list"],
)
def test_pages_require_login(client: Client, db: None, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_bulk_requires_login_and_post(client: Client, rep: User) -> None:
    assert client.post(reverse("customers:person-bulk"), {"action": "claim", "ids": ["1"]}).status_code == 302
    _login(client, rep)
    assert client.get(reverse("customers:person-bulk")).status_code == 405


def test_login_page_logs_in(client: Client, rep: User) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "csrfmiddlewaretoken" in response.content.decode()
    response = client.post(reverse("login"), {"username": "rep", "password": "correct horse battery"})
    assert response.status_code == 302
    assert client.get(reverse("web:home")).status_code == 200


def test_rep_sees_own_and_pool_only(client: Client, rep: User, other_rep: User, admin_user: User) -> None:
    mine = PersonFactory.create(actor=rep, family_name="Mine")
    pool = PersonFactory.create(actor=admin_user, family_name="Pooled")
    theirs = PersonFactory.create(actor=other_rep, family_name="Theirs")
    their_account = AccountFactory.create(actor=other_rep, name="Their Co")
    _login(client, rep)

    names = _names(client.get(reverse("customers:person-list")))
    assert sorted(names) == sorted([mine.full_name, pool.full_name])
    assert client.get(reverse("customers:person-detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("customers:person-edit", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("customers:account-detail", args=[their_account.pk])).status_code == 404
    assert client.post(reverse("customers:person-delete", args=[theirs.pk])).status_code == 404

    # A pool record is visible but only claimable: no edit button, and editing is refused.
    page = client.get(reverse("customers:person-detail", args=[pool.pk])).content.decode()
    assert reverse("customers:person-edit", args=[pool.pk]) not in page
    assert client.get(reverse("customers:person-edit", args=[pool.pk])).status_code == 403
    page = client.get(reverse("customers:person-detail", args=[mine.pk])).content.decode()
    assert reverse("customers:person-edit", args=[mine.pk]) in page

    pool_names = _names(client.get(reverse("customers:person-list"), {"owner": "pool"}))
    assert pool_names == [pool.full_name]


def test_lookup_lists_only_visible_records(client: Client, rep: User, other_rep: User) -> None:
    AccountFactory.create(actor=rep, name="Visible Widgets")
    AccountFactory.create(actor=other_rep, name="Hidden Widgets")
    _login(client, rep)
    html = client.get(reverse("customers:lookup"), {"type": "account", "q": "widgets"}).content.decode()
    assert "Visible Widgets" in html
    assert "Hidden Widgets" not in html


def test_settings_pages_are_admin_only(client: Client, rep: User, admin_user: User) -> None:
    tag = Tag.objects.create(name="VIP")
    urls = [
        reverse("customers:tag-list"),
        reverse("customers:tag-create"),
        reverse("customers:tag-edit", args=[tag.pk]),
        reverse("customers:tag-delete", args=[tag.pk]),
        reverse("customers:attribute-list"),
        reverse("customers:attribute-create"),
    ]
    _login(client, rep)
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("customers:tag-create"), {"name": "x", "color": "#000000"}).status_code == 403
    assert "/admin/" not in client.get(reverse("web:home")).content.decode()

    _login(client, admin_user)
    for url in urls:
        assert client.get(url).status_code == 200, url
    response = client.post(reverse("customers:tag-create"), {"name": "Key account", "color": "#ff0000"})
    assert response.status_code == 302
    assert Tag.objects.filter(name="Key account").exists()
    response = client.post(reverse("customers:tag-create"), {"name": "VIP", "color": "#ff0000"})
    assert response.status_code == 400
    assert "A tag with this name exists." in response.content.decode()
    response = client.post(
        reverse("customers:attribute-create"),
        {
            "target": "person",
            "key": "shoe_size",
            "label": "Shoe size",
            "data_type": "choice",
            "choices": "",
            "position": 0,
        },
    )
    assert response.status_code == 400
    assert "A choice attribute needs a list of non-empty choices." in response.content.decode()
    response = client.post(
        reverse("customers:attribute-create"),
        {
            "target": "person",
            "key": "shoe_size",
            "label": "Shoe size",
            "data_type": "choice",
            "choices": "S\nM\nL",
            "position": 0,
        },
    )
    assert response.status_code == 302
    definition = AttributeDefinition.objects.get(key="shoe_size")
    assert definition.choices == ["S", "M", "L"]
    response = client.post(reverse("customers:tag-delete", args=[tag.pk]))
    assert response.status_code == 302
    assert not Tag.objects.filter(pk=tag.pk).exists()


# ---------------------------------------------------------------------------------------------
# Forms


def test_account_form_shows_field_errors_and_saves_nothing(client: Client, rep: User) -> None:
    _login(client, rep)
    response = client.post(
        reverse("customers:account-create"),
        {
            "name": "",
            "kind": "customer",
            "organisation_type": "company",
            "status": "active",
            "lifecycle_stage": "prospect",
            "owner": rep.pk,
        },
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "name" in form.errors
    # A service-side error (the phone) lands next to its field too.
    response = client.post(
        reverse("customers:account-create"),
        {
            "name": "Acme",
            "kind": "customer",
            "organisation_type": "company",
            "status": "active",
            "lifecycle_stage": "prospect",
            "phone": "12",
            "owner": rep.pk,
        },
    )
    assert response.status_code == 400
    assert "phone" in response.context["form"].errors
    response = client.post(
        reverse("customers:account-create"),
        {
            "name": "Acme",
            "kind": "customer",
            "organisation_type": "company",
            "status": "active",
            "lifecycle_stage": "prospect",
            "owner": rep.pk,
            "addresses-0-line1": "",
            "addresses-0-city": "Shenzhen",
        },
    )
    assert response.status_code == 400
    assert "addresses-0-line1" in response.context["form"].errors
    html = response.content.decode()
    assert 'class="error" role="alert"' in html
    assert Account.objects.count() == 0


def test_create_and_edit_account(client: Client, rep: User) -> None:
    _login(client, rep)
    data = {
        "name": "华为技术有限公司",
        "kind": "customer",
        "organisation_type": "company",
        "market_segment": "enterprise",
        "grade": "A",
        "status": "active",
        "lifecycle_stage": "new",
        "website": "https://www.huawei.com",
        "owner": rep.pk,
        "tags": "VIP, 华南",
        "addresses-0-kind": "office",
        "addresses-0-line1": "坂田华为基地",
        "addresses-0-city": "深圳",
        "addresses-0-country": "cn",
    }
    response = client.post(reverse("customers:account-create"), data)
    assert response.status_code == 302
    account = Account.objects.get()
    assert response["Location"] == reverse("customers:account-detail", args=[account.pk])
    assert account.owner == rep
    assert account.lifecycle_stage == "new"
    assert sorted(t.name for t in account.tags.all()) == ["VIP", "华南"]
    assert account.addresses.get().country == "CN"
    page = client.get(response["Location"]).content.decode()
    assert "Created the account 华为技术有限公司." in page
    assert "坂田华为基地" in page

    parent = AccountFactory.create(actor=rep, name="Group HQ")
    edit = client.get(reverse("customers:account-edit", args=[account.pk]))
    assert edit.status_code == 200
    data.update({"name": "华为", "parent": f"{parent.pk} · Group HQ", "tags": "VIP", "addresses-1-line1": ""})
    response = client.post(reverse("customers:account-edit", args=[account.pk]), data)
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "华为"
    assert account.parent == parent
    assert [t.name for t in account.tags.all()] == ["VIP"]
    page = client.get(reverse("customers:account-detail", args=[account.pk])).content.decode()
    assert "Change history" in page
    assert "华为技术有限公司" in page  # the old name, in the history
    parent_page = client.get(reverse("customers:account-detail", args=[parent.pk])).content.decode()
    assert reverse("customers:account-detail", args=[account.pk]) in parent_page


def test_person_form_maps_service_errors_to_fields(client: Client, rep: User) -> None:
    AttributeDefinition.objects.create(target="person", key="shoe_size", label="Shoe size", data_type="number")
    _login(client, rep)
    response = client.post(
        reverse("customers:person-create"),
        {
            "family_name": "李",
            "given_name": "雷",
            "emails": "lilei@example.com\nnot-an-address",
            "phones": "12",
            "lifecycle_stage": "prospect",
            "owner": rep.pk,
            "attr_shoe_size": "big",
        },
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert any(e.startswith("Line 2:") for e in form.errors["emails"])
    assert any(e.startswith("Line 1:") for e in form.errors["phones"])
    assert form.errors["attr_shoe_size"] == ["Enter a number."]
    assert Person.objects.count() == 0

    response = client.post(reverse("customers:person-create"), {"lifecycle_stage": "prospect", "owner": rep.pk})
    assert response.status_code == 400
    assert "family_name" in response.context["form"].errors


def test_create_and_edit_person(client: Client, rep: User) -> None:
    _login(client, rep)
    response = client.post(
        reverse("customers:person-create"),
        {
            "family_name": "李",
            "given_name": "雷",
            "emails": "LiLei@Example.com\nli.lei@work.cn",
            "phones": "138 1234 5678",
            "lifecycle_stage": "prospect",
            "preferred_language": "zh-hans",
            "birthday": "1990-05-01",
            "owner": rep.pk,
            "tags": "VIP",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    person = Person.objects.get()
    assert person.full_name == "李雷"
    assert [e.address for e in person.emails.all()] == ["lilei@example.com", "li.lei@work.cn"]
    assert [p.number for p in person.phones.all()] == ["+8613812345678"]
    edit = client.get(reverse("customers:person-edit", args=[person.pk]))
    assert "lilei@example.com" in edit.content.decode()
    response = client.post(
        reverse("customers:person-edit", args=[person.pk]),
        {
            "family_name": "李",
            "given_name": "蕾",
            "emails": "lilei@example.com",
            "phones": "",
            "owner": rep.pk,
            "buying_motives": "价格敏感",
        },
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.full_name == "李蕾"
    assert person.buying_motives == "价格敏感"
    assert person.phones.count() == 0


def test_rep_cannot_assign_a_record_to_someone_else(client: Client, rep: User, other_rep: User) -> None:
    _login(client, rep)
    response = client.post(
        reverse("customers:person-create"),
        {"family_name": "X", "lifecycle_stage": "prospect", "owner": other_rep.pk},
    )
    assert response.status_code == 400
    assert "owner" in response.context["form"].errors
    assert Person.objects.count() == 0


def test_delete_person(client: Client, rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    _login(client, rep)
    assert client.get(reverse("customers:person-delete", args=[person.pk])).status_code == 200
    response = client.post(reverse("customers:person-delete", args=[person.pk]))
    assert response.status_code == 302
    assert not Person.objects.filter(pk=person.pk).exists()


# ---------------------------------------------------------------------------------------------
# Record page actions


def test_roles_relationships_stage_and_consent(client: Client, rep: User) -> None:
    account = AccountFactory.create(actor=rep, name="Acme Ltd")
    person = PersonFactory.create(actor=rep, family_name="王", given_name="芳")
    referrer = PersonFactory.create(actor=rep, family_name="陈", given_name="静")
    _login(client, rep)

    response = client.post(
        reverse("customers:person-role-add", args=[person.pk]),
        {"party": f"{account.pk} · Acme Ltd", "kind": "purchaser", "job_title": "采购经理"},
    )
    assert response.status_code == 302
    role = Role.objects.get()
    assert (role.person, role.account, role.kind) == (person, account, "purchaser")
    response = client.post(
        reverse("customers:account-role-add", args=[account.pk]), {"party": str(person.pk), "kind": "purchaser"}
    )
    assert response.status_code == 400
    assert "This person already has this role at this account." in response.content.decode()
    page = client.get(reverse("customers:account-detail", args=[account.pk])).content.decode()
    assert "王芳" in page
    assert "采购经理" in page

    response = client.post(
        reverse("customers:person-relationship-add", args=[person.pk]),
        {"kind": "referred_by", "target_type": "person", "target": str(referrer.pk)},
    )
    assert response.status_code == 302
    page = client.get(reverse("customers:person-detail", args=[person.pk])).content.decode()
    assert "Referral chain" in page
    assert "陈静" in page
    page = client.get(reverse("customers:person-detail", args=[referrer.pk])).content.decode()
    assert "王芳" in page  # the incoming side shows too
    response = client.post(
        reverse("customers:person-relationship-add", args=[person.pk]),
        {"kind": "referred_by", "target_type": "person", "target": "999999"},
    )
    assert response.status_code == 400
    assert response.context["relationship_form"].errors["target"]

    response = client.post(reverse("customers:person-stage", args=[person.pk]), {"stage": "active", "reason": "won"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.lifecycle_stage == "active"

    response = client.post(
        reverse("customers:person-consent", args=[person.pk]),
        {"purpose": "marketing", "channel": "email", "granted": "1", "source": "", "wording": "Yes, send me news"},
    )
    assert response.status_code == 400
    assert response.context["consent_form"].errors["source"]
    response = client.post(
        reverse("customers:person-consent", args=[person.pk]),
        {"purpose": "marketing", "channel": "email", "granted": "0", "source": "phone call", "wording": "No more"},
    )
    assert response.status_code == 302
    assert ConsentRecord.objects.get().granted is False
    page = client.get(reverse("customers:person-detail", args=[person.pk])).content.decode()
    assert "Withdrawn" in page
    assert "No more" in page
    assert "Timeline" in page

    relationship = Relationship.objects.get()
    assert client.post(reverse("customers:relationship-remove", args=[relationship.pk])).status_code == 302
    assert client.post(reverse("customers:role-remove", args=[role.pk])).status_code == 302
    assert not Role.objects.exists()
    assert not Relationship.objects.exists()


def test_user_data_is_escaped(client: Client, rep: User) -> None:
    person = PersonFactory.create(actor=rep, family_name="<script>alert(1)</script>")
    _login(client, rep)
    for url in (reverse("customers:person-list"), reverse("customers:person-detail", args=[person.pk])):
        html = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;" in html


# ---------------------------------------------------------------------------------------------
# Bulk actions


def test_bulk_assign_tag_stage_release_and_claim(client: Client, manager: User, rep: User, other_rep: User) -> None:
    people = [PersonFactory.create(actor=manager, family_name=f"P{i}") for i in range(3)]
    ids = [str(p.pk) for p in people]
    _login(client, manager)
    url = reverse("customers:person-bulk")
    response = client.post(url, {"action": "assign", "owner": rep.pk, "ids": ids, "next": "/people/?q=x"}, follow=True)
    assert response.redirect_chain[-1][0] == "/people/?q=x"
    assert f"Assigned 3 contacts to {rep}." in response.content.decode()
    assert set(Person.objects.values_list("owner", flat=True)) == {rep.pk}

    client.post(url, {"action": "add_tag", "tag": "VIP", "ids": ids})
    assert Person.objects.filter(tags__name="VIP").count() == 3
    client.post(url, {"action": "remove_tag", "tag": "VIP", "ids": ids[:1]})
    assert Person.objects.filter(tags__name="VIP").count() == 2
    client.post(url, {"action": "set_stage", "stage": "loyal", "ids": ids})
    assert set(Person.objects.values_list("lifecycle_stage", flat=True)) == {"loyal"}
    response = client.post(url, {"action": "release", "ids": ids}, follow=True)
    assert "Released 3 contacts to the shared pool." in response.content.decode()
    assert not Person.objects.filter(owner__isnull=False).exists()

    # Another rep claims two of them; the first rep then can claim only the one left.
    _login(client, other_rep)
    response = client.post(url, {"action": "claim", "ids": ids[:2]}, follow=True)
    assert "Claimed 2 contacts from the shared pool." in response.content.decode()
    _login(client, rep)
    response = client.post(url, {"action": "claim", "ids": ids}, follow=True)
    html = response.content.decode()
    assert "Claimed 1 contact from the shared pool." in html
    assert "2 selected records were left unchanged" in html
    # A rep's bulk action never touches records they may not edit.
    response = client.post(url, {"action": "set_stage", "stage": "lost", "ids": ids}, follow=True)
    assert "Say why the customers were lost." in response.content.decode()
    assert not Person.objects.filter(lifecycle_stage="lost").exists()
    lost = {"action": "set_stage", "stage": "lost", "lost_reason": "price", "ids": ids}
    response = client.post(url, lost, follow=True)
    assert "Moved 1 contact to the stage" in response.content.decode()
    assert list(Person.objects.filter(lifecycle_stage="lost").values_list("lost_reason", flat=True)) == ["price"]


def test_bulk_shows_errors(client: Client, rep: User, other_rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    _login(client, rep)
    url = reverse("customers:person-bulk")
    response = client.post(url, {"action": "assign", "owner": other_rep.pk, "ids": [person.pk]}, follow=True)
    assert "You may not assign records to this user." in response.content.decode()
    response = client.post(url, {"action": "add_tag", "tag": "", "ids": [person.pk]}, follow=True)
    assert "Enter a tag." in response.content.decode()
    response = client.post(url, {"action": "release", "next": "https://evil.example/"}, follow=True)
    assert "Select at least one record." in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("customers:person-list")
    person.refresh_from_db()
    assert person.owner == rep


def test_bulk_on_accounts(client: Client, admin_user: User, rep: User) -> None:
    accounts = [AccountFactory.create(actor=admin_user, name=f"A{i}") for i in range(2)]
    _login(client, admin_user)
    response = client.post(
        reverse("customers:account-bulk"),
        {"action": "assign", "owner": rep.pk, "ids": [a.pk for a in accounts]},
        follow=True,
    )
    assert f"Assigned 2 accounts to {rep}." in response.content.decode()


# ---------------------------------------------------------------------------------------------
# Search, filters, sorting, paging


def test_search_by_two_chinese_characters_phone_tail_and_email_part(client: Client, rep: User) -> None:
    target = PersonFactory.create(
        actor=rep, family_name="欧阳", given_name="娜娜", emails=["nana.ouyang@acme-corp.com"], phones=["13812345678"]
    )
    PersonFactory.create(actor=rep, family_name="王", given_name="小明", emails=["xm@other.cn"], phones=["13900001111"])
    _login(client, rep)
    url = reverse("customers:person-list")
    for query in ("欧娜", "阳娜", "5678", "acme-corp", "nana.ouyang"):
        assert _names(client.get(url, {"q": query})) == [target.full_name], query
    response = client.get(url, {"q": "不存在的人"})
    assert _names(response) == []
    assert "No contacts match these filters." in response.content.decode()


def test_empty_state(client: Client, rep: User) -> None:
    _login(client, rep)
    html = client.get(reverse("customers:person-list")).content.decode()
    assert "No contacts yet" in html
    assert reverse("customers:person-create") in html


def test_filters(client: Client, rep: User, admin_user: User) -> None:
    AttributeDefinition.objects.create(
        target="account", key="region", label="Region", data_type="choice", choices=["north", "south"]
    )
    a = AccountFactory.create(
        actor=rep, name="North Co", market_segment="enterprise", tags=["VIP"], attributes={"region": "north"}
    )
    b = AccountFactory.create(actor=rep, name="South Co", kind="distributor", attributes={"region": "south"})
    services.set_lifecycle_stage(rep, b, "active")
    pool = AccountFactory.create(actor=admin_user, name="Pool Co")
    _login(client, rep)
    url = reverse("customers:account-list")
    assert _names(client.get(url, {"tag": "VIP"})) == [a.name]
    assert _names(client.get(url, {"stage": "active"})) == [b.name]
    assert _names(client.get(url, {"market_segment": "enterprise"})) == [a.name]
    assert _names(client.get(url, {"kind": "distributor"})) == [b.name]
    assert _names(client.get(url, {"owner": "pool"})) == [pool.name]
    assert _names(client.get(url, {"owner": "me"})) == [a.name, b.name]
    assert _names(client.get(url, {"attr.region": "south"})) == [b.name]
    html = client.get(url).content.decode()
    assert 'name="attr.region"' in html
    assert "Shared pool" in html


def test_sorting_and_cursor_paging(client: Client, rep: User) -> None:
    for i in range(30):
        PersonFactory.create(actor=rep, family_name=f"Name{i:02d}", given_name="")
    _login(client, rep)
    url = reverse("customers:person-list")
    first = client.get(url)
    names = _names(first)
    assert names == [f"Name{i:02d}" for i in range(25)]
    html = first.content.decode()
    assert "1–25 of 30" in html
    next_url = re.search(r'href="([^"]+)" rel="next"|rel="next" href="([^"]+)"', html)
    assert next_url is not None
    link = (next_url.group(1) or next_url.group(2)).replace("&amp;", "&")
    second = client.get(url + link)
    assert _names(second) == [f"Name{i:02d}" for i in range(25, 30)]
    html = second.content.decode()
    assert "26–30 of 30" in html
    assert 'rel="next"' not in html
    prev = re.search(r'rel="prev" href="([^"]+)"', html)
    assert prev is not None
    back = client.get(url + prev.group(1).replace("&amp;", "&"))
    assert _names(back) == [f"Name{i:02d}" for i in range(25)]

    descending = client.get(url, {"ordering": "-full_name"})
    assert _names(descending)[:2] == ["Name29", "Name28"]
    assert client.get(url, {"ordering": "password"}).status_code == 200  # unknown ordering falls back
    assert _names(client.get(url, {"cursor": "garbage"}))[0] == "Name00"  # a bad cursor shows page one


@pytest.mark.parametrize("rows", [5, 30])
def test_person_list_query_count_is_fixed(
    client: Client, rep: User, rows: int, django_assert_num_queries: object
) -> None:
    AttributeDefinition.objects.create(target="person", key="vip", label="VIP", data_type="text")
    for i in range(rows):
        PersonFactory.create(actor=rep, family_name=f"P{i}", emails=[f"p{i}@example.com"], phones=["13812345678"])
    _login(client, rep)
    url = reverse("customers:person-list")
    client.get(url)  # warm the session and content type caches
    with django_assert_num_queries(11 + branch_keys(2)):  # type: ignore[operator]
        response = client.get(url, {"tag": "", "q": ""})
    assert response.status_code == 200


@pytest.mark.parametrize("rows", [5, 30])
def test_account_list_query_count_is_fixed(
    client: Client, rep: User, rows: int, django_assert_num_queries: object
) -> None:
    for i in range(rows):
        AccountFactory.create(actor=rep, name=f"A{i}", tags=["VIP"])
    _login(client, rep)
    url = reverse("customers:account-list")
    client.get(url)
    with django_assert_num_queries(8 + branch_keys(2)):  # type: ignore[operator]
        response = client.get(url)
    assert response.status_code == 200


def test_home_dashboard(client: Client, rep: User, admin_user: User) -> None:
    PersonFactory.create(actor=rep)
    PersonFactory.create(actor=admin_user)
    _login(client, rep)
    response = client.get(reverse("web:home"))
    assert response.status_code == 200
    people = response.context["people"]
    assert (people["total"], people["mine"], people["pool"]) == (2, 1, 1)
    assert {s["value"]: s["count"] for s in people["stages"]}["prospect"] == 2


# ---------------------------------------------------------------------------------------------
# Language


@pytest.fixture
def compiled_translations() -> Iterator[None]:
    """Build the .mo files (as `make test` does) and drop cached catalogues so they are read."""
    call_command("compile_translations", verbosity=0)
    with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):
        yield
    translation.activate(settings.LANGUAGE_CODE)


def test_language_switch_renders_chinese(client: Client, rep: User, compiled_translations: None) -> None:
    _login(client, rep)
    assert "Contacts" in client.get(reverse("customers:person-list")).content.decode()
    response = client.post(reverse("staff:set-language"), {"language": "zh-hans", "next": "/people/"})
    assert response.status_code == 302
    assert response["Location"] == "/people/"
    rep.refresh_from_db()
    assert rep.language == "zh-hans"
    html = client.get(reverse("customers:person-list")).content.decode()
    assert "联系人" in html
    assert "公海" in html
    assert 'lang="zh-hans"' in html
    html = client.get(reverse("customers:account-list")).content.decode()
    assert "企业客户" in html
    client.post(reverse("staff:set-language"), {"language": "en", "next": "/people/"})
    assert "Contacts" in client.get(reverse("customers:person-list")).content.decode()


def test_list_shows_phones_the_way_people_dial_them(client: Client, rep: User) -> None:
    PersonFactory.create(actor=rep, phones=["13812345678"])
    response = _login(client, rep).get(reverse("customers:person-list"))
    assert "+86 138 1234 5678" in response.content.decode()


def test_blank_choices_are_translated(client: Client, rep: User) -> None:
    call_command("compile_translations", verbosity=0)
    rep.language = "zh-hans"
    rep.save(update_fields=["language"])
    page = _login(client, rep).get(reverse("customers:person-create")).content.decode()
    assert "- 请选择 -" in page
    assert "Select an option" not in page
