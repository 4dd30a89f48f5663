"""Follow-up records (Activity, UI: 跟进记录), tasks, talk scripts, follow-up plans and in-app reminders.

An activity or task points at any of account, person, lead and opportunity; those apps never
point back, so a customer page finds its follow-ups through the panels this app registers.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanxi.customers.models import Grade


class ActivityKind(models.TextChoices):
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    VISIT = "visit", _("Visit")
    EMAIL = "email", _("Email")
    NOTE = "note", _("Note")


class Initiator(models.TextChoices):
    """Who started the contact: for contacts the customer starts we measure how long we took to answer."""

    US = "us", _("Us")
    CUSTOMER = "customer", _("The customer")


class TaskStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("task status", "Open")
    DONE = "done", pgettext_lazy("task status", "Done")
    CANCELLED = "cancelled", pgettext_lazy("task status", "Cancelled")


class TaskOrigin(models.TextChoices):
    MANUAL = "manual", _("By hand")
    PLAN = "plan", _("Follow-up plan")


class ReminderKind(models.TextChoices):
    TASK = "task", _("Task due")
    RECLAIM_WARNING = "reclaim_warning", _("Reclaim warning")
    NOTE = "note", _("Note")


class Targets(models.Model):
    """The records a follow-up or task is about; any of them may be empty."""

    account = models.ForeignKey(
        "customers.Account",
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    person = models.ForeignKey(
        "customers.Person", verbose_name=_("contact"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead", verbose_name=_("lead"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    opportunity = models.ForeignKey(
        "sales.Opportunity",
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )

    class Meta:
        abstract = True

    @property
    def target(self) -> Any:
        """The most specific record this row is about, for links and labels."""
        return self.opportunity or self.lead or self.person or self.account


class Activity(Targets):
    kind = models.CharField(_("kind"), max_length=10, choices=ActivityKind.choices, default=ActivityKind.CALL)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("details"), blank=True, default="")
    outcome = models.CharField(_("outcome"), max_length=255, blank=True, default="")
    next_step = models.CharField(_("next step"), max_length=255, blank=True, default="")
    initiated_by = models.CharField(_("started by"), max_length=10, choices=Initiator.choices, default=Initiator.US)
    occurred_at = models.DateTimeField(_("when"))
    answered_at = models.DateTimeField(
        _("answered at"),
        null=True,
        blank=True,
        help_text=_("For a contact the customer started: when we answered."),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("follow-up record")
        verbose_name_plural = _("follow-up records")
        indexes = [
            models.Index(fields=["account", "-occurred_at"], name="act_activity_account_idx"),
            models.Index(fields=["person", "-occurred_at"], name="act_activity_person_idx"),
            models.Index(fields=["lead", "-occurred_at"], name="act_activity_lead_idx"),
            models.Index(fields=["opportunity", "-occurred_at"], name="act_activity_opp_idx"),
            models.Index(fields=["owner", "occurred_at", "id"], name="act_activity_owner_idx"),
            models.Index(fields=["occurred_at", "id"], name="act_activity_occurred_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(account__isnull=False)
                | Q(person__isnull=False)
                | Q(lead__isnull=False)
                | Q(opportunity__isnull=False),
                name="act_activity_has_target",
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True) | Q(answered_at__gte=models.F("occurred_at")),
                name="act_activity_answered_after",
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def response_time(self) -> timedelta | None:
        """How long a customer waited for our answer; only for contacts the customer started."""
        if self.initiated_by != Initiator.CUSTOMER or self.answered_at is None:
            return None
        return self.answered_at - self.occurred_at


class Task(Targets):
    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True, default="")
    due_at = models.DateTimeField(_("due"))
    remind_at = models.DateTimeField(_("remind me at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True, editable=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(_("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    origin = models.CharField(_("created"), max_length=10, choices=TaskOrigin.choices, default=TaskOrigin.MANUAL)
    activity = models.ForeignKey(
        Activity,
        verbose_name=_("after follow-up record"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="next_tasks",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(fields=["assignee", "status", "due_at", "id"], name="act_task_assignee_due_idx"),
            models.Index(fields=["status", "due_at", "id"], name="act_task_status_due_idx"),
            models.Index(fields=["account", "status"], name="act_task_account_idx"),
            models.Index(fields=["person", "status"], name="act_task_person_idx"),
            models.Index(fields=["lead", "status"], name="act_task_lead_idx"),
            models.Index(fields=["opportunity", "status"], name="act_task_opp_idx"),
            models.Index(
                fields=["remind_at"], name="act_task_remind_idx", condition=Q(status="open", reminded_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TalkScript(models.Model):
    """What to say: shown when a rep logs or prepares a contact of this kind or at this stage."""

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("script"))
    stage = models.ForeignKey(
        "sales.Stage",
        verbose_name=_("stage"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Show it for opportunities at this stage; empty for every stage."),
    )
    kind = models.CharField(
        _("kind"),
        max_length=10,
        choices=ActivityKind.choices,
        blank=True,
        default="",
        help_text=_("Show it for this kind of follow-up; empty for every kind."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "title", "id"]
        verbose_name = _("talk script")
        verbose_name_plural = _("talk scripts")

    def __str__(self) -> str:
        return self.title


class FollowUpPlan(models.Model):
    """How often customers of one grade are followed up (跟进计划); admins edit it."""

    grade = models.CharField(_("grade"), max_length=1, choices=Grade.choices, unique=True)
    interval_days = models.PositiveIntegerField(_("follow up every (days)"))
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["grade"]
        verbose_name = _("follow-up plan")
        verbose_name_plural = _("follow-up plans")
        constraints = [models.CheckConstraint(condition=Q(interval_days__gte=1), name="act_plan_interval_positive")]

    def __str__(self) -> str:
        return f"{self.grade}: {self.interval_days}"


class Reminder(models.Model):
    """An in-app reminder (待办): a task coming due, or a warning that customers will be reclaimed.

    The text is rendered when shown, from `kind` and `params`, so it appears in the reader's language.
    `key` makes a job that runs twice in a day write one reminder, not two.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=ReminderKind.choices, default=ReminderKind.NOTE)
    text = models.CharField(_("text"), max_length=255, blank=True, default="")
    params: models.JSONField[dict[str, Any]] = models.JSONField(default=dict, blank=True)
    link = models.CharField(_("link"), max_length=255, blank=True, default="")
    due_at = models.DateTimeField(_("due"))
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    key = models.CharField(max_length=100, blank=True, default="")
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-due_at", "-id"]
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        indexes = [models.Index(fields=["user", "read_at", "due_at"], name="act_reminder_user_idx")]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], condition=~Q(key=""), name="act_reminder_once_per_key")
        ]

    def __str__(self) -> str:
        return self.text or self.kind
