from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from guanxi.activities import queries, services
from guanxi.activities.models import (
    Activity,
    FollowUpPlan,
    Initiator,
    Reminder,
    ReminderKind,
    Task,
    TaskOrigin,
    TaskStatus,
)
from guanxi.activities.tests.factories import TaskFactory
from guanxi.core.history import history_for
from guanxi.customers.models import Account, Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.leads.models import Lead
from guanxi.sales.models import Opportunity, Stage
from guanxi.staff.models import Team, User

pytestmark = pytest.mark.django_db


def _graded(person: Person, grade: str) -> Person:
    """A person's grade is not (yet) writable through `create_person`; set it directly."""
    Person.objects.filter(pk=person.pk).update(grade=grade)
    person.grade = grade
    return person


def test_logging_a_call_advances_follow_up_and_plans_the_next_task(rep: User, plans: dict[str, FollowUpPlan]) -> None:
    person = _graded(PersonFactory.create(actor=rep, owner=rep), "A")
    at = timezone.now() - timedelta(hours=2)
    activity = services.log_activity(rep, {"kind": "call", "subject": "Intro call", "occurred_at": at}, person=person)
    person.refresh_from_db()
    assert person.last_follow_up_at == at
    task = Task.objects.get(person=person)
    assert (task.origin, task.status, task.assignee, task.activity) == (TaskOrigin.PLAN, TaskStatus.OPEN, rep, activity)
    assert task.due_at == at + timedelta(days=3)
    assert [entry.action for entry in history_for(activity)] == ["create"]


def test_next_follow_up_closes_the_previous_plan_task_but_not_manual_ones(
    rep: User, plans: dict[str, FollowUpPlan]
) -> None:
    person = _graded(PersonFactory.create(actor=rep, owner=rep), "B")
    manual = TaskFactory.create(actor=rep, title="Send brochure", person=person)
    first = services.log_activity(
        rep, {"subject": "one", "occurred_at": timezone.now() - timedelta(days=1)}, person=person
    )
    second = services.log_activity(rep, {"subject": "two"}, person=person)
    plan_tasks = Task.objects.filter(person=person, origin=TaskOrigin.PLAN).order_by("pk")
    assert [(t.activity_id, t.status) for t in plan_tasks] == [(first.pk, "done"), (second.pk, "open")]
    assert plan_tasks[1].due_at == second.occurred_at + timedelta(days=7)
    manual.refresh_from_db()
    assert manual.status == TaskStatus.OPEN


def test_a_grade_without_a_plan_gets_no_task(rep: User, plans: dict[str, FollowUpPlan]) -> None:
    person = _graded(PersonFactory.create(actor=rep, owner=rep), "D")
    services.log_activity(rep, {"subject": "hello"}, person=person)
    assert not Task.objects.filter(person=person).exists()


def test_a_late_entry_does_not_move_the_last_follow_up_back(rep: User) -> None:
    person = PersonFactory.create(actor=rep, owner=rep)
    now = timezone.now()
    services.log_activity(rep, {"subject": "today", "occurred_at": now}, person=person)
    services.log_activity(rep, {"subject": "last week", "occurred_at": now - timedelta(days=7)}, person=person)
    person.refresh_from_db()
    assert person.last_follow_up_at == now


def test_an_account_contact_is_planned_once_on_the_account(rep: User, plans: dict[str, FollowUpPlan]) -> None:
    account = AccountFactory.create(actor=rep, owner=rep, grade="C")
    person = _graded(PersonFactory.create(actor=rep, owner=rep), "A")
    at = timezone.now()
    services.log_activity(rep, {"subject": "visit", "kind": "visit", "occurred_at": at}, account=account, person=person)
    task = Task.objects.get()
    assert (task.account_id, task.person_id) == (account.pk, None)
    account.refresh_from_db()
    person.refresh_from_db()
    assert account.last_follow_up_at == person.last_follow_up_at == at


def test_a_deal_follow_up_counts_for_its_account(rep: User, stage: Stage) -> None:
    account = AccountFactory.create(actor=rep, owner=rep)
    deal = Opportunity.objects.create(name="Deal", account=account, pipeline=stage.pipeline, stage=stage, owner=rep)
    at = timezone.now()
    services.log_activity(rep, {"subject": "pricing", "occurred_at": at}, opportunity=deal)
    account.refresh_from_db()
    assert account.last_follow_up_at == at


def test_a_lead_follow_up_is_counted_on_the_lead(rep: User) -> None:
    lead = Lead.objects.create(full_name="李雷", owner=rep)
    at = timezone.now()
    services.log_activity(rep, {"subject": "first call", "occurred_at": at}, lead=lead)
    services.log_activity(rep, {"subject": "second call", "occurred_at": at}, lead=lead)
    lead.refresh_from_db()
    assert (lead.activity_count, lead.last_activity_at) == (2, at)


def test_response_time_is_kept_for_contacts_the_customer_started(rep: User) -> None:
    person = PersonFactory.create(actor=rep, owner=rep)
    asked = timezone.now() - timedelta(hours=5)
    activity = services.log_activity(
        rep,
        {
            "subject": "price question",
            "initiated_by": Initiator.CUSTOMER,
            "occurred_at": asked,
            "answered_at": asked + timedelta(minutes=90),
        },
        person=person,
    )
    assert activity.response_time == timedelta(minutes=90)
    ours = services.log_activity(rep, {"subject": "our call", "occurred_at": asked}, person=person)
    assert ours.response_time is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"initiated_by": "us", "answered_at_offset": 1}, "answered_at"),
        ({"initiated_by": "customer", "answered_at_offset": -1}, "answered_at"),
        ({"occurred_at_offset": 1}, "occurred_at"),
        ({"subject": ""}, "subject"),
        ({"kind": "fax"}, "kind"),
    ],
)
def test_invalid_follow_ups_are_refused_by_field(rep: User, data: dict[str, object], field: str) -> None:
    person = PersonFactory.create(actor=rep, owner=rep)
    now = timezone.now()
    values: dict[str, object] = {"subject": "x", "occurred_at": now - timedelta(hours=3)}
    for key, value in data.items():
        if key == "answered_at_offset":
            values["answered_at"] = now - timedelta(hours=3) + timedelta(hours=int(value))  # type: ignore[call-overload]  # test table of ints
        elif key == "occurred_at_offset":
            values["occurred_at"] = now + timedelta(days=int(value))  # type: ignore[call-overload]  # test table of ints
        else:
            values[key] = value
    with pytest.raises(ValidationError) as error:
        services.log_activity(rep, values, person=person)
    assert field in error.value.message_dict
    assert not Activity.objects.exists()


def test_a_follow_up_needs_a_visible_record(rep: User, other_rep: User) -> None:
    with pytest.raises(ValidationError):
        services.log_activity(rep, {"subject": "nobody"})
    theirs = PersonFactory.create(actor=other_rep, owner=other_rep)
    with pytest.raises(PermissionDenied):
        services.log_activity(rep, {"subject": "not mine"}, person=theirs)
    pool = PersonFactory.create(actor=rep)
    assert services.log_activity(rep, {"subject": "pool customer"}, person=pool).person == pool


def test_slipped_plans_are_the_owners_customers_past_their_interval(
    rep: User, other_rep: User, plans: dict[str, FollowUpPlan]
) -> None:
    now = timezone.now()
    slipped = _graded(PersonFactory.create(actor=rep, owner=rep), "A")
    fresh = _graded(PersonFactory.create(actor=rep, owner=rep), "A")
    no_plan = _graded(PersonFactory.create(actor=rep, owner=rep), "D")
    theirs = _graded(PersonFactory.create(actor=other_rep, owner=other_rep), "A")
    Person.objects.filter(pk__in=[slipped.pk, no_plan.pk, theirs.pk]).update(last_follow_up_at=now - timedelta(days=4))
    Person.objects.filter(pk=fresh.pk).update(last_follow_up_at=now - timedelta(days=2))
    account = AccountFactory.create(actor=rep, owner=rep, grade="C")
    Account.objects.filter(pk=account.pk).update(
        created_at=now - timedelta(days=40), owned_since=now - timedelta(days=31)
    )
    accounts, people, _plans = queries.slipped_customers(rep, now)
    assert [p.pk for p in people] == [slipped.pk]
    assert [a.pk for a in accounts] == [account.pk]


def test_tasks_are_assigned_within_the_rules(rep: User, other_rep: User, outside_rep: User, manager: User) -> None:
    due = timezone.now() + timedelta(days=1)
    own = services.create_task(rep, {"title": "Call back", "due_at": due})
    assert own.assignee == rep
    with pytest.raises(ValidationError) as error:
        services.create_task(rep, {"title": "For a colleague", "due_at": due, "assignee": other_rep})
    assert "assignee" in error.value.message_dict
    assert services.create_task(manager, {"title": "Delegate", "due_at": due, "assignee": rep}).assignee == rep
    with pytest.raises(ValidationError):
        services.create_task(manager, {"title": "Outside", "due_at": due, "assignee": outside_rep})
    with pytest.raises(PermissionDenied):
        services.complete_task(other_rep, own)
    done = services.complete_task(rep, own)
    assert done.status == TaskStatus.DONE
    assert done.completed_at is not None
    assert next(e.changes for e in history_for(done)) == {"status": ["open", "done"]}


def test_bulk_task_actions_touch_only_editable_open_tasks(rep: User, other_rep: User, manager: User) -> None:
    mine = [TaskFactory.create(actor=rep) for _ in range(2)]
    theirs = TaskFactory.create(actor=other_rep)
    already = services.complete_task(rep, TaskFactory.create(actor=rep))
    ids = [t.pk for t in [*mine, theirs, already]]
    assert services.bulk_update_tasks(rep, ids, "complete") == 2
    assert Task.objects.get(pk=theirs.pk).status == TaskStatus.OPEN
    assert services.bulk_update_tasks(manager, [theirs.pk], "reassign", assignee=rep) == 1
    assert Task.objects.get(pk=theirs.pk).assignee == rep
    with pytest.raises(ValidationError):
        services.bulk_update_tasks(rep, ids, "explode")


def test_snooze_moves_due_time_and_rearms_the_reminder(rep: User) -> None:
    now = timezone.now()
    task = TaskFactory.create(actor=rep, due_at=now - timedelta(hours=1), remind_at=now - timedelta(hours=2))
    assert services.send_task_reminders(now) == 1
    assert services.send_task_reminders(now) == 0
    until = now + timedelta(days=1)
    task = services.snooze_task(rep, task, until)
    assert (task.due_at, task.remind_at, task.reminded_at) == (until, until, None)
    with pytest.raises(ValidationError):
        services.snooze_task(rep, task, now - timedelta(minutes=1))
    assert services.send_task_reminders(until) == 1
    reminders = Reminder.objects.filter(user=rep, kind=ReminderKind.TASK)
    assert reminders.count() == 2
    assert services.mark_reminders_read(rep) == 2
    assert queries.unread_reminders(rep, until).count() == 0


def test_only_admins_change_plans_scripts_and_pool_rules(admin_user: User, rep: User, team: Team) -> None:
    with pytest.raises(PermissionDenied):
        services.save_plan(rep, "A", 3)
    with pytest.raises(PermissionDenied):
        services.update_pool_rules(rep, team, {"reclaim_after_days_without_follow_up": 30})
    with pytest.raises(PermissionDenied):
        services.save_talk_script(rep, {"title": "t", "body": "b"})
    plan = services.save_plan(admin_user, "A", 3)
    assert plan is not None
    assert plan.interval_days == 3
    services.save_plan(admin_user, "A", 5)
    assert FollowUpPlan.objects.get(grade="A").interval_days == 5
    assert services.save_plan(admin_user, "A", None) is None
    assert not FollowUpPlan.objects.exists()
    with pytest.raises(ValidationError):
        services.save_plan(admin_user, "A", 0)
    team = services.update_pool_rules(
        admin_user, team, {"reclaim_after_days_without_follow_up": 30, "max_customers_per_rep": 200}
    )
    assert (team.reclaim_after_days_without_follow_up, team.max_customers_per_rep) == (30, 200)
    assert history_for(team).first().changes == {  # type: ignore[union-attr]  # one entry was just written
        "max_customers_per_rep": [None, 200],
        "reclaim_after_days_without_follow_up": [None, 30],
    }
    with pytest.raises(ValidationError) as error:
        services.update_pool_rules(admin_user, team, {"reclaim_after_days_without_win": 0})
    assert "reclaim_after_days_without_win" in error.value.message_dict


def test_talk_scripts_match_kind_and_stage(admin_user: User, stage: Stage) -> None:
    general = services.save_talk_script(admin_user, {"title": "Opening", "body": "Hello"})
    calls = services.save_talk_script(admin_user, {"title": "Call", "body": "…", "kind": "call"})
    at_stage = services.save_talk_script(admin_user, {"title": "Proposal", "body": "…", "stage": stage})
    services.save_talk_script(admin_user, {"title": "Visit", "body": "…", "kind": "visit"})
    assert set(queries.scripts_for("call", None)) == {general, calls}
    assert set(queries.scripts_for("call", stage.pk)) == {general, calls, at_stage}
