"""Follow-up records and completed tasks on a customer's timeline.

A follow-up record shows who started the contact (us or the customer) and, for the customer's,
how long we took to answer, because a timeline that only lists what *we* did hides what we
owe. An account's timeline includes its people's follow-ups and those on its deals, as its
follow-up panel does. One query per kind and page, through the follow-up visibility rules.
"""

from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.activities import queries
from guanxi.activities.models import Activity, Initiator, TaskStatus
from guanxi.activities.templatetags.follow_up import duration
from guanxi.core.timeline import Batch, Entry, Window, register_source
from guanxi.customers.models import Account, Person, Role
from guanxi.staff.models import User

KINDS = (("activity", gettext_lazy("Follow-up records")), ("task", gettext_lazy("Completed tasks")))


def related_q(record: Account | Person) -> Q:
    """Follow-ups on the record and on related records: an account's people and deals, a person's deals."""
    if isinstance(record, Account):
        people = Role.objects.filter(account=record).values("person_id")
        return Q(account=record) | Q(person_id__in=people) | Q(opportunity__account=record)
    return Q(person=record) | Q(opportunity__person=record)


def _activity_detail(activity: Activity) -> str:
    parts = []
    if activity.initiated_by == Initiator.CUSTOMER:
        if activity.response_time is not None:
            parts.append(
                _("Started by the customer · answered after %(time)s") % {"time": duration(activity.response_time)}
            )
        else:
            parts.append(_("Started by the customer · not answered yet"))
    if activity.outcome:
        parts.append(_("Outcome: %(outcome)s") % {"outcome": activity.outcome})
    if activity.next_step:
        parts.append(_("Next step: %(step)s") % {"step": activity.next_step})
    return " · ".join(parts)


def source(request: HttpRequest, record: object, window: Window) -> Batch:
    user = request.user
    if not isinstance(user, User) or not isinstance(record, Account | Person):
        return Batch([], False)
    entries: list[Entry] = []
    more = False
    if window.wants("activity"):
        rows = list(
            window.bound(queries.visible_activities(user).filter(related_q(record)), "occurred_at").select_related(
                "owner"
            )[: window.fetch]
        )
        more = len(rows) >= window.fetch
        for activity in rows:
            unanswered = activity.initiated_by == Initiator.CUSTOMER and activity.answered_at is None
            entries.append(
                Entry(
                    at=activity.occurred_at,
                    kind="activity",
                    key=f"activity:{activity.pk}",
                    title=f"{activity.get_kind_display()} · {activity.subject}",
                    detail=_activity_detail(activity),
                    who=str(activity.owner) if activity.owner else _("System"),
                    tone="warn" if unanswered else ("inbound" if activity.initiated_by == Initiator.CUSTOMER else ""),
                )
            )
    if window.wants("task"):
        field = "account" if isinstance(record, Account) else "person"
        tasks = list(
            window.bound(
                queries.visible_tasks(user).filter(
                    **{field: record}, status=TaskStatus.DONE, completed_at__isnull=False
                ),
                "completed_at",
            ).select_related("assignee")[: window.fetch]
        )
        more = more or len(tasks) >= window.fetch
        for task in tasks:
            entries.append(
                Entry(
                    at=task.completed_at or task.due_at,
                    kind="task",
                    key=f"task:{task.pk}",
                    title=_("Task done: %(title)s") % {"title": task.title},
                    detail=_("was due %(due)s") % {"due": timezone.localtime(task.due_at).strftime("%Y-%m-%d")},
                    url=reverse("activities:task-detail", args=[task.pk]),
                    who=str(task.assignee) if task.assignee else "",
                )
            )
    return Batch(entries, more)


def register() -> None:
    for record_type in ("customers.person", "customers.account"):
        register_source(record_type, "activities.follow-up", source, kinds=KINDS)
