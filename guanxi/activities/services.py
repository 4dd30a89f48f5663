"""Every write to follow-up records, tasks, talk scripts, follow-up plans, reminders and the teams'
pool rules. Views, the API, jobs and commands all come through here.

Each function checks permission, validates, writes and keeps history in one transaction.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.activities.models import (
    Activity,
    ActivityKind,
    FollowUpPlan,
    Initiator,
    Reminder,
    ReminderKind,
    TalkScript,
    Task,
    TaskOrigin,
    TaskStatus,
)
from guanxi.activities.queries import editable_tasks
from guanxi.core.history import bulk_record_changes, diff, record_change, snapshot
from guanxi.core.models import ChangeAction
from guanxi.customers import pool
from guanxi.customers import services as customer_services
from guanxi.customers.models import Account, Grade, Person
from guanxi.customers.pool import ReclaimWarning
from guanxi.leads import services as lead_services
from guanxi.leads.models import Lead
from guanxi.sales.models import Opportunity
from guanxi.staff import access
from guanxi.staff.models import Team, User

ACTIVITY_FIELDS = ("kind", "subject", "body", "outcome", "next_step", "initiated_by", "occurred_at", "answered_at")
TASK_FIELDS = ("title", "notes", "due_at", "remind_at", "assignee")
SCRIPT_FIELDS = ("title", "body", "stage", "kind", "is_active", "position")
POOL_RULE_FIELDS = (
    "reclaim_after_days_without_follow_up",
    "reclaim_after_days_without_win",
    "reclaim_warning_days",
    "max_customers_per_rep",
)
#: How far in the future a follow-up may be dated: clocks differ, plans do not belong here.
FUTURE_TOLERANCE = timedelta(minutes=10)


# ---------------------------------------------------------------------------------------------
# Permission helpers


def _require_active(actor: User) -> None:
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionDenied(_("Sign in first."))


def _require_settings(actor: User) -> None:
    if not access.can_manage_settings(actor):
        raise PermissionDenied(_("Only an admin may change this setting."))


def _visible(actor: User, record: Model) -> bool:
    """May `actor` see this account, person, lead or opportunity (the rules of `staff.access`)."""
    team_field = "team" if isinstance(record, Account | Lead) else None
    model = type(record)
    return bool(model._default_manager.filter(access.visible_q(actor, team_field=team_field), pk=record.pk).exists())


def _check_targets(actor: User, targets: Mapping[str, Model | None]) -> dict[str, Model]:
    present = {name: record for name, record in targets.items() if record is not None}
    if not present:
        raise ValidationError({"__all__": [_("Choose the account, contact, lead or opportunity this is about.")]})
    for record in present.values():
        if not _visible(actor, record):
            raise PermissionDenied(_("You may not see this record."))
    return present


def _check_assignee(actor: User, assignee: User | None, current: User | None = None) -> None:
    if assignee == current:
        return
    if assignee is not None and not assignee.is_active:
        raise ValidationError({"assignee": [_("This user is deactivated.")]})
    if not access.can_assign_to(actor, assignee):
        raise ValidationError({"assignee": [_("You may not assign tasks to this user.")]})


def _assign(instance: Model, data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({key: [_("Unknown field.")] for key in unknown})
    for key, value in data.items():
        setattr(instance, key, value)


def _full_clean(instance: Model, exclude: Iterable[str] = ()) -> None:
    instance.full_clean(exclude=list(exclude), validate_constraints=False)


# ---------------------------------------------------------------------------------------------
# Follow-up records


def _clean_activity(activity: Activity, now: datetime) -> None:
    errors: dict[str, list[str]] = {}
    try:
        _full_clean(activity, exclude=["owner", "account", "person", "lead", "opportunity"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if activity.occurred_at and activity.occurred_at > now + FUTURE_TOLERANCE:
        errors.setdefault("occurred_at", []).append(
            _("A follow-up record is for a contact that happened; plan one with a task.")
        )
    if activity.answered_at is not None:
        if activity.initiated_by != Initiator.CUSTOMER:
            errors.setdefault("answered_at", []).append(_("Only a contact the customer started has an answer time."))
        elif activity.occurred_at and activity.answered_at < activity.occurred_at:
            errors.setdefault("answered_at", []).append(_("We cannot answer before the customer got in touch."))
    if errors:
        raise ValidationError(errors)


def _customers_of(activity: Activity) -> tuple[Account | None, Person | None]:
    """The account and person whose last follow-up this contact advances, directly or through the deal."""
    account = activity.account
    person = activity.person
    if activity.opportunity is not None:
        account = account or activity.opportunity.account
        person = person or activity.opportunity.person
    return account, person


@transaction.atomic
def log_activity(
    actor: User,
    data: Mapping[str, Any],
    *,
    account: Account | None = None,
    person: Person | None = None,
    lead: Lead | None = None,
    opportunity: Opportunity | None = None,
) -> Activity:
    """Store a follow-up, advance the customers' and lead's last contact, and plan the next one."""
    _require_active(actor)
    _check_targets(actor, {"account": account, "person": person, "lead": lead, "opportunity": opportunity})
    now = timezone.now()
    activity = Activity(owner=actor, account=account, person=person, lead=lead, opportunity=opportunity)
    values = dict(data)
    values.setdefault("occurred_at", now)
    _assign(activity, values, ACTIVITY_FIELDS)
    _clean_activity(activity, now)
    activity.save()
    record_change(
        activity,
        actor=actor,
        action=ChangeAction.CREATE,
        changes=diff({}, snapshot(activity, ("kind", "subject", "initiated_by", "occurred_at"))),
    )
    at = activity.occurred_at
    customer_account, customer_person = _customers_of(activity)
    if customer_account is not None:
        customer_services.record_follow_up(Account, [customer_account.pk], at)
    if customer_person is not None:
        customer_services.record_follow_up(Person, [customer_person.pk], at)
    if lead is not None:
        lead_services.record_lead_activity(lead.pk, at)
    # One plan per contact: the account's when there is one (the person is a contact at it).
    planned = customer_account if customer_account is not None else customer_person
    if planned is not None:
        schedule_next_follow_up(actor, planned, activity=activity)
    return activity


def schedule_next_follow_up(
    actor: User, customer: Account | Person, *, activity: Activity | None = None
) -> Task | None:
    """Close the customer's open plan task and create the next one from the plan for its grade.

    Called inside `log_activity`'s transaction; returns None when the grade has no active plan.
    """
    customer.refresh_from_db(fields=["grade", "owner", "last_follow_up_at", "owned_since", "created_at"])
    plan = FollowUpPlan.objects.filter(grade=customer.grade, is_active=True).first() if customer.grade else None
    field = "account" if isinstance(customer, Account) else "person"
    now = timezone.now()
    previous = Task.objects.filter(origin=TaskOrigin.PLAN, status=TaskStatus.OPEN, **{field: customer})
    closed = list(previous.values_list("pk", flat=True))
    if closed:
        previous.update(status=TaskStatus.DONE, completed_at=now)
        bulk_record_changes(
            Task,
            [(pk, {"status": [TaskStatus.OPEN.value, TaskStatus.DONE.value]}) for pk in closed],
            actor=actor,
            note="closed by the next follow-up",
        )
    if plan is None:
        return None
    base = customer.last_follow_up_at or (activity.occurred_at if activity else None) or now
    assignee = customer.owner if customer.owner_id else actor
    task = Task.objects.create(
        title=_("Follow up with %(name)s") % {"name": str(customer)},
        due_at=base + timedelta(days=plan.interval_days),
        assignee=assignee,
        origin=TaskOrigin.PLAN,
        activity=activity,
        created_by=actor if getattr(actor, "pk", None) else None,
        **{field: customer},
    )
    record_change(task, actor=actor, action=ChangeAction.CREATE, changes={"due_at": [None, task.due_at.isoformat()]})
    return task


# ---------------------------------------------------------------------------------------------
# Tasks


@transaction.atomic
def create_task(
    actor: User,
    data: Mapping[str, Any],
    *,
    account: Account | None = None,
    person: Person | None = None,
    lead: Lead | None = None,
    opportunity: Opportunity | None = None,
) -> Task:
    _require_active(actor)
    targets = {"account": account, "person": person, "lead": lead, "opportunity": opportunity}
    if any(targets.values()):
        _check_targets(actor, targets)
    values = dict(data)
    values.setdefault("assignee", actor)
    _check_assignee(actor, values["assignee"])
    task = Task(created_by=actor, origin=TaskOrigin.MANUAL, **targets)
    _assign(task, values, TASK_FIELDS)
    _full_clean(task, exclude=["assignee", "account", "person", "lead", "opportunity", "activity", "created_by"])
    task.save()
    record_change(
        task, actor=actor, action=ChangeAction.CREATE, changes=diff({}, snapshot(task, ("title", "due_at", "assignee")))
    )
    return task


def _editable_task(actor: User, task: Task) -> Task:
    locked = editable_tasks(actor).select_for_update(of=("self",)).filter(pk=task.pk).first()
    if locked is None:
        raise PermissionDenied(_("You may not change this task."))
    return locked


@transaction.atomic
def update_task(actor: User, task: Task, data: Mapping[str, Any]) -> Task:
    task = _editable_task(actor, task)
    before = snapshot(task, TASK_FIELDS)
    if "assignee" in data:
        _check_assignee(actor, data["assignee"], current=task.assignee)
    _assign(task, data, TASK_FIELDS)
    if "remind_at" in data:
        task.reminded_at = None
    _full_clean(task, exclude=["assignee", "account", "person", "lead", "opportunity", "activity", "created_by"])
    task.save()
    record_change(task, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, snapshot(task, TASK_FIELDS)))
    return task


@transaction.atomic
def complete_task(actor: User, task: Task) -> Task:
    task = _editable_task(actor, task)
    if task.status == TaskStatus.DONE:
        return task
    before = task.status
    task.status = TaskStatus.DONE
    task.completed_at = timezone.now()
    task.save(update_fields=["status", "completed_at", "updated_at"])
    record_change(task, actor=actor, action=ChangeAction.UPDATE, changes={"status": [before, task.status]})
    return task


@transaction.atomic
def reopen_task(actor: User, task: Task) -> Task:
    task = _editable_task(actor, task)
    if task.status == TaskStatus.OPEN:
        return task
    before = task.status
    task.status = TaskStatus.OPEN
    task.completed_at = None
    task.save(update_fields=["status", "completed_at", "updated_at"])
    record_change(task, actor=actor, action=ChangeAction.UPDATE, changes={"status": [before, task.status]})
    return task


@transaction.atomic
def snooze_task(actor: User, task: Task, until: datetime) -> Task:
    """Move an open task's due time (and reminder) later, e.g. to tomorrow morning from My day."""
    task = _editable_task(actor, task)
    if task.status != TaskStatus.OPEN:
        raise ValidationError({"due_at": [_("Only an open task can be snoozed.")]})
    if until <= timezone.now():
        raise ValidationError({"due_at": [_("Snooze to a time in the future.")]})
    before = task.due_at
    task.due_at = until
    task.remind_at = until if task.remind_at is not None else None
    task.reminded_at = None
    task.save(update_fields=["due_at", "remind_at", "reminded_at", "updated_at"])
    record_change(
        task, actor=actor, action=ChangeAction.UPDATE, changes={"due_at": [before.isoformat(), until.isoformat()]}
    )
    return task


BULK_TASK_ACTIONS = ("complete", "cancel", "reassign")


@transaction.atomic
def bulk_update_tasks(actor: User, ids: Iterable[int], action: str, assignee: User | None = None) -> int:
    """Complete, cancel or reassign the chosen tasks the actor may change; one UPDATE, one history INSERT."""
    if action not in BULK_TASK_ACTIONS:
        raise ValidationError({"action": [_("Choose an action.")]})
    rows = list(
        editable_tasks(actor).filter(pk__in=list(ids)).select_for_update(of=("self",)).select_related("assignee")
    )
    now = timezone.now()
    entries: list[tuple[int, dict[str, list[Any]]]]
    if action == "reassign":
        _check_assignee(actor, assignee)
        label = str(assignee) if assignee else None
        entries = [
            (t.pk, {"assignee": [str(t.assignee) if t.assignee else None, label]})
            for t in rows
            if t.assignee_id != (assignee.pk if assignee else None)
        ]
        Task.objects.filter(pk__in=[pk for pk, _c in entries]).update(assignee=assignee, updated_at=now)
    else:
        status = TaskStatus.DONE if action == "complete" else TaskStatus.CANCELLED
        entries = [(t.pk, {"status": [t.status, status.value]}) for t in rows if t.status == TaskStatus.OPEN]
        Task.objects.filter(pk__in=[pk for pk, _c in entries]).update(status=status, completed_at=now, updated_at=now)
    bulk_record_changes(Task, entries, actor=actor, note=f"bulk {action}")
    return len(entries)


# ---------------------------------------------------------------------------------------------
# Reminders


def _reminder_rows(tasks: Iterable[Task], now: datetime) -> list[Reminder]:
    return [
        Reminder(
            user_id=task.assignee_id,
            kind=ReminderKind.TASK,
            text=task.title[:255],
            params={"task": task.pk},
            link=reverse("activities:task-detail", args=[task.pk]),
            due_at=task.remind_at or now,
            key=f"task:{task.pk}:{(task.remind_at or now).isoformat()}"[:100],
            task=task,
        )
        for task in tasks
        if task.assignee_id
    ]


@transaction.atomic
def send_task_reminders(now: datetime) -> int:
    """Turn open tasks whose reminder time has come into in-app reminders, once each (safe to rerun)."""
    due = list(
        Task.objects.filter(status=TaskStatus.OPEN, reminded_at__isnull=True, remind_at__lte=now)
        .select_for_update()
        .only("pk", "title", "assignee_id", "remind_at")
    )
    if not due:
        return 0
    created = Reminder.objects.bulk_create(_reminder_rows(due, now), ignore_conflicts=True)
    Task.objects.filter(pk__in=[t.pk for t in due]).update(reminded_at=now)
    return len(created)


@transaction.atomic
def mark_reminders_read(actor: User, ids: Iterable[int] | None = None) -> int:
    """Mark the actor's own reminders read (all unread ones when `ids` is None)."""
    _require_active(actor)
    rows = Reminder.objects.filter(user=actor, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())


# ---------------------------------------------------------------------------------------------
# Follow-up plans, talk scripts and pool rules (admin settings)


@transaction.atomic
def save_plan(actor: User, grade: str, interval_days: int | None, is_active: bool = True) -> FollowUpPlan | None:
    """Set how often customers of `grade` are followed up; an empty interval removes the plan."""
    _require_settings(actor)
    if grade not in Grade.values:
        raise ValidationError({"grade": [_("Choose a grade.")]})
    plan = FollowUpPlan.objects.select_for_update().filter(grade=grade).first()
    if interval_days is None:
        if plan is not None:
            record_change(
                plan, actor=actor, action=ChangeAction.DELETE, changes={"interval_days": [plan.interval_days, None]}
            )
            plan.delete()
        return None
    if interval_days < 1:
        raise ValidationError({"interval_days": [_("Follow up at least every day.")]})
    if plan is None:
        plan = FollowUpPlan.objects.create(grade=grade, interval_days=interval_days, is_active=is_active)
        record_change(plan, actor=actor, action=ChangeAction.CREATE, changes={"interval_days": [None, interval_days]})
        return plan
    before = snapshot(plan, ("interval_days", "is_active"))
    plan.interval_days, plan.is_active = interval_days, is_active
    plan.save()
    record_change(
        plan,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes=diff(before, snapshot(plan, ("interval_days", "is_active"))),
    )
    return plan


@transaction.atomic
def save_talk_script(actor: User, data: Mapping[str, Any], script: TalkScript | None = None) -> TalkScript:
    _require_settings(actor)
    creating = script is None
    script = script or TalkScript()
    before = {} if creating else snapshot(script, SCRIPT_FIELDS)
    _assign(script, data, SCRIPT_FIELDS)
    if script.kind and script.kind not in ActivityKind.values:
        raise ValidationError({"kind": [_("Choose a kind of follow-up.")]})
    _full_clean(script, exclude=["stage"])
    script.save()
    record_change(
        script,
        actor=actor,
        action=ChangeAction.CREATE if creating else ChangeAction.UPDATE,
        changes=diff(before, snapshot(script, SCRIPT_FIELDS)),
    )
    return script


@transaction.atomic
def delete_talk_script(actor: User, script: TalkScript) -> None:
    _require_settings(actor)
    record_change(script, actor=actor, action=ChangeAction.DELETE, changes={"title": [script.title, None]})
    script.delete()


@transaction.atomic
def update_pool_rules(actor: User, team: Team, data: Mapping[str, Any]) -> Team:
    """Set a team's shared-pool rules: N days without follow-up, M without a won deal, warning days, K."""
    _require_settings(actor)
    team = Team.objects.select_for_update().get(pk=team.pk)
    before = snapshot(team, POOL_RULE_FIELDS)
    _assign(team, data, POOL_RULE_FIELDS)
    errors: dict[str, list[str]] = {}
    for name in POOL_RULE_FIELDS:
        value = getattr(team, name)
        if value is not None and (not isinstance(value, int) or value < 0):
            errors[name] = [_("Enter a whole number of zero or more.")]
        elif value == 0 and name != "reclaim_warning_days":
            errors[name] = [_("Leave it empty to switch the rule off.")]
    if team.reclaim_warning_days is None:
        errors["reclaim_warning_days"] = [_("Enter a whole number of zero or more.")]
    if errors:
        raise ValidationError(errors)
    team.save(update_fields=list(POOL_RULE_FIELDS))
    record_change(team, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, snapshot(team, POOL_RULE_FIELDS)))
    return team


# ---------------------------------------------------------------------------------------------
# The shared pool's reclaim job


def notify_reclaim_warnings(now: datetime, warnings: Iterable[ReclaimWarning]) -> int:
    """One reminder per owner per day listing how many customers will return to the pool (a rerun adds none)."""
    day = timezone.localdate(now).isoformat()
    rows = [
        Reminder(
            user_id=warning.owner_id,
            kind=ReminderKind.RECLAIM_WARNING,
            params={"accounts": warning.accounts, "people": warning.people, "days": warning.days},
            link=reverse("activities:my-day"),
            due_at=now,
            key=f"reclaim-warning:{day}",
        )
        for warning in warnings
    ]
    before = Reminder.objects.filter(kind=ReminderKind.RECLAIM_WARNING, key=f"reclaim-warning:{day}").count()
    Reminder.objects.bulk_create(rows, ignore_conflicts=True)
    return Reminder.objects.filter(kind=ReminderKind.RECLAIM_WARNING, key=f"reclaim-warning:{day}").count() - before


@transaction.atomic
def run_pool_rules(now: datetime | None = None) -> dict[str, int]:
    """Reclaim neglected customers, then warn owners of the next ones; what the scheduled job runs."""
    now = now or timezone.now()
    result = pool.reclaim_neglected(now)
    warned = pool.warn_before_reclaim(now, notify_reclaim_warnings)
    return {
        "accounts": result.accounts,
        "people": result.people,
        "warned": warned,
        **{f"by_{rule}": count for rule, count in result.by_rule.items()},
    }
