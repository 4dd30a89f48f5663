"""The relationship-health panel: slipped plan, overdue tasks, who reached out last, open issues, preferences."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from guanxi.activities import relationship
from guanxi.activities.models import FollowUpPlan, Initiator
from guanxi.activities.tests.factories import ActivityFactory, TaskFactory
from guanxi.customers import services as customer_services
from guanxi.customers.models import Account, Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


def _backdate(person: Person, days: int) -> None:
    """Make the contact look taken on `days` ago and never followed up."""
    then = timezone.now() - timedelta(days=days)
    Person.objects.filter(pk=person.pk).update(created_at=then, owned_since=then, last_follow_up_at=None)
    person.refresh_from_db()


def test_plan_slipped_by_days_since_taken_on(rep: User, plans: dict[str, FollowUpPlan]) -> None:
    person = PersonFactory.create(actor=rep, grade="A")  # every 3 days
    _backdate(person, 10)

    health = relationship.health_of(rep, person)

    assert health.plan is not None
    assert health.plan.interval_days == 3
    assert health.plan.slipped_days == 7
    assert health.plan.last_contact is None
    assert health.needs_attention


def test_plan_on_time_after_a_recent_follow_up(rep: User, plans: dict[str, FollowUpPlan]) -> None:
    person = PersonFactory.create(actor=rep, grade="B")
    _backdate(person, 30)
    ActivityFactory.create(actor=rep, person=person, occurred_at=timezone.now() - timedelta(days=1))
    person.refresh_from_db()

    health = relationship.health_of(rep, person)

    assert health.plan is not None
    assert health.plan.slipped_days == 0
    assert not health.plan.slipped


def test_no_plan_for_a_grade_without_one(rep: User, plans: dict[str, FollowUpPlan]) -> None:
    person = PersonFactory.create(actor=rep, grade="D")
    assert relationship.health_of(rep, person).plan is None


def test_last_contacts_by_each_side_and_unanswered_ones(rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    now = timezone.now()
    answered = ActivityFactory.create(
        actor=rep,
        person=person,
        subject="Asked for a quote",
        initiated_by=Initiator.CUSTOMER,
        occurred_at=now - timedelta(days=5),
        answered_at=now - timedelta(days=5, hours=-3),
    )
    waiting = ActivityFactory.create(
        actor=rep,
        person=person,
        subject="Complained about delivery",
        initiated_by=Initiator.CUSTOMER,
        occurred_at=now - timedelta(days=2),
    )
    ours = ActivityFactory.create(actor=rep, person=person, subject="Checked in", occurred_at=now - timedelta(days=3))

    health = relationship.health_of(rep, person)

    assert health.last_by_customer == waiting
    assert health.last_by_us == ours
    assert health.unanswered == [waiting]
    assert answered.response_time == timedelta(hours=3)


def test_overdue_open_tasks_only(rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    now = timezone.now()
    late = TaskFactory.create(actor=rep, person=person, title="Call back", due_at=now - timedelta(days=2))
    TaskFactory.create(actor=rep, person=person, title="Next week", due_at=now + timedelta(days=7))

    health = relationship.health_of(rep, person)

    assert health.overdue_tasks == [late]
    assert not health.overdue_more


def test_stated_preferences_show_consent_in_force(rep: User) -> None:
    person = PersonFactory.create(actor=rep, preferred_channel="wechat", preferences="Mornings only")
    for granted in (True, False):
        customer_services.record_consent(
            rep, person, purpose="marketing", channel="sms", granted=granted, source="form", wording="SMS offers"
        )

    health = relationship.health_of(rep, person)

    assert health.preferred_channel == "WeChat"
    assert health.preferences == "Mornings only"
    assert [(c["channel"], c["granted"]) for c in health.consents] == [("SMS", False)]


@pytest.fixture
def ticket_source() -> Iterator[None]:
    def tickets(user: User, record: Account | Person) -> list[relationship.Issue]:
        return [relationship.Issue(title="Ticket #7: broken unit", since=timezone.now(), url="/tickets/7/")]

    relationship.register_issue_source(tickets)
    yield
    relationship.ISSUE_SOURCES.remove(tickets)


def test_issue_sources_add_open_issues(rep: User, ticket_source: None) -> None:
    person = PersonFactory.create(actor=rep)
    health = relationship.health_of(rep, person)
    assert [i.title for i in health.issues] == ["Ticket #7: broken unit"]


def test_panel_sits_at_the_top_of_the_person_page(client: Client, rep: User, plans: dict[str, FollowUpPlan]) -> None:
    person = PersonFactory.create(actor=rep, grade="A")
    _backdate(person, 5)
    ActivityFactory.create(
        actor=rep,
        person=person,
        subject="<script>x</script>",
        initiated_by=Initiator.CUSTOMER,
        occurred_at=timezone.now(),
    )
    client.force_login(rep)

    html = client.get(reverse("customers:person-detail", args=[person.pk])).content.decode()

    assert html.index('id="relationship-health"') < html.index('id="details"')
    assert "not answered yet" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>x</script>" not in html


def test_account_page_has_the_panel_without_preferences(client: Client, rep: User) -> None:
    account = AccountFactory.create(actor=rep)
    client.force_login(rep)
    html = client.get(reverse("customers:account-detail", args=[account.pk])).content.decode()
    assert 'id="relationship-health"' in html
    assert 'id="health-preferences"' not in html


def test_panel_queries_are_few_and_fixed(
    rep: User, plans: dict[str, FollowUpPlan], django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    person = PersonFactory.create(actor=rep, grade="A")
    request = RequestFactory().get("/")
    request.user = rep

    def grow() -> None:
        for n in range(3):
            ActivityFactory.create(actor=rep, person=person, initiated_by=Initiator.CUSTOMER, subject=f"Q{n}")
            TaskFactory.create(actor=rep, person=person, due_at=timezone.now() - timedelta(days=n + 1))

    grow()
    # plan, overdue tasks, last by customer, last by us, unanswered, consent state
    with django_assert_num_queries(6):
        relationship.render_panel(request, person)
    grow()
    with django_assert_num_queries(6):
        html = str(relationship.render_panel(request, person))
    assert html.count("waiting since") == 5  # the panel shows the oldest five unanswered
