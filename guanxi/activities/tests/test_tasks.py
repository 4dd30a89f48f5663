"""The scheduled pool-rules job: reclaims, warns each owner once a day, and is safe to rerun."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from guanxi.activities import services, tasks
from guanxi.activities.models import Reminder, ReminderKind
from guanxi.activities.tests.factories import ActivityFactory, TaskFactory
from guanxi.activities.views.records import render_panel
from guanxi.activities.views.tasks import reminder_text
from guanxi.customers.models import Person
from guanxi.customers.tests.factories import PersonFactory
from guanxi.staff.models import Team, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def ruled_team(team: Team) -> Team:
    Team.objects.filter(pk=team.pk).update(reclaim_after_days_without_follow_up=30, reclaim_warning_days=3)
    team.refresh_from_db()
    return team


def _aged(person: Person, follow_up_days: int) -> None:
    now = timezone.now()
    Person.objects.filter(pk=person.pk).update(
        created_at=now - timedelta(days=300),
        owned_since=now - timedelta(days=300),
        last_follow_up_at=now - timedelta(days=follow_up_days),
    )


def test_pool_job_reclaims_and_warns_each_owner_once_a_day(ruled_team: Team, rep: User, other_rep: User) -> None:
    gone = PersonFactory.create(actor=rep, owner=rep)
    _aged(gone, 40)
    for _ in range(2):
        _aged(PersonFactory.create(actor=rep, owner=rep), 28)
    _aged(PersonFactory.create(actor=other_rep, owner=other_rep), 10)
    result = tasks.apply_pool_rules.enqueue().return_value
    assert result == {"accounts": 0, "people": 1, "warned": 1, "by_follow_up": 1, "by_win": 0}
    assert Person.objects.get(pk=gone.pk).owner_id is None
    again = services.run_pool_rules()
    assert (again["people"], again["warned"]) == (0, 0)
    reminder = Reminder.objects.get(kind=ReminderKind.RECLAIM_WARNING)
    assert reminder.user_id == rep.pk
    assert reminder.params == {"accounts": 0, "people": 2, "days": 3}
    assert reminder_text(reminder.kind, reminder.params, reminder.text) == (
        "2 of your customers will return to the shared pool within 3 days unless you follow up."
    )


def test_pool_command_reports_what_it_did(ruled_team: Team, rep: User) -> None:
    _aged(PersonFactory.create(actor=rep, owner=rep), 45)
    out = StringIO()
    call_command("apply_pool_rules", stdout=out)
    assert out.getvalue().strip() == "reclaimed 0 accounts and 1 people; warned 0 owners"


def test_task_reminders_job_is_idempotent(rep: User) -> None:
    now = timezone.now()
    TaskFactory.create(actor=rep, due_at=now + timedelta(hours=1), remind_at=now - timedelta(minutes=1))
    assert tasks.send_task_reminders.enqueue().return_value == 1
    assert tasks.send_task_reminders.enqueue().return_value == 0


def test_task_reminders_command_for_cron(rep: User) -> None:
    now = timezone.now()
    TaskFactory.create(actor=rep, due_at=now + timedelta(hours=1), remind_at=now - timedelta(minutes=1))
    TaskFactory.create(actor=rep, due_at=now + timedelta(hours=2), remind_at=now + timedelta(hours=1))
    out = StringIO()
    call_command("send_task_reminders", stdout=out)
    assert out.getvalue().strip() == "sent 1 reminders"
    assert Reminder.objects.filter(user=rep).count() == 1


def test_person_panel_reads_in_a_fixed_number_of_queries(
    rep: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    person = PersonFactory.create(actor=rep, owner=rep)
    for n in range(5):
        ActivityFactory.create(actor=rep, person=person, subject=f"call {n}")
        TaskFactory.create(actor=rep, person=person, title=f"task {n}")
    request = RequestFactory().get(f"/people/{person.pk}/")
    request.user = rep
    # follow-ups, open tasks, talk scripts
    with django_assert_num_queries(3):
        html = str(render_panel(request, person))
    assert html.count('class="history-entry"') == 5
    assert "task 4" in html
