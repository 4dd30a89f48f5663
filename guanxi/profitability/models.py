"""What each customer earns us once the cost to serve and to acquire them is counted.

The settings (cost per follow-up kind, per service ticket, the currency, acquisition costs per
source and month) are edited by admins. A run computes every customer's figures with a few
grouped queries and stores them here, so the overview, the review list, the record panel and
the API read one indexed table instead of re-aggregating orders and follow-ups per page view.

Money, stated once: `revenue` is what the customer's orders were worth before any discount
(order lines' quantity × unit price, tax excluded); `discounts` are line and order discounts;
`cost_to_serve` is follow-up and service-ticket cost; `profit = revenue − discounts −
cost_to_serve`. A discount is therefore subtracted exactly once. Cancelled and returned orders
count for nothing, and only orders in the settings' currency are counted.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanxi.activities.models import ActivityKind
from guanxi.leads.models import LeadSource


class CostSettings(models.Model):
    """The one row of cost settings (pk 1), created with defaults on first read."""

    currency = models.CharField(
        _("currency"),
        max_length=3,
        default="CNY",
        help_text=_("Only orders in this currency are counted; every cost is entered in it."),
    )
    ticket_cost = models.DecimalField(
        _("cost per service ticket"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Counted once a ticket app exists."),
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("profitability settings")
        verbose_name_plural = _("profitability settings")

    def __str__(self) -> str:
        return f"{self.currency}"


class ActivityCost(models.Model):
    """What one follow-up record of a kind costs us (a visit costs more than an e-mail)."""

    kind = models.CharField(_("kind"), max_length=10, choices=ActivityKind.choices, unique=True)
    cost = models.DecimalField(_("cost each"), max_digits=14, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["kind"]
        verbose_name = _("follow-up cost")
        verbose_name_plural = _("follow-up costs")

    def __str__(self) -> str:
        return f"{self.kind}: {self.cost}"


class AcquisitionCost(models.Model):
    """What we spent in one month to win customers from one source (ads, trade-show stands…)."""

    source = models.CharField(_("source"), max_length=16, choices=LeadSource.choices)
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["month", "source"]
        verbose_name = _("acquisition cost")
        verbose_name_plural = _("acquisition costs")
        constraints = [
            models.UniqueConstraint(fields=["source", "month"], name="profit_acq_cost_once"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="profit_acq_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.month:%Y-%m}: {self.amount}"


class RunStatus(models.TextChoices):
    RUNNING = "running", pgettext_lazy("profitability run status", "Running")
    SUCCEEDED = "succeeded", pgettext_lazy("profitability run status", "Succeeded")
    FAILED = "failed", pgettext_lazy("profitability run status", "Failed")


class ProfitabilityRun(models.Model):
    """One computation: the costs in force (`parameters`), when, and the aggregate results."""

    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    parameters: models.JSONField[dict[str, Any]] = models.JSONField(_("parameters"), default=dict, blank=True)
    results: models.JSONField[dict[str, Any]] = models.JSONField(_("results"), default=dict, blank=True)
    customers = models.PositiveIntegerField(_("customers"), default=0)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("profitability run")
        verbose_name_plural = _("profitability runs")
        indexes = [models.Index(fields=["status", "-id"], name="profit_run_status_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} ({self.status})"


class CustomerProfit(models.Model):
    """One customer's figures in one run; exactly one of account and person is set."""

    run = models.ForeignKey(ProfitabilityRun, on_delete=models.CASCADE, related_name="rows")
    account = models.ForeignKey(
        "customers.Account",
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    person = models.ForeignKey(
        "customers.Person", verbose_name=_("person"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(_("name"), max_length=201)
    orders = models.PositiveIntegerField(_("orders"), default=0)
    revenue = models.DecimalField(_("revenue before discounts"), max_digits=14, decimal_places=2, default=Decimal("0"))
    discounts = models.DecimalField(_("discounts"), max_digits=14, decimal_places=2, default=Decimal("0"))
    activities = models.PositiveIntegerField(_("follow-up records"), default=0)
    activity_cost = models.DecimalField(_("follow-up cost"), max_digits=14, decimal_places=2, default=Decimal("0"))
    tickets = models.PositiveIntegerField(_("service tickets"), default=0)
    ticket_cost = models.DecimalField(_("service ticket cost"), max_digits=14, decimal_places=2, default=Decimal("0"))
    cost_to_serve = models.DecimalField(_("cost to serve"), max_digits=14, decimal_places=2, default=Decimal("0"))
    profit = models.DecimalField(_("profit"), max_digits=14, decimal_places=2, default=Decimal("0"))
    # Whole cents of the three sortable amounts: the keyset pager's cursors hold plain JSON
    # numbers, and integers sort and index exactly like the amounts.
    profit_cents = models.BigIntegerField(_("profit (cents)"), default=0)
    revenue_cents = models.BigIntegerField(_("revenue (cents)"), default=0)
    cost_to_serve_cents = models.BigIntegerField(_("cost to serve (cents)"), default=0)
    source = models.CharField(_("acquisition source"), max_length=16, choices=LeadSource.choices)
    cohort = models.DateField(_("acquisition cohort"))
    predicted_clv = models.DecimalField(
        _("predicted lifetime value"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    cac = models.DecimalField(
        _("acquisition cost per customer"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    clv_to_cac = models.FloatField(_("CLV:CAC"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer profitability")
        verbose_name_plural = _("customer profitability")
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False) & Q(person__isnull=True))
                | (Q(account__isnull=True) & Q(person__isnull=False)),
                name="profit_row_one_party",
            )
        ]
        indexes = [
            models.Index(fields=["run", "profit_cents", "id"], name="profit_row_profit_idx"),
            models.Index(fields=["run", "revenue_cents", "id"], name="profit_row_revenue_idx"),
            models.Index(fields=["run", "cost_to_serve_cents", "id"], name="profit_row_cost_idx"),
            models.Index(fields=["run", "name", "id"], name="profit_row_name_idx"),
            models.Index(fields=["account", "run"], name="profit_row_account_idx"),
            models.Index(fields=["person", "run"], name="profit_row_person_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.profit}"

    @property
    def party(self) -> Any:
        return self.account if self.account_id else self.person
