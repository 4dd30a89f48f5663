"""Pipelines and opportunities: a deal's way from first interest to won or lost.

An opportunity's `status` follows its stage's kind (open, won, lost) so the board, the forecast
and the reclaim rules read one column instead of joining the stage.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(_("default"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")

    def __str__(self) -> str:
        return self.name


class StageKind(models.TextChoices):
    OPEN = "open", pgettext_lazy("opportunity status", "Open")
    WON = "won", pgettext_lazy("opportunity status", "Won")
    LOST = "lost", pgettext_lazy("opportunity status", "Lost")


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    probability = models.PositiveSmallIntegerField(
        _("win probability (%)"), default=0, validators=[MaxValueValidator(100)]
    )
    kind = models.CharField(_("kind"), max_length=8, choices=StageKind.choices, default=StageKind.OPEN)

    class Meta:
        ordering = ["pipeline", "position", "id"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [models.UniqueConstraint(fields=["pipeline", "name"], name="sales_stage_name_once_per_pipeline")]

    def __str__(self) -> str:
        return self.name


class LostReason(models.TextChoices):
    PRICE = "price", _("Price")
    COMPETITOR = "competitor", _("Chose a competitor")
    NO_BUDGET = "no_budget", _("No budget")
    NO_DECISION = "no_decision", _("No decision")
    PRODUCT_FIT = "product_fit", _("Product did not fit")
    TIMING = "timing", _("Timing")
    OTHER = "other", _("Other")


class Opportunity(models.Model):
    name = models.CharField(_("name"), max_length=200)
    account = models.ForeignKey(
        "customers.Account",
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    person = models.ForeignKey(
        "customers.Person",
        verbose_name=_("customer (person)"),
        help_text=_("For a deal with a person rather than an organisation."),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT, related_name="+")
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="opportunities")
    status = models.CharField(_("status"), max_length=8, choices=StageKind.choices, default=StageKind.OPEN)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    probability = models.PositiveSmallIntegerField(
        _("win probability (%)"), default=0, validators=[MaxValueValidator(100)]
    )
    is_committed = models.BooleanField(
        _("committed"), default=False, help_text=_("The owner commits this deal to the forecast.")
    )
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(_("source"), max_length=20, blank=True, default="")
    # The deal's region (province/state) for the forecast's conversion by region: the account's
    # first address when the deal is created, editable. Kept on the deal so the forecast's sums
    # need no join per deal and a deal stays in the region it was won in when the account moves.
    region = models.CharField(_("region"), max_length=100, blank=True, default="")
    next_step = models.CharField(_("next step"), max_length=255, blank=True, default="")
    description = models.TextField(_("description"), blank=True, default="")
    lost_reason = models.CharField(_("lost reason"), max_length=16, choices=LostReason.choices, blank=True, default="")
    lost_note = models.CharField(_("lost note"), max_length=255, blank=True, default="")
    stage_changed_at = models.DateTimeField(_("in stage since"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [
            models.Index(fields=["pipeline", "stage", "id"], name="sales_opp_board_idx"),
            models.Index(fields=["owner", "expected_close_date"], name="sales_opp_owner_close_idx"),
            models.Index(fields=["status", "expected_close_date"], name="sales_opp_status_close_idx"),
            models.Index(fields=["status", "closed_at"], name="sales_opp_status_closed_idx"),
            # The board's cards: the first N of a stage by close date, an index range per column.
            models.Index(fields=["stage", "expected_close_date", "id"], name="sales_opp_stage_close_idx"),
            # The list's keyset pages (newest first) and the owner-branch pages of a rep.
            models.Index(fields=["created_at", "id"], name="sales_opp_created_idx"),
            models.Index(fields=["owner", "created_at", "id"], name="sales_opp_owner_created_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class ContactRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", _("Decision maker")
    INFLUENCER = "influencer", _("Influencer")
    BUYER = "buyer", _("Buyer")
    USER = "user", _("User")
    TECHNICAL = "technical", _("Technical evaluator")
    CHAMPION = "champion", _("Champion")
    OTHER = "other", _("Other")


class OpportunityContact(models.Model):
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="contacts")
    person = models.ForeignKey(
        "customers.Person", verbose_name=_("person"), on_delete=models.CASCADE, related_name="opportunity_roles"
    )
    role = models.CharField(_("role"), max_length=16, choices=ContactRole.choices, default=ContactRole.OTHER)
    is_primary = models.BooleanField(_("primary contact"), default=False)

    class Meta:
        verbose_name = _("opportunity contact")
        verbose_name_plural = _("opportunity contacts")
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "person"], name="sales_opp_contact_once"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} ({self.role}) on {self.opportunity_id}"


class OpportunityLine(models.Model):
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    product = models.ForeignKey(
        "commerce.Product", verbose_name=_("product"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(_("description"), max_length=255)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3, default=Decimal("1"))
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    discount_percent = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2, default=Decimal("0"))
    line_total = models.DecimalField(_("line total"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["opportunity", "position", "id"]
        verbose_name = _("opportunity line")
        verbose_name_plural = _("opportunity lines")

    def __str__(self) -> str:
        return f"{self.description} × {self.quantity}"


class CompetitorOffer(models.Model):
    """A competitor in the deal (an account of kind competitor) and what they offer."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="competitors")
    competitor = models.ForeignKey(
        "customers.Account", verbose_name=_("competitor"), on_delete=models.PROTECT, related_name="+"
    )
    offer = models.CharField(_("their offer"), max_length=255, blank=True, default="")
    amount = models.DecimalField(_("their amount"), max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("competitor offer")
        verbose_name_plural = _("competitor offers")
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "competitor"], name="sales_competitor_once_per_opp"),
        ]

    def __str__(self) -> str:
        return f"{self.competitor_id} on {self.opportunity_id}"


class StageChange(models.Model):
    """Each move between stages, so time spent per stage and the board's history can be told."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(db_index=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # How long the deal stayed in `from_stage`, written at the move: "time in each stage" is then
    # one AVG … GROUP BY instead of pairing each change with the next one.
    seconds_in_from_stage = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["opportunity", "changed_at", "id"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id} → {self.to_stage_id}"


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("quote status", "Draft")
    SENT = "sent", pgettext_lazy("quote status", "Sent")
    ACCEPTED = "accepted", pgettext_lazy("quote status", "Accepted")
    DECLINED = "declined", pgettext_lazy("quote status", "Declined")


class Quote(models.Model):
    """A priced offer (报价单) to a customer, usually for an opportunity; accepting it takes the order."""

    number = models.CharField(_("quote number"), max_length=40, unique=True)
    opportunity = models.ForeignKey(
        Opportunity,
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="quotes",
    )
    account = models.ForeignKey(
        "customers.Account",
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="quotes",
    )
    person = models.ForeignKey(
        "customers.Person",
        verbose_name=_("customer (person)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="quotes",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT, db_index=True
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    price_list = models.ForeignKey(
        "commerce.PriceList",
        verbose_name=_("price list"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    tax_rate = models.DecimalField(_("tax rate (%)"), max_digits=5, decimal_places=2, default=Decimal("0"))
    subtotal_amount = models.DecimalField(_("subtotal"), max_digits=14, decimal_places=2, default=Decimal("0"))
    discount_amount = models.DecimalField(_("discount"), max_digits=14, decimal_places=2, default=Decimal("0"))
    tax_amount = models.DecimalField(_("tax"), max_digits=14, decimal_places=2, default=Decimal("0"))
    total_amount = models.DecimalField(_("total"), max_digits=14, decimal_places=2, default=Decimal("0"))
    note = models.TextField(_("note"), blank=True, default="")
    order = models.ForeignKey(
        "commerce.Order", verbose_name=_("order"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("accepted or declined at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        indexes = [
            models.Index(fields=["created_at", "id"], name="sales_quote_created_idx"),
            models.Index(fields=["owner", "created_at", "id"], name="sales_quote_owner_created_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    product = models.ForeignKey(
        "commerce.Product", verbose_name=_("product"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(_("description"), max_length=255)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3, default=Decimal("1"))
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    discount_percent = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2, default=Decimal("0"))
    line_total = models.DecimalField(_("line total"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["quote", "position", "id"]
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")

    def __str__(self) -> str:
        return f"{self.description} × {self.quantity}"

    @property
    def gross(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"))

    @property
    def discount(self) -> Decimal:
        return self.gross - self.line_total


class RollupDimension(models.TextChoices):
    DEALS = "deals"
    SOURCE = "source"
    REGION = "region"
    STAGE_TIME = "stage_time"


class OpportunityRollup(models.Model):
    """Running sums of deals by stage, owner and close month, kept by the services (`rollups.py`).

    The board and the forecast add up these few thousand rows instead of every deal: at 200,000
    deals a scan of the deals alone took longer than a page may. Each dimension is its own set of
    rows: "deals" (by stage and commitment), "source" and "region" (by status and `value`), and
    "stage_time" (time spent in `stage_key` before leaving it). The keys are plain integers, not
    foreign keys: the pool is owner 0 and a deal without a close date has month 0001-01-01, so
    every key is unique without NULLs.
    """

    dimension = models.CharField(max_length=10, choices=RollupDimension.choices)
    value = models.CharField(max_length=100, blank=True, default="")
    pipeline_key = models.IntegerField()
    stage_key = models.IntegerField()
    status = models.CharField(max_length=8, blank=True, default="")
    owner_key = models.IntegerField()
    close_month = models.DateField()
    is_committed = models.BooleanField(default=False)
    deals = models.BigIntegerField(default=0)
    amount = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0"))
    weighted = models.DecimalField(max_digits=24, decimal_places=4, default=Decimal("0"))
    duration_us = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "dimension",
                    "value",
                    "pipeline_key",
                    "stage_key",
                    "status",
                    "owner_key",
                    "close_month",
                    "is_committed",
                ],
                name="sales_rollup_key",
            )
        ]
        indexes = [models.Index(fields=["dimension", "close_month"], name="sales_rollup_month_idx")]

    def __str__(self) -> str:
        return f"{self.dimension} {self.value} stage {self.stage_key} owner {self.owner_key} {self.close_month}"
