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
        ]

    def __str__(self) -> str:
        return self.full_name or self.company_name or self.email or f"#{self.pk}"
