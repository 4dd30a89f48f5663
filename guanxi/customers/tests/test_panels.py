"""Panels registered by other apps appear on customer pages, rendered for the record shown."""

from collections.abc import Iterator

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape, format_html

from guanxi.core import panels
from guanxi.customers.models import Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import User


@pytest.fixture
def registered() -> Iterator[None]:
    saved = {k: dict(v) for k, v in panels._panels.items()}

    def person_panel(request: HttpRequest, record: object) -> str:
        assert isinstance(record, Person)
        return format_html('<section id="probe">{} for {}</section>', record.full_name, request.user)

    def empty_panel(request: HttpRequest, record: object) -> str:
        return ""

    panels.register_panel("customers.person", "probe", person_panel, order=5)
    panels.register_panel("customers.person", "empty", empty_panel, order=1)
    yield
    panels._panels.clear()
    panels._panels.update(saved)


def test_person_page_renders_registered_panels_escaped(client: Client, rep: User, registered: None) -> None:
    person = PersonFactory.create(actor=rep, family_name="<b>王", given_name="芳")
    client.force_login(rep)
    html = client.get(reverse("customers:person-detail", args=[person.pk])).content.decode()
    assert f'<section id="probe">{escape(person.full_name)} for {rep}</section>' in html


def test_account_page_shows_only_its_own_record_types_panels(client: Client, rep: User, registered: None) -> None:
    account = AccountFactory.create(actor=rep, name="Acme")
    client.force_login(rep)
    html = client.get(reverse("customers:account-detail", args=[account.pk])).content.decode()
    assert 'id="probe"' not in html


def test_panels_are_ordered_and_replaced_by_key(registered: None) -> None:
    panels.register_panel("customers.person", "probe", lambda request, record: "again", order=0)
    ours = [p.key for p in panels.panels_for("customers.person") if p.key in {"probe", "empty"}]
    assert ours == ["probe", "empty"]
