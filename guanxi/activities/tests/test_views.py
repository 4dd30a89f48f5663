from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from guanxi.activities import services
from guanxi.activities.models import Activity, FollowUpPlan, Reminder, ReminderKind, Task, TaskStatus
from guanxi.activities.tests.factories import ActivityFactory, TaskFactory
from guanxi.customers.models import Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.sales.models import Stage
from guanxi.staff.models import Team, User

pytestmark = pytest.mark.django_db


def test_pages_need_a_sign_in(client: Client) -> None:
    for name in ("activities:my-day", "activities:task-list", "activities:activity-list"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/") or "login" in response["Location"]


def test_settings_pages_are_for_admins_only(client: Client, rep: User, team: Team) -> None:
    client.force_login(rep)
    for url in (
        reverse("activities:plan-settings"),
        reverse("activities:script-list"),
        reverse("activities:script-create"),
        reverse("activities:pool-rules"),
        reverse("activities:pool-rules-edit", args=[team.pk]),
    ):
        assert client.get(url).status_code == 403


def test_my_day_shows_overdue_and_today_tasks_slipped_plans_and_reminders(
    client: Client,
    rep: User,
    other_rep: User,
    plans: dict[str, FollowUpPlan],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    now = timezone.now()
    overdue = TaskFactory.create(actor=rep, title="Overdue call", due_at=now - timedelta(days=1))
    later_today = TaskFactory.create(actor=rep, title="Later today", due_at=now + timedelta(minutes=5))
    TaskFactory.create(actor=rep, title="Next month", due_at=now + timedelta(days=30))
    TaskFactory.create(actor=other_rep, title="Not mine", due_at=now - timedelta(hours=1))
    slipped = PersonFactory.create(actor=rep, owner=rep, family_name="Slipped")
    Person.objects.filter(pk=slipped.pk).update(grade="A", last_follow_up_at=now - timedelta(days=5))
    Reminder.objects.create(
        user=rep, kind=ReminderKind.RECLAIM_WARNING, params={"accounts": 1, "people": 2, "days": 3}, due_at=now
    )
    client.force_login(rep)
    with django_assert_num_queries(7):
        html = client.get(reverse("activities:my-day")).content.decode()
    assert "Overdue call" in html
    assert ("Later today" in html) == (later_today.due_at < timezone.localtime(now).replace(hour=23, minute=59))
    assert "Next month" not in html
    assert "Not mine" not in html
    assert "Slipped" in html
    assert "3 of your customers will return to the shared pool within 3 days" in html
    assert f'action="{reverse("activities:task-complete", args=[overdue.pk])}"' in html


def test_completing_and_snoozing_from_my_day(client: Client, rep: User, other_rep: User) -> None:
    now = timezone.now()
    task = TaskFactory.create(actor=rep, due_at=now - timedelta(hours=1))
    client.force_login(other_rep)
    assert client.post(reverse("activities:task-complete", args=[task.pk])).status_code == 404
    client.force_login(rep)
    response = client.post(reverse("activities:task-snooze", args=[task.pk]), {"until": "week"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.due_at > now + timedelta(days=6)
    client.post(reverse("activities:task-complete", args=[task.pk]))
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE


def test_task_list_filters_pages_and_hides_other_reps_tasks(
    client: Client, rep: User, other_rep: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    person = PersonFactory.create(actor=rep, owner=rep)
    for n in range(30):
        TaskFactory.create(actor=rep, title=f"Mine {n:02}", person=person)
    TaskFactory.create(actor=other_rep, title="Theirs")
    client.force_login(rep)
    # session, user, filterable users, assignable users, the page, the capped count
    with django_assert_num_queries(6):
        response = client.get(reverse("activities:task-list"))
    html = response.content.decode()
    assert html.count('name="ids"') == 25
    assert "Theirs" not in html
    assert 'rel="next"' in html
    filtered = client.get(reverse("activities:task-list"), {"q": "Mine 07", "status": "open"}).content.decode()
    assert filtered.count('name="ids"') == 1


def test_bulk_complete_from_the_task_list(client: Client, rep: User) -> None:
    tasks = [TaskFactory.create(actor=rep) for _ in range(3)]
    client.force_login(rep)
    response = client.post(reverse("activities:task-bulk"), {"action": "complete", "ids": [tasks[0].pk, tasks[1].pk]})
    assert response.status_code == 302
    assert sorted(Task.objects.filter(status="done").values_list("pk", flat=True)) == [tasks[0].pk, tasks[1].pk]


def test_logging_from_the_person_panel_with_htmx_returns_the_panel(
    client: Client, rep: User, plans: dict[str, FollowUpPlan]
) -> None:
    person = PersonFactory.create(actor=rep, owner=rep)
    Person.objects.filter(pk=person.pk).update(grade="B")
    client.force_login(rep)
    page = client.get(reverse("customers:person-detail", args=[person.pk])).content.decode()
    assert f'id="follow-up-person-{person.pk}"' in page
    response = client.post(
        reverse("activities:log"),
        {
            "person": person.pk,
            "panel": "1",
            "kind": "call",
            "initiated_by": "customer",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "answered_at": (timezone.localtime() + timedelta(minutes=45)).strftime("%Y-%m-%dT%H:%M"),
            "subject": "Asked about <b>prices</b>",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Asked about &lt;b&gt;prices&lt;/b&gt;" in html
    assert "answered after 45 min" in html
    assert Task.objects.filter(person=person, status="open").count() == 1
    assert "Follow up with" in html


def test_a_refused_follow_up_shows_errors(client: Client, rep: User, other_rep: User) -> None:
    person = PersonFactory.create(actor=rep, owner=rep)
    client.force_login(rep)
    response = client.post(
        reverse("activities:log"),
        {"person": person.pk, "kind": "call", "initiated_by": "us", "occurred_at": "2020-01-01T10:00", "subject": ""},
    )
    assert response.status_code == 400
    assert not Activity.objects.exists()
    theirs = PersonFactory.create(actor=other_rep, owner=other_rep)
    assert client.get(reverse("activities:log"), {"person": theirs.pk}).status_code == 404


def test_account_panel_shows_follow_ups_of_its_people(client: Client, rep: User, other_rep: User) -> None:
    from guanxi.customers import services as customer_services

    account = AccountFactory.create(actor=rep, owner=rep, name="Acme")
    person = PersonFactory.create(actor=rep, owner=rep, family_name="Zhou")
    customer_services.add_role(rep, person, account, "decision_maker")
    ActivityFactory.create(actor=rep, person=person, subject="Met Zhou at the fair")
    client.force_login(rep)
    html = client.get(reverse("customers:account-detail", args=[account.pk])).content.decode()
    assert "Met Zhou at the fair" in html


def test_scripts_follow_kind_and_stage(client: Client, admin_user: User, rep: User, stage: Stage) -> None:
    services.save_talk_script(admin_user, {"title": "Call opener", "body": "Hi", "kind": "call"})
    services.save_talk_script(admin_user, {"title": "Visit agenda", "body": "Agenda", "kind": "visit"})
    client.force_login(rep)
    html = client.get(reverse("activities:scripts"), {"kind": "visit"}).content.decode()
    assert "Visit agenda" in html
    assert "Call opener" not in html


def test_admin_edits_plans_and_pool_rules(client: Client, admin_user: User, team: Team) -> None:
    client.force_login(admin_user)
    response = client.post(
        reverse("activities:plan-settings"),
        {"days_A": "3", "active_A": "on", "days_B": "7", "active_B": "on", "days_C": "", "days_D": ""},
    )
    assert response.status_code == 302
    assert dict(FollowUpPlan.objects.values_list("grade", "interval_days")) == {"A": 3, "B": 7}
    response = client.post(
        reverse("activities:pool-rules-edit", args=[team.pk]),
        {
            "reclaim_after_days_without_follow_up": "30",
            "reclaim_after_days_without_win": "",
            "reclaim_warning_days": "3",
            "max_customers_per_rep": "150",
        },
    )
    assert response.status_code == 302
    team.refresh_from_db()
    assert (
        team.reclaim_after_days_without_follow_up,
        team.reclaim_after_days_without_win,
        team.max_customers_per_rep,
    ) == (30, None, 150)
