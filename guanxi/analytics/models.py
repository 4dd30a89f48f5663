"""Analytics runs, the lifecycle rules they apply, and the results kept per run.

Scores themselves live on the customer records (`customers.scores` writes them), so
operational apps never read these tables; the tables here explain and reproduce the scores:
each run's parameters, engine version, seed and quality figures, the rules it found and the
cross-sell suggestions served by the next-offers API.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanxi.commerce.models import Product
from guanxi.customers.models import Account, LifecycleStage, Person


class RunKind(models.TextChoices):
    SCORING = "scoring", _("Scoring")
    RULES = "rules", _("Association rules")


class RunStatus(models.TextChoices):
    RUNNING = "running", pgettext_lazy("analytics run status", "Running")
    SUCCEEDED = "succeeded", pgettext_lazy("analytics run status", "Succeeded")
    FAILED = "failed", pgettext_lazy("analytics run status", "Failed")


class AnalyticsRun(models.Model):
    """One run of a step: what it was asked, what engine did it, how well it fitted."""

    kind = models.CharField(_("kind"), max_length=16, choices=RunKind.choices)
    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    parameters: models.JSONField[dict[str, Any]] = models.JSONField(_("parameters"), default=dict, blank=True)
    engine_version = models.CharField(_("engine version"), max_length=32)
    seed = models.BigIntegerField(_("seed"), default=0)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)
    quality: models.JSONField[dict[str, Any]] = models.JSONField(_("quality figures"), default=dict, blank=True)
    results: models.JSONField[dict[str, Any]] = models.JSONField(_("results"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("analytics run")
        verbose_name_plural = _("analytics runs")
        indexes = [models.Index(fields=["kind", "status", "-id"], name="analytics_run_kind_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} ({self.status})"


class LifecycleRule(models.Model):
    """'Customers matching these conditions are in this stage'; the first matching rule wins.

    Every condition left empty matches anyone. Rules apply to customers who have bought;
    customers without a purchase keep the stage their owner gave them.
    """

    position = models.PositiveIntegerField(_("position"), default=0)
    stage = models.CharField(_("lifecycle stage"), max_length=16, choices=LifecycleStage.choices)
    description = models.CharField(_("description"), max_length=200, blank=True, default="")
    min_orders = models.PositiveIntegerField(_("at least this many orders"), null=True, blank=True)
    max_orders = models.PositiveIntegerField(_("at most this many orders"), null=True, blank=True)
    min_days_since_last = models.PositiveIntegerField(
        _("at least this many days since last order"), null=True, blank=True
    )
    max_days_since_last = models.PositiveIntegerField(
        _("at most this many days since last order"), null=True, blank=True
    )
    min_p_alive = models.FloatField(_("probability still a customer at least"), null=True, blank=True)
    max_p_alive = models.FloatField(_("probability still a customer at most"), null=True, blank=True)
    rfm_segments: models.JSONField[list[str]] = models.JSONField(
        _("RFM segments"), default=list, blank=True, help_text=_("Empty: any segment.")
    )
    from_stages: models.JSONField[list[str]] = models.JSONField(
        _("only from stages"), default=list, blank=True, help_text=_("Empty: from any stage.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("lifecycle rule")
        verbose_name_plural = _("lifecycle rules")

    def __str__(self) -> str:
        return f"{self.position}: {self.stage}"


class AssociationRuleResult(models.Model):
    """'Baskets with the antecedent products often also hold the consequent', found by one run."""

    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="association_rules")
    rank = models.PositiveIntegerField(_("rank"))
    antecedent: models.JSONField[list[int]] = models.JSONField(_("antecedent products"))
    antecedent_names: models.JSONField[list[str]] = models.JSONField(_("antecedent product names"), default=list)
    consequent = models.ForeignKey(
        Product, verbose_name=_("consequent product"), on_delete=models.CASCADE, related_name="+"
    )
    baskets = models.PositiveIntegerField(_("baskets"))
    support = models.FloatField(_("support"))
    confidence = models.FloatField(_("confidence"))
    lift = models.FloatField(_("lift"))

    class Meta:
        ordering = ["run", "rank"]
        verbose_name = _("association rule")
        verbose_name_plural = _("association rules")
        constraints = [models.UniqueConstraint(fields=["run", "rank"], name="analytics_rule_rank_once")]

    def __str__(self) -> str:
        return f"{self.antecedent} ⇒ {self.consequent_id}"


class OfferSuggestion(models.Model):
    """A precomputed next offer for one customer, so the API answers with one indexed read.

    Replaced as a whole at the end of each rules run.
    """

    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="suggestions")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField(_("rank"))
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="+")
    because: models.JSONField[list[int]] = models.JSONField(_("because of products"), default=list)
    because_names: models.JSONField[list[str]] = models.JSONField(_("because of product names"), default=list)
    confidence = models.FloatField(_("confidence"))
    lift = models.FloatField(_("lift"))

    class Meta:
        ordering = ["rank"]
        verbose_name = _("offer suggestion")
        verbose_name_plural = _("offer suggestions")
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False) & Q(person__isnull=True))
                | (Q(account__isnull=True) & Q(person__isnull=False)),
                name="analytics_offer_one_party",
            )
        ]
        indexes = [
            models.Index(fields=["person", "rank"], name="analytics_offer_person_idx"),
            models.Index(fields=["account", "rank"], name="analytics_offer_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id or self.person_id}: {self.product_id}"


class EngagementDefinition(models.Model):
    """Which behaviours count for each of the 4 I's, and their weights: one immutable version.

    An edit saves a new version instead of changing the old one, so every stored score can
    name the exact definition that made it and old scores stay explainable.
    """

    version = models.PositiveIntegerField(_("version"), unique=True)
    items: models.JSONField[dict[str, list[list[Any]]]] = models.JSONField(
        _("behaviours and weights"), help_text=_("Per I, a list of [behaviour, weight].")
    )
    note = models.CharField(_("note"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-version"]
        verbose_name = _("engagement definition")
        verbose_name_plural = _("engagement definitions")

    def __str__(self) -> str:
        return f"v{self.version}"

    def as_definition(self) -> dict[str, list[tuple[str, float]]]:
        """The engine's form: per I, (behaviour, weight) pairs."""
        return {name: [(str(key), float(weight)) for key, weight in pairs] for name, pairs in self.items.items()}


class ChurnModel(models.Model):
    """The churn classifier a scoring run trained: its features, hold-out figures and calibration."""

    run = models.OneToOneField(AnalyticsRun, on_delete=models.CASCADE, related_name="churn_model")
    fitted = models.BooleanField(_("fitted"), default=False)
    reason = models.TextField(_("why not fitted"), blank=True, default="")
    algorithm = models.CharField(_("algorithm"), max_length=40)
    features: models.JSONField[list[str]] = models.JSONField(_("features"), default=list)
    cutoff = models.DateTimeField(_("cutoff"))
    labelled = models.PositiveIntegerField(_("labelled customers"), default=0)
    churned = models.PositiveIntegerField(_("churned"), default=0)
    train_size = models.PositiveIntegerField(_("training rows"), default=0)
    test_size = models.PositiveIntegerField(_("hold-out rows"), default=0)
    auc = models.FloatField(_("AUC"), null=True, blank=True)
    brier = models.FloatField(_("Brier score"), null=True, blank=True)
    base_rate = models.FloatField(_("churn rate"), null=True, blank=True)
    calibration: models.JSONField[list[dict[str, Any]]] = models.JSONField(_("calibration"), default=list)
    importances: models.JSONField[list[list[Any]]] = models.JSONField(_("feature importances"), default=list)
    coefficients: models.JSONField[list[list[Any]]] = models.JSONField(_("coefficients"), default=list)
    scored = models.PositiveIntegerField(_("customers scored"), default=0)

    class Meta:
        ordering = ["-run_id"]
        verbose_name = _("churn model")
        verbose_name_plural = _("churn models")

    def __str__(self) -> str:
        return f"churn model of run #{self.run_id}"


class ChurnSource(models.TextChoices):
    MODEL = "model", _("Churn classifier")
    P_ALIVE = "p_alive", _("1 − probability still a customer")


class CustomerScore(models.Model):
    """One customer's latest 4 I's and churn risk with where it came from; replaced each run."""

    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="customer_scores")
    account = models.OneToOneField(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    person = models.OneToOneField(Person, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    definition = models.ForeignKey(EngagementDefinition, on_delete=models.PROTECT, related_name="+")
    is_contract = models.BooleanField(_("contract customer"), default=False)
    churn_risk = models.FloatField(_("churn risk"), null=True, blank=True)
    churn_source = models.CharField(_("churn risk from"), max_length=10, choices=ChurnSource.choices, blank=True)
    involvement = models.FloatField(_("involvement"), null=True, blank=True)
    interaction = models.FloatField(_("interaction"), null=True, blank=True)
    intimacy = models.FloatField(_("intimacy"), null=True, blank=True)
    influence = models.FloatField(_("influence"), null=True, blank=True)
    engagement = models.FloatField(_("engagement"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False) & Q(person__isnull=True))
                | (Q(account__isnull=True) & Q(person__isnull=False)),
                name="analytics_score_one_party",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id or self.person_id}: {self.engagement}"


class AccountHealth(models.Model):
    """A contract customer's health (0–100) with its components and reasons; replaced each run."""

    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="health_rows")
    account = models.OneToOneField(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    person = models.OneToOneField(Person, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    health = models.PositiveSmallIntegerField(_("health"))
    components: models.JSONField[dict[str, float | None]] = models.JSONField(_("components"), default=dict)
    reasons: models.JSONField[list[dict[str, Any]]] = models.JSONField(_("reasons"), default=list)
    churn_risk = models.FloatField(_("churn risk"), null=True, blank=True)
    engagement = models.FloatField(_("engagement"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)

    class Meta:
        verbose_name = _("account health")
        verbose_name_plural = _("account health")
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False) & Q(person__isnull=True))
                | (Q(account__isnull=True) & Q(person__isnull=False)),
                name="analytics_health_one_party",
            )
        ]
        indexes = [models.Index(fields=["health", "id"], name="analytics_health_worst_idx")]

    def __str__(self) -> str:
        return f"{self.account_id or self.person_id}: {self.health}"


class PurchaseSummary(models.Model):
    """Per-customer purchase periods (`guanxi.engine.summaries.purchase_periods`), kept current
    by `purchase_store.refresh` from the orders added or changed since its last refresh, so a
    scoring run reads one row per customer instead of every order.

    The customer key is the engine's ("a<account id>" / "p<person id>"): a derived copy, not a
    link, rebuilt from the orders whenever in doubt.
    """

    customer = models.CharField(max_length=24, primary_key=True)
    periods = models.BigIntegerField()
    first_day = models.BigIntegerField()
    last_day = models.BigIntegerField()
    order_count = models.BigIntegerField()
    revenue = models.FloatField()
    repeat_revenue = models.FloatField()

    class Meta:
        verbose_name = _("purchase summary")
        verbose_name_plural = _("purchase summaries")

    def __str__(self) -> str:
        return self.customer


class PurchaseSummaryState(models.Model):
    """How far the purchase summaries are current: one row, locked by each refresh.

    New orders are those with an id above `order_id`; changed ones are older orders whose
    `updated_at` is above `changed_until`.
    """

    order_id = models.BigIntegerField(default=0)
    changed_until = models.DateTimeField(null=True, blank=True)
    engine_version = models.CharField(max_length=20, blank=True, default="")
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    customers = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("purchase summary state")
        verbose_name_plural = _("purchase summary states")

    def __str__(self) -> str:
        return f"orders up to #{self.order_id}"
