"""The customer record's own entries on its timeline: changes, lifecycle moves and consent."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from guanxi.customers import services
from guanxi.customers.models import LifecycleStage
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db

ENTRY = re.compile(r'data-kind="([^"]+)" data-key="([^"]+)"')


def entries(client: Client, url: str, query: str = "") -> list[tuple[str, str]]:
    response = client.get(f"{url}?fragment=timeline&{query}")
    assert response.status_code == 200
    return ENTRY.findall(response.content.decode())


def test_person_timeline_shows_changes_lifecycle_and_consent_once_each(client: Client, rep: User) -> None:
    person = PersonFactory.create(actor=rep, family_name="李", given_name="娜")
    services.update_person(rep, person, {"notes": "Prefers mornings"})
    services.set_lifecycle_stage(rep, person, LifecycleStage.ACTIVE, reason="First order")
    services.record_consent(
        rep, person, purpose="marketing", channel="sms", granted=False, source="call", wording="No SMS"
    )
    client.force_login(rep)
    url = reverse("customers:person-detail", args=[person.pk])

    found = entries(client, url, "kind=history&kind=lifecycle&kind=consent")

    kinds = [kind for kind, _key in found]
    # Newest first: the consent, the stage move, the edit, then the creation (which also set
    # the first stage). The stage and consent changes are not repeated as field changes.
    assert kinds[:3] == ["consent", "lifecycle", "history"]
    assert sorted(kinds[3:]) == ["history", "lifecycle"]  # written in the same instant at creation
    html = client.get(f"{url}?fragment=timeline").content.decode()
    assert "Consent withdrawn: Marketing / SMS" in html
    assert "Lifecycle stage: Prospect → Active" in html
    assert "First order" in html


def test_account_timeline_has_no_consent_kind(client: Client, rep: User) -> None:
    account = AccountFactory.create(actor=rep, name="Acme")
    client.force_login(rep)
    url = reverse("customers:account-detail", args=[account.pk])
    page = client.get(url).content.decode()
    assert 'name="kind" value="history"' in page
    assert 'name="kind" value="consent"' not in page
    assert sorted(kind for kind, _key in entries(client, url)) == ["history", "lifecycle"]


def test_history_panel_stays_beside_the_timeline(client: Client, rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    client.force_login(rep)
    html = client.get(reverse("customers:person-detail", args=[person.pk])).content.decode()
    assert html.index('id="timeline"') < html.index('id="history"')


def test_a_refused_action_keeps_the_timeline_pointing_at_the_record_page(client: Client, rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    client.force_login(rep)
    response = client.post(reverse("customers:person-stage", args=[person.pk]), {"stage": "no-such-stage"})
    assert response.status_code == 400
    page = reverse("customers:person-detail", args=[person.pk])
    assert f'hx-get="{page}"' in response.content.decode()
