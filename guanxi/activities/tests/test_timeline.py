"""The unified timeline on customer pages, with every app's source registered as in production.

Lives in `activities` (the highest app whose sources it shows) so it may build follow-ups,
orders, deals and consent with their own factories.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from guanxi.activities import services as activity_services
from guanxi.activities.models import Initiator, TaskStatus
from guanxi.activities.tests.factories import ActivityFactory, TaskFactory
from guanxi.commerce import services as commerce_services
from guanxi.commerce.tests.factories import OrderFactory, ProductFactory
from guanxi.customers import services as customer_services
from guanxi.customers.models import Account, Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.sales import services as sales_services
from guanxi.sales.models import Stage, StageKind
from guanxi.sales.tests.factories import OpportunityFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db

ENTRY = re.compile(r'class="timeline-entry[^"]*" data-kind="([^"]+)" data-key="([^"]+)"')


def keys(html: str) -> list[str]:
    return [key for _kind, key in ENTRY.findall(html)]


def fragment(client: Client, record: Account | Person, query: str = "") -> str:
    name = "customers:account-detail" if isinstance(record, Account) else "customers:person-detail"
    response = client.get(f"{reverse(name, args=[record.pk])}?fragment=timeline&{query}")
    assert response.status_code == 200
    return response.content.decode()


def _customer_story(rep: User, admin_user: User, person: Person) -> dict[str, object]:
    """A follow-up, an order and its payment, a won deal, a completed task and a consent, days apart."""
    now = timezone.now()
    call = ActivityFactory.create(
        actor=rep,
        person=person,
        subject="Asked about delivery",
        initiated_by=Initiator.CUSTOMER,
        occurred_at=now - timedelta(days=6),
        answered_at=now - timedelta(days=6) + timedelta(hours=2),
    )
    order = OrderFactory.create(
        actor=admin_user,
        buyer_person=person,
        ordered_at=now - timedelta(days=5),
        lines=[{"product": ProductFactory.create(unit_price=Decimal("50")), "quantity": Decimal(2)}],
    )
    payment = commerce_services.record_payment(admin_user, order, Decimal("100"), paid_at=now - timedelta(days=4))
    task = TaskFactory.create(actor=rep, person=person, title="Send the brochure", due_at=now - timedelta(days=3))
    activity_services.complete_task(rep, task)
    deal = OpportunityFactory.create(actor=rep, person=person, name="Annual plan", amount=Decimal("900"))
    won = Stage.objects.filter(pipeline=deal.pipeline, kind=StageKind.WON).first()
    assert won is not None
    sales_services.move_opportunity(rep, deal, won)
    consent = customer_services.record_consent(
        rep, person, purpose="marketing", channel="email", granted=True, source="signup form", wording="Yes"
    )
    return {"call": call, "order": order, "payment": payment, "task": task, "deal": deal, "consent": consent}


def test_person_timeline_merges_every_app_newest_first(client: Client, rep: User, admin_user: User) -> None:
    person = PersonFactory.create(actor=rep, family_name="王", given_name="芳")
    story = _customer_story(rep, admin_user, person)
    client.force_login(rep)

    found = keys(fragment(client, person))

    positions = {key: i for i, key in enumerate(found)}
    expected_order = [
        f"consent:{story['consent'].pk}",  # type: ignore[attr-defined]
        f"opportunity-closed:{story['deal'].pk}",  # type: ignore[attr-defined]
        f"task:{story['task'].pk}",  # type: ignore[attr-defined]
        f"payment:{story['payment'].pk}",  # type: ignore[attr-defined]
        f"order:{story['order'].pk}",  # type: ignore[attr-defined]
        f"activity:{story['call'].pk}",  # type: ignore[attr-defined]
    ]
    assert all(key in positions for key in expected_order), found
    assert [positions[k] for k in expected_order] == sorted(positions[k] for k in expected_order)
    assert f"opportunity:{story['deal'].pk}" in positions  # type: ignore[attr-defined]
    assert any(key.startswith("history:") for key in found)  # the contact's creation


def test_the_page_itself_shows_the_timeline_with_filters_and_answer_times(
    client: Client, rep: User, admin_user: User
) -> None:
    person = PersonFactory.create(actor=rep)
    _customer_story(rep, admin_user, person)
    client.force_login(rep)

    html = client.get(reverse("customers:person-detail", args=[person.pk])).content.decode()

    assert 'id="timeline"' in html
    assert 'name="kind" value="order"' in html
    assert 'name="kind" value="session"' in html
    assert "Started by the customer · answered after 2 h 0 min" in html
    assert "Opportunity won: Annual plan" in html


def test_kind_and_date_filters(client: Client, rep: User, admin_user: User) -> None:
    person = PersonFactory.create(actor=rep)
    story = _customer_story(rep, admin_user, person)
    client.force_login(rep)

    only_money = keys(fragment(client, person, "kind=order&kind=payment"))
    assert only_money == [f"payment:{story['payment'].pk}", f"order:{story['order'].pk}"]  # type: ignore[attr-defined]

    day = timezone.localtime(story["order"].ordered_at).date().isoformat()  # type: ignore[attr-defined]
    that_day = keys(fragment(client, person, f"from={day}&to={day}"))
    assert that_day == [f"order:{story['order'].pk}"]  # type: ignore[attr-defined]

    empty = fragment(client, person, "kind=order&from=2001-01-01&to=2001-01-02")
    assert "Nothing on the timeline matches these filters." in empty


def test_older_entries_page_through_everything_once(client: Client, rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    now = timezone.now()
    made = [
        ActivityFactory.create(actor=rep, person=person, occurred_at=now - timedelta(hours=n)).pk for n in range(30)
    ]
    client.force_login(rep)
    url = reverse("customers:person-detail", args=[person.pk])

    seen: list[str] = []
    query = "fragment=timeline&kind=activity"
    for _ in range(5):
        html = client.get(f"{url}?{query}").content.decode()
        seen += keys(html)
        more = (
            re.search(r'hx-get="[^"?]*\?([^"]+)"', html.split("timeline-more")[-1]) if "timeline-more" in html else None
        )
        if more is None:
            break
        query = more.group(1).replace("&amp;", "&")
        assert "fragment=timeline-items" in query
    assert seen == [f"activity:{pk}" for pk in made]


def test_account_timeline_includes_its_peoples_follow_ups_the_viewer_may_see(
    client: Client, rep: User, outside_rep: User, admin_user: User
) -> None:
    account = AccountFactory.create(actor=rep, name="Acme")
    mine = PersonFactory.create(actor=rep)
    theirs = PersonFactory.create(actor=outside_rep)
    customer_services.add_role(admin_user, mine, account, "purchaser")
    customer_services.add_role(admin_user, theirs, account, "purchaser")
    visible = ActivityFactory.create(actor=rep, person=mine, subject="Mine")
    hidden = ActivityFactory.create(actor=outside_rep, person=theirs, subject="Theirs")
    order = OrderFactory.create(actor=admin_user, buyer_account=account)

    client.force_login(rep)
    as_rep = keys(fragment(client, account))
    client.force_login(admin_user)
    as_admin = keys(fragment(client, account))

    assert f"activity:{visible.pk}" in as_rep
    assert f"order:{order.pk}" in as_rep
    assert f"activity:{hidden.pk}" not in as_rep
    assert f"activity:{hidden.pk}" in as_admin


def test_a_record_the_user_may_not_see_has_no_timeline(client: Client, rep: User, outside_rep: User) -> None:
    person = PersonFactory.create(actor=outside_rep)
    client.force_login(rep)
    response = client.get(reverse("customers:person-detail", args=[person.pk]) + "?fragment=timeline")
    assert response.status_code == 404


def test_timeline_fragment_queries_do_not_grow_with_entries(
    client: Client, rep: User, admin_user: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    person = PersonFactory.create(actor=rep)
    _customer_story(rep, admin_user, person)
    client.force_login(rep)
    fragment(client, person)  # warm the session and content-type caches
    # session+user (2), person (1), history + lifecycle (2), consent (1), orders + payments (2),
    # deals created + closed + moves (3), follow-ups + tasks (2), tracking identifiers (1)
    with django_assert_num_queries(14):
        first = fragment(client, person)
    _customer_story(rep, admin_user, person)
    with django_assert_num_queries(14):
        second = fragment(client, person)
    assert len(keys(second)) > len(keys(first))


def test_completed_tasks_only(client: Client, rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    open_task = TaskFactory.create(actor=rep, person=person, title="Still open")
    done = TaskFactory.create(actor=rep, person=person, title="Finished")
    activity_services.complete_task(rep, done)
    client.force_login(rep)
    found = keys(fragment(client, person, "kind=task"))
    assert found == [f"task:{done.pk}"]
    assert open_task.status == TaskStatus.OPEN
