"""Leads: interest not yet qualified, kept apart from customers until a rep converts it.

A converted lead keeps links to the account, person and opportunity it became, so its history
stays reachable from all three.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanxi.customers.models import Grade


class LeadSource(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    CAMPAIGN = "campaign", _("Campaign")
    REFERRAL = "referral", _("Referral")
    TRADE_SHOW = "trade_show", _("Trade show")
    COLD_CALL = "cold_call", _("Cold call")
    IMPORT = "import", _("Import")
    API = "api", _("API")
    OTHER = "other", _("Other")


class LeadStatus(models.TextChoices):
    NEW = "new", pgettext_lazy("lead status", "New")
    WORKING = "working", pgettext_lazy("lead status", "Working")
    QUALIFIED = "qualified", pgettext_lazy("lead status", "Qualified")
    DISQUALIFIED = "disqualified", pgettext_lazy("lead status", "Disqualified")
    CONVERTED = "converted", pgettext_lazy("lead status", "Converted")


class Lead(models.Model):
    company_name = models.CharField(_("company"), max_length=200, blank=True, default="")
    family_name = models.CharField(_("family name"), max_length=100, blank=True, default="")
    given_name = models.CharField(_("given name"), max_length=100, blank=True, default="")
    full_name = models.CharField(_("name"), max_length=201, blank=True, default="")
    job_title = models.CharField(_("job title"), max_length=100, blank=True, default="")
    email = models.CharField(_("email"), max_length=254, blank=True, default="", db_index=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True, default="", db_index=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True, default="")
    region = models.CharField(_("province / state"), max_length=100, blank=True, default="")
    country = models.CharField(_("country"), max_length=2, blank=True, default="")
    message = models.TextField(_("message"), blank=True, default="")
    source = models.CharField(_("source"), max_length=16, choices=LeadSource.choices, default=LeadSource.OTHER)
    source_detail = models.CharField(
        _("source detail"),
        max_length=200,
        blank=True,
        default="",
        help_text=_("The campaign, trade show or page the lead came from."),
    )
    referred_by_account = models.ForeignKey(
        "customers.Account",
        verbose_name=_("referred by (account)"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referred_leads",
    )
    referred_by_person = models.ForeignKey(
        "customers.Person",
        verbose_name=_("referred by (person)"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referred_leads",
    )
    status = models.CharField(_("status"), max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW)
    disqualified_reason = models.CharField(_("disqualified because"), max_length=255, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    team = models.ForeignKey(
        "staff.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    score = models.IntegerField(_("score"), default=0)
    score_reasons: models.JSONField[list[dict[str, Any]]] = models.JSONField(
        _("why this score"), default=list, blank=True
    )
    activity_count = models.PositiveIntegerField(_("follow-ups"), default=0)
    last_activity_at = models.DateTimeField(_("last follow-up"), null=True, blank=True)
    grade = models.CharField(_("intent grade"), max_length=1, choices=Grade.choices, blank=True, default="")
    grade_is_manual = models.BooleanField(
        _("grade set by hand"), default=False, help_text=_("A grade the rep set wins over the suggested one.")
    )
    assigned_by_rule = models.ForeignKey(
        "leads.AssignmentRule",
        verbose_name=_("assigned by rule"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
    )
    web_form = models.ForeignKey(
        "leads.WebForm",
        verbose_name=_("web form"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
    )
    attributes: models.JSONField[dict[str, Any]] = models.JSONField(_("custom attributes"), default=dict, blank=True)
    converted_account = models.ForeignKey(
        "customers.Account",
        verbose_name=_("converted to account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_leads",
    )
    converted_person = models.ForeignKey(
        "customers.Person",
        verbose_name=_("converted to person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_leads",
    )
    converted_opportunity = models.ForeignKey(
        "sales.Opportunity",
        verbose_name=_("converted to opportunity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_leads",
    )
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    converted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            models.Index(fields=["created_at", "id"], name="leads_lead_created_idx"),
            models.Index(fields=["owner", "status", "created_at"], name="leads_lead_owner_status_idx"),
            models.Index(fields=["status", "created_at"], name="leads_lead_status_idx"),
            models.Index(fields=["score", "id"], name="leads_lead_score_idx"),
            models.Index(fields=["owner", "created_at", "id"], name="leads_lead_owner_created_idx"),
            models.Index(fields=["owner", "score", "id"], name="leads_lead_owner_score_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.company_name or self.email or f"#{self.pk}"


class AssignmentAction(models.TextChoices):
    USER = "user", _("Assign to a user")
    ROUND_ROBIN = "round_robin", _("Round robin within a team")


class AssignmentRule(models.Model):
    """Who gets a new lead: the first active rule (by position) whose conditions all match.

    An empty condition list matches anything, so a last rule with no conditions is a catch-all.
    `last_assigned` is the round-robin pointer, moved under a row lock so two leads arriving at
    once go to two different people.
    """

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    sources: models.JSONField[list[str]] = models.JSONField(_("sources"), default=list, blank=True)
    industries: models.JSONField[list[str]] = models.JSONField(_("industries"), default=list, blank=True)
    regions: models.JSONField[list[str]] = models.JSONField(_("provinces / states"), default=list, blank=True)
    countries: models.JSONField[list[str]] = models.JSONField(_("countries"), default=list, blank=True)
    action = models.CharField(
        _("action"), max_length=16, choices=AssignmentAction.choices, default=AssignmentAction.USER
    )
    assign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assign to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    team = models.ForeignKey(
        "staff.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")

    def __str__(self) -> str:
        return self.name


class ScoringKind(models.TextChoices):
    FIELD_EQUALS = "field_equals", _("Field equals a value")
    FIELD_FILLED = "field_filled", _("Field is filled in")
    ACTIVITY_COUNT = "activity_count", _("At least N follow-ups")
    RECENCY = "recency", _("Last follow-up within N days")


class ScoringField(models.TextChoices):
    SOURCE = "source", _("Source")
    INDUSTRY = "industry", _("Industry")
    COUNTRY = "country", _("Country")
    REGION = "region", _("Province / state")
    JOB_TITLE = "job_title", _("Job title")
    COMPANY = "company_name", _("Company")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    ATTRIBUTE = "attribute", _("Custom attribute")


class ScoringRule(models.Model):
    """Points a lead earns when it meets one condition; a lead's score is the sum of its rules."""

    label = models.CharField(_("label"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=ScoringKind.choices, default=ScoringKind.FIELD_EQUALS)
    field = models.CharField(_("field"), max_length=16, choices=ScoringField.choices, blank=True, default="")
    attribute_key = models.CharField(
        _("custom attribute key"), max_length=64, blank=True, default="", help_text=_("e.g. company_size")
    )
    value = models.CharField(_("value"), max_length=100, blank=True, default="")
    threshold = models.PositiveIntegerField(
        _("N"), default=0, help_text=_("Follow-ups needed, or days since the last follow-up.")
    )
    points = models.IntegerField(_("points"), default=10)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("scoring rule")
        verbose_name_plural = _("scoring rules")

    def __str__(self) -> str:
        return self.label


class GradeBands(models.Model):
    """The lowest score of each suggested intent grade; one row, edited by an admin."""

    a_from = models.IntegerField(_("A from score"), default=80)
    b_from = models.IntegerField(_("B from score"), default=50)
    c_from = models.IntegerField(_("C from score"), default=20)

    class Meta:
        verbose_name = _("intent grade bands")
        verbose_name_plural = _("intent grade bands")

    def __str__(self) -> str:
        return f"A≥{self.a_from} B≥{self.b_from} C≥{self.c_from}"


WEB_FORM_FIELDS = (
    "family_name",
    "given_name",
    "company_name",
    "job_title",
    "email",
    "phone",
    "industry",
    "region",
    "country",
    "message",
)


class WebForm(models.Model):
    """A public web-to-lead form: the page other sites embed in an iframe under `public_key`."""

    name = models.CharField(_("name"), max_length=100)
    public_key = models.CharField(_("public key"), max_length=32, unique=True)
    fields: models.JSONField[list[str]] = models.JSONField(_("fields shown"), default=list, blank=True)
    default_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("default owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Leave empty to let the assignment rules decide."),
    )
    default_team = models.ForeignKey(
        "staff.Team",
        verbose_name=_("default team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    thank_you_text = models.TextField(_("thank-you text"), blank=True, default="")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("web form")
        verbose_name_plural = _("web forms")

    def __str__(self) -> str:
        return self.name
