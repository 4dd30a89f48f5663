"""The relationship-health panel: what we owe this customer, not only what they did.

Near the top of an account's or contact's page it answers the questions a rep should ask before
calling: has our follow-up plan slipped, and by how many days; which of our tasks for them are
overdue; who last reached out to whom, and how long the customer waited for our answer (or is
still waiting); which of their issues are open; and what they told us about how to reach them
(consent per purpose and channel, preferred channel and language).

Every figure is one set-based query (six per page). Open issues are, today, the contacts the
customer started that nobody has answered (follow-up records have no complaint kind yet); the
service desk's tickets will add theirs through `register_issue_source`.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from guanxi.activities import queries
from guanxi.activities.models import Activity, FollowUpPlan, Initiator, Task, TaskStatus
from guanxi.activities.timeline import related_q
from guanxi.customers import queries as customer_queries
from guanxi.customers.models import Account, Channel, ConsentPurpose, Person
from guanxi.staff.models import User

SHOWN = 5


@dataclass(frozen=True)
class Issue:
    """Something the customer raised that is not settled yet."""

    title: str
    since: datetime.datetime
    url: str = ""
    kind: str = ""


#: Returns a customer's open issues visible to `user`; tickets register one when they arrive.
IssueSource = Callable[[User, Account | Person], list[Issue]]
ISSUE_SOURCES: list[IssueSource] = []


def register_issue_source(source: IssueSource) -> None:
    if source not in ISSUE_SOURCES:
        ISSUE_SOURCES.append(source)


@dataclass
class PlanState:
    interval_days: int
    last_contact: datetime.datetime | None
    due: datetime.datetime
    slipped_days: int  # 0 when not slipped

    @property
    def slipped(self) -> bool:
        return self.slipped_days > 0


@dataclass
class Health:
    plan: PlanState | None
    overdue_tasks: list[Task]
    overdue_more: bool
    last_by_customer: Activity | None
    last_by_us: Activity | None
    unanswered: list[Activity]
    issues: list[Issue]
    consents: list[dict[str, Any]] = field(default_factory=list)
    preferred_channel: str = ""
    preferred_language: str = ""
    preferences: str = ""

    @property
    def needs_attention(self) -> bool:
        return bool((self.plan and self.plan.slipped) or self.overdue_tasks or self.unanswered or self.issues)


def plan_state(record: Account | Person, now: datetime.datetime) -> PlanState | None:
    """The follow-up plan of the record's grade and how far it has slipped (the rule of `slipped_q`)."""
    if not record.grade:
        return None
    interval = (
        FollowUpPlan.objects.filter(grade=record.grade, is_active=True).values_list("interval_days", flat=True).first()
    )
    if interval is None:
        return None
    since = record.last_follow_up_at or record.owned_since or record.created_at
    due = since + datetime.timedelta(days=interval)
    # Whole days past due, but at least one: a plan due this morning has slipped today.
    slipped = max(1, (now - due).days) if now > due else 0
    return PlanState(interval_days=interval, last_contact=record.last_follow_up_at, due=due, slipped_days=slipped)


def _consents(person: Person) -> list[dict[str, Any]]:
    state = customer_queries.consent_state(person)
    purposes, channels = dict(ConsentPurpose.choices), dict(Channel.choices)
    return [
        {
            "purpose": purposes.get(purpose, purpose),
            "channel": channels.get(channel, channel),
            "granted": record.granted,
            "at": record.recorded_at,
        }
        for (purpose, channel), record in sorted(state.items())
    ]


def health_of(user: User, record: Account | Person, now: datetime.datetime | None = None) -> Health:
    now = now or timezone.now()
    field_name = "account" if isinstance(record, Account) else "person"
    overdue = list(
        queries.visible_tasks(user)
        .filter(**{field_name: record}, status=TaskStatus.OPEN, due_at__lt=now)
        .select_related("assignee")
        .order_by("due_at", "id")[: SHOWN + 1]
    )
    contacts = queries.visible_activities(user).filter(related_q(record)).select_related("owner")
    last_by_customer = contacts.filter(initiated_by=Initiator.CUSTOMER).order_by("-occurred_at", "-id").first()
    last_by_us = contacts.filter(initiated_by=Initiator.US).order_by("-occurred_at", "-id").first()
    unanswered = list(
        contacts.filter(initiated_by=Initiator.CUSTOMER, answered_at__isnull=True).order_by("occurred_at", "id")[:SHOWN]
    )
    issues = [issue for source in ISSUE_SOURCES for issue in source(user, record)]
    health = Health(
        plan=plan_state(record, now),
        overdue_tasks=overdue[:SHOWN],
        overdue_more=len(overdue) > SHOWN,
        last_by_customer=last_by_customer,
        last_by_us=last_by_us,
        unanswered=unanswered,
        issues=sorted(issues, key=lambda i: i.since),
    )
    if isinstance(record, Person):
        health.consents = _consents(record)
        health.preferred_channel = record.get_preferred_channel_display() if record.preferred_channel else ""
        health.preferred_language = record.get_preferred_language_display() if record.preferred_language else ""
        health.preferences = record.preferences
    return health


def render_panel(request: HttpRequest, record: object) -> SafeString | str:
    """The panel on account and contact pages; the page has already checked the record is visible."""
    user = request.user
    if not isinstance(user, User) or not isinstance(record, Account | Person):
        return ""
    now = timezone.now()
    health = health_of(user, record, now)
    field_name = "account" if isinstance(record, Account) else "person"
    return render_to_string(
        "activities/_relationship_panel.html",
        {
            "record": record,
            "is_person": isinstance(record, Person),
            "health": health,
            "now": now,
            "tasks_url": f"{reverse('activities:task-list')}?due=overdue",
            "log_url": f"{reverse('activities:log')}?{urlencode({field_name: record.pk, 'next': record_path(record)})}",
        },
        request=request,
    )


def record_path(record: Account | Person) -> str:
    name = "customers:account-detail" if isinstance(record, Account) else "customers:person-detail"
    return reverse(name, args=[record.pk])
