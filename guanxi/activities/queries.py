"""Reads of follow-up records, tasks and reminders that apply visibility (`staff.access`).

A follow-up record is visible to whoever may see one of the records it is about, or who logged
it; a task to whoever may see its assignee's records (own, unassigned, managed teams').
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from guanxi.activities.models import Activity, FollowUpPlan, Reminder, TalkScript, Task, TaskStatus
from guanxi.customers.models import Account, Person
from guanxi.staff import access
from guanxi.staff.models import User

TASK_ORDERING = ("due_at", "created_at")
ACTIVITY_ORDERING = ("occurred_at",)


def _target_q(user: User, field: str, team_field: str | None = None) -> Q:
    """Rows whose `field` is set and visible: a pool branch must not match rows without that target."""
    full_team = f"{field}__{team_field}" if team_field else None
    return Q(**{f"{field}__isnull": False}) & access.visible_q(
        user, owner_field=f"{field}__owner", team_field=full_team
    )


def activity_visible_q(user: User) -> Q:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    if not access.visible_branches(user, owner_field="owner"):
        return Q()  # admins and read-all roles
    return (
        Q(owner=user)
        | _target_q(user, "account", "team")
        | _target_q(user, "person")
        | _target_q(user, "lead", "team")
        | _target_q(user, "opportunity")
    )


def visible_activities(user: User) -> QuerySet[Activity]:
    return Activity.objects.filter(activity_visible_q(user))


def visible_tasks(user: User) -> QuerySet[Task]:
    return Task.objects.filter(access.visible_q(user, owner_field="assignee") | Q(created_by=user))


def editable_tasks(user: User) -> QuerySet[Task]:
    return Task.objects.filter(access.editable_q(user, owner_field="assignee") | Q(created_by=user))


def activity_rows(queryset: QuerySet[Activity]) -> QuerySet[Activity]:
    return queryset.select_related("owner", "account", "person", "lead", "opportunity")


def task_rows(queryset: QuerySet[Task]) -> QuerySet[Task]:
    return queryset.select_related("assignee", "account", "person", "lead", "opportunity")


@dataclass
class TaskFilters:
    q: str = ""
    status: str = "open"
    assignee: str = ""  # a user id, "me" or "none"
    due: str = ""  # "overdue", "today", "week" or ""
    origin: str = ""

    @classmethod
    def from_query(cls, data: Any) -> "TaskFilters":
        return cls(
            q=(data.get("q") or "").strip(),
            status=data.get("status", "open") or "",
            assignee=data.get("assignee") or "",
            due=data.get("due") or "",
            origin=data.get("origin") or "",
        )


def filter_tasks(queryset: QuerySet[Task], filters: TaskFilters, user: User, now: datetime) -> QuerySet[Task]:
    if filters.q:
        queryset = queryset.filter(title__icontains=filters.q)
    if filters.status in TaskStatus.values:
        queryset = queryset.filter(status=filters.status)
    if filters.assignee == "me":
        queryset = queryset.filter(assignee=user)
    elif filters.assignee == "none":
        queryset = queryset.filter(assignee__isnull=True)
    elif filters.assignee.isdigit():
        queryset = queryset.filter(assignee_id=int(filters.assignee))
    if filters.origin in ("plan", "manual"):
        queryset = queryset.filter(origin=filters.origin)
    day_end = end_of_day(now)
    if filters.due == "overdue":
        queryset = queryset.filter(due_at__lt=now, status=TaskStatus.OPEN)
    elif filters.due == "today":
        queryset = queryset.filter(due_at__gte=day_end - timedelta(days=1), due_at__lt=day_end)
    elif filters.due == "week":
        queryset = queryset.filter(due_at__lt=day_end + timedelta(days=6))
    return queryset


def end_of_day(now: datetime) -> datetime:
    """Midnight after `now` in the current time zone: "today" is the user's day, not UTC's."""
    local = timezone.localtime(now)
    return (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def my_day_tasks(user: User, now: datetime) -> QuerySet[Task]:
    """Open tasks assigned to `user` due before tonight's midnight: overdue and today's."""
    return task_rows(Task.objects.filter(assignee=user, status=TaskStatus.OPEN, due_at__lt=end_of_day(now))).order_by(
        "due_at", "id"
    )


def unread_reminders(user: User, now: datetime) -> QuerySet[Reminder]:
    return Reminder.objects.filter(user=user, read_at__isnull=True, due_at__lte=now).order_by("-due_at", "-id")


def active_plans() -> dict[str, int]:
    """Grade → interval in days, for active plans."""
    return dict(FollowUpPlan.objects.filter(is_active=True).values_list("grade", "interval_days"))


def slipped_q(plans: dict[str, int], now: datetime) -> Q:
    """Customers whose last contact (or, never contacted, since they were taken on) is older than their plan allows."""
    q = Q(pk__in=[])
    for grade, days in plans.items():
        cutoff = now - timedelta(days=days)
        q |= Q(grade=grade) & (
            Q(last_follow_up_at__lt=cutoff)
            | Q(last_follow_up_at__isnull=True, owned_since__lt=cutoff)
            | Q(last_follow_up_at__isnull=True, owned_since__isnull=True, created_at__lt=cutoff)
        )
    return q


def slipped_customers(user: User, now: datetime, limit: int = 20) -> tuple[list[Account], list[Person], dict[str, int]]:
    """The user's own customers whose follow-up plan has slipped, most neglected first."""
    plans = active_plans()
    if not plans:
        return [], [], plans
    q = slipped_q(plans, now)
    accounts = list(Account.objects.filter(q, owner=user).order_by("last_follow_up_at", "id")[:limit])
    people = list(Person.objects.filter(q, owner=user).order_by("last_follow_up_at", "id")[:limit])
    return accounts, people, plans


def scripts_for(kind: str, stage_id: int | None) -> QuerySet[TalkScript]:
    """Active talk scripts for a follow-up of `kind` at an opportunity's stage (or any)."""
    stage_q = Q(stage__isnull=True) | Q(stage_id=stage_id) if stage_id else Q(stage__isnull=True)
    kind_q = Q(kind="") | Q(kind=kind) if kind else Q(kind="")
    return TalkScript.objects.filter(stage_q, kind_q, is_active=True).select_related("stage")
