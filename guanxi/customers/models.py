"""Customer records: accounts (organisations), people, the roles and relationships between them,
their lifecycle stage with its history, and consent as proof.

A person does not know about orders, events or campaigns: those apps point at the person.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanxi.core.models import Tag


class LifecycleStage(models.TextChoices):
    VISITOR = "visitor", _("Visitor")
    PROSPECT = "prospect", _("Prospect")
    NEW = "new", _("New")
    ACTIVE = "active", _("Active")
    LOYAL = "loyal", _("Loyal")
    AT_RISK = "at_risk", _("At risk")
    LOST = "lost", _("Lost")
    WON_BACK = "won_back", _("Won back")


class Source(models.TextChoices):
    WEB = "web", _("Website")
    REFERRAL = "referral", _("Referral")
    TRADE_SHOW = "trade_show", _("Trade show")
    COLD_CALL = "cold_call", _("Cold call")
    CAMPAIGN = "campaign", _("Campaign")
    PARTNER = "partner", _("Partner")
    IMPORT = "import", _("Import")
    API = "api", _("API")
    TRACKING = "tracking", _("Tracking")
    OTHER = "other", _("Other")


class AccountKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    DISTRIBUTOR = "distributor", _("Distributor")
    RETAILER = "retailer", _("Retailer")
    PARTNER = "partner", _("Partner")
    SUPPLIER = "supplier", _("Supplier")
    COMPETITOR = "competitor", _("Competitor")


class OrganisationType(models.TextChoices):
    COMPANY = "company", _("Company")
    GOVERNMENT = "government", _("Government body")
    SCHOOL = "school", _("School")
    HOSPITAL = "hospital", _("Hospital")
    NONPROFIT = "nonprofit", _("Non-profit")
    OTHER = "other", _("Other")


class MarketSegment(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")
    MID_MARKET = "mid_market", _("Mid-market")
    SMALL_BUSINESS = "small_business", _("Small business")
    PUBLIC_SECTOR = "public_sector", _("Public sector")


class Grade(models.TextChoices):
    """Customer grade (客户级别); `tier` is kept for loyalty tiers as the glossary says."""

    A = "A", _("A (key)")
    B = "B", _("B (important)")
    C = "C", _("C (standard)")
    D = "D", _("D (low)")


class LostReason(models.TextChoices):
    """Why a customer was lost (流失原因), so losses can be counted by cause."""

    BUSINESS_SHRANK = "business_shrank", _("Business shrank")
    SWITCHED_SUPPLIER = "switched_supplier", _("Switched supplier")
    PRICE = "price", _("Price")
    SERVICE = "service", _("Service")
    MOVED_AWAY = "moved_away", _("Moved away")
    CLOSED_DOWN = "closed_down", _("Closed down")
    OTHER = "other", _("Other")


class AccountStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("account status", "Active")
    INACTIVE = "inactive", pgettext_lazy("account status", "Inactive")
    CLOSED = "closed", pgettext_lazy("account status", "Closed")


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone")
    WECHAT = "wechat", _("WeChat")


class ServiceLevel(models.TextChoices):
    """How much service a customer gets; lowered for customers served at a loss (profitability)."""

    PREMIUM = "premium", _("Premium")
    STANDARD = "standard", _("Standard")
    BASIC = "basic", _("Basic")


class Party(models.Model):
    """Fields every customer record has, whether an organisation or a person."""

    # No index of its own: the (owner, name) and (owner, last follow-up) indexes serve every owner
    # lookup, and one index fewer is one write fewer for each of the pool job's half-million moves.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, blank=True, default="")
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=16, choices=LifecycleStage.choices, default=LifecycleStage.PROSPECT
    )
    lost_reason = models.CharField(_("lost reason"), max_length=20, choices=LostReason.choices, blank=True, default="")
    # The shared pool's reclaim rules read these three on a million rows in one UPDATE, so the
    # services that assign owners, log follow-ups and win deals keep them current.
    owned_since = models.DateTimeField(_("owned since"), null=True, blank=True)
    last_follow_up_at = models.DateTimeField(_("last follow-up"), null=True, blank=True)
    last_won_at = models.DateTimeField(_("last deal won"), null=True, blank=True)
    reclaim_exempt = models.BooleanField(
        _("locked"), default=False, help_text=_("A locked customer is never reclaimed into the shared pool.")
    )
    service_level = models.CharField(
        _("service level"), max_length=10, choices=ServiceLevel.choices, default=ServiceLevel.STANDARD
    )
    # Scores the analytics runs write back (through `customers.scores`), so operational apps read
    # them from the record itself and never query analytics tables.
    rfm_score = models.CharField(_("RFM score"), max_length=3, blank=True, default="")
    rfm_segment = models.CharField(_("RFM segment"), max_length=24, blank=True, default="")
    p_alive = models.FloatField(_("probability still a customer"), null=True, blank=True)
    predicted_clv = models.DecimalField(
        _("predicted lifetime value"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    churn_risk = models.FloatField(_("churn risk"), null=True, blank=True)
    engagement_score = models.PositiveSmallIntegerField(_("engagement"), null=True, blank=True)
    scored_at = models.DateTimeField(_("scored at"), null=True, blank=True)
    attributes: models.JSONField[dict[str, Any]] = models.JSONField(_("custom attributes"), default=dict, blank=True)
    notes = models.TextField(_("notes"), blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True


class Account(Party):
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind.choices, default=AccountKind.CUSTOMER)
    organisation_type = models.CharField(
        _("organisation type"), max_length=16, choices=OrganisationType.choices, default=OrganisationType.COMPANY
    )
    industry = models.CharField(_("industry"), max_length=100, blank=True, default="")
    market_segment = models.CharField(
        _("market segment"), max_length=16, choices=MarketSegment.choices, blank=True, default=""
    )
    grade = models.CharField(_("grade"), max_length=1, choices=Grade.choices, blank=True, default="")
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
    )
    website = models.URLField(_("website"), max_length=255, blank=True, default="")
    domain = models.CharField(_("domain"), max_length=255, blank=True, default="", db_index=True)
    registration_number = models.CharField(_("registration number"), max_length=64, blank=True, default="")
    phone = models.CharField(_("phone"), max_length=32, blank=True, default="")
    status = models.CharField(_("status"), max_length=10, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    team = models.ForeignKey(
        "staff.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="accounts")

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        indexes = [
            models.Index(fields=["name", "id"], name="cust_account_name_idx"),
            models.Index(fields=["created_at", "id"], name="cust_account_created_idx"),
            models.Index(fields=["updated_at", "id"], name="cust_account_updated_idx"),
            models.Index(fields=["owner", "name", "id"], name="cust_account_owner_name_idx"),
            models.Index(fields=["lifecycle_stage", "name", "id"], name="cust_account_stage_name_idx"),
            models.Index(fields=["registration_number"], name="cust_account_regno_idx"),
            models.Index(fields=["owner", "last_follow_up_at"], name="cust_acct_owner_followup_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="cust_account_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class Address(models.Model):
    class Kind(models.TextChoices):
        OFFICE = "office", _("Office")
        BILLING = "billing", _("Billing")
        SHIPPING = "shipping", _("Shipping")
        OTHER = "other", _("Other")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.OFFICE)
    line1 = models.CharField(_("address line 1"), max_length=200)
    line2 = models.CharField(_("address line 2"), max_length=200, blank=True, default="")
    city = models.CharField(_("city"), max_length=100, blank=True, default="")
    region = models.CharField(_("province / state"), max_length=100, blank=True, default="")
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True, default="")
    country = models.CharField(_("country"), max_length=2, blank=True, default="")

    class Meta:
        ordering = ["id"]
        verbose_name = _("address")
        verbose_name_plural = _("addresses")

    def __str__(self) -> str:
        return ", ".join(part for part in (self.line1, self.line2, self.city, self.region, self.country) if part)


class Person(Party):
    """An individual: a contact at an account, or a consumer standing alone.

    Names are stored as family and given name; `full_name` is derived in the order the name's
    script expects (张伟 / Wei Zhang) so lists sort and display naturally for both.
    """

    family_name = models.CharField(_("family name"), max_length=100, blank=True, default="")
    given_name = models.CharField(_("given name"), max_length=100, blank=True, default="")
    full_name = models.CharField(_("name"), max_length=201)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    grade = models.CharField(_("grade"), max_length=1, choices=Grade.choices, blank=True, default="")
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, blank=True, default=""
    )
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=10, choices=Channel.choices, blank=True, default=""
    )
    preferences = models.TextField(_("what they prefer"), blank=True, default="")
    buying_motives = models.TextField(_("why they buy"), blank=True, default="")
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="people")

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        indexes = [
            models.Index(fields=["full_name", "id"], name="cust_person_name_idx"),
            models.Index(fields=["created_at", "id"], name="cust_person_created_idx"),
            models.Index(fields=["updated_at", "id"], name="cust_person_updated_idx"),
            models.Index(fields=["owner", "full_name", "id"], name="cust_person_owner_name_idx"),
            models.Index(fields=["lifecycle_stage", "full_name", "id"], name="cust_person_stage_name_idx"),
            models.Index(fields=["owner", "last_follow_up_at"], name="cust_pers_owner_followup_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name


class EmailAddress(models.Model):
    class Kind(models.TextChoices):
        WORK = "work", _("Work")
        PERSONAL = "personal", _("Personal")
        OTHER = "other", _("Other")

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="emails")
    address = models.CharField(_("email"), max_length=254, db_index=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.WORK)
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        verbose_name = _("e-mail address")
        verbose_name_plural = _("e-mail addresses")
        ordering = ["-is_primary", "id"]
        constraints = [models.UniqueConstraint(fields=["person", "address"], name="cust_email_unique_per_person")]

    def __str__(self) -> str:
        return self.address


class PhoneNumber(models.Model):
    class Kind(models.TextChoices):
        MOBILE = "mobile", _("Mobile")
        WORK = "work", _("Work")
        HOME = "home", _("Home")
        OTHER = "other", _("Other")

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(_("phone"), max_length=32, db_index=True, help_text=_("E.164, e.g. +8613812345678"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.MOBILE)
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        ordering = ["-is_primary", "id"]
        constraints = [models.UniqueConstraint(fields=["person", "number"], name="cust_phone_unique_per_person")]

    def __str__(self) -> str:
        return self.number


class RoleKind(models.TextChoices):
    DECISION_MAKER = "decision_maker", _("Decision maker")
    PURCHASER = "purchaser", _("Purchaser")
    USER = "user", _("User / operator")
    INFLUENCER = "influencer", _("Influencer")
    FINANCE = "finance", _("Finance")
    TECHNICAL = "technical", _("Technical")


class Role(models.Model):
    """A person's role at an account, so the buyer and the user of a product are told apart."""

    person = models.ForeignKey(Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="roles")
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="roles")
    kind = models.CharField(_("role"), max_length=16, choices=RoleKind.choices)
    job_title = models.CharField(_("job title"), max_length=100, blank=True, default="")
    is_primary_contact = models.BooleanField(_("primary contact"), default=False)
    note = models.CharField(_("note"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account_id", "person_id", "kind"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        constraints = [models.UniqueConstraint(fields=["person", "account", "kind"], name="cust_role_unique")]

    def __str__(self) -> str:
        return f"{self.person} — {self.get_kind_display()} @ {self.account}"


class RelationshipKind(models.TextChoices):
    REFERRED_BY = "referred_by", _("Referred by")
    BUYS_FOR = "buys_for", _("Buys for")
    WORKS_AT = "works_at", _("Works at")
    FAMILY = "family", _("Family")
    SELLS_THROUGH = "sells_through", _("Sells through")
    SUPPLIES = "supplies", _("Supplies")
    COMPETES_WITH = "competes_with", _("Competes with")


class Relationship(models.Model):
    """A directed link between two parties: "<from> <kind> <to>", e.g. "Li Na referred_by Wang Fang".

    Each side is exactly one account or one person, checked by the database.
    """

    kind = models.CharField(_("relationship"), max_length=16, choices=RelationshipKind.choices)
    from_account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    from_person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="relationships_from"
    )
    to_account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    to_person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="relationships_to"
    )
    note = models.CharField(_("note"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("relationship")
        verbose_name_plural = _("relationships")
        constraints = [
            models.CheckConstraint(
                condition=(Q(from_account__isnull=False) & Q(from_person__isnull=True))
                | (Q(from_account__isnull=True) & Q(from_person__isnull=False)),
                name="cust_relationship_one_from",
            ),
            models.CheckConstraint(
                condition=(Q(to_account__isnull=False) & Q(to_person__isnull=True))
                | (Q(to_account__isnull=True) & Q(to_person__isnull=False)),
                name="cust_relationship_one_to",
            ),
        ]
        indexes = [
            models.Index(fields=["from_account", "kind"], name="cust_rel_from_account_idx"),
            models.Index(fields=["to_account", "kind"], name="cust_rel_to_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source_party} {self.get_kind_display()} {self.target_party}"

    @property
    def source_party(self) -> "Account | Person":
        party = self.from_account or self.from_person
        if party is None:  # excluded by the cust_relationship_one_from constraint
            raise ValueError("relationship has no source")
        return party

    @property
    def target_party(self) -> "Account | Person":
        party = self.to_account or self.to_person
        if party is None:  # excluded by the cust_relationship_one_to constraint
            raise ValueError("relationship has no target")
        return party


class LifecycleChange(models.Model):
    """Each move between lifecycle stages; later analytics reads these as the lifecycle flow."""

    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="lifecycle_changes"
    )
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="lifecycle_changes"
    )
    from_stage = models.CharField(max_length=16, choices=LifecycleStage.choices, blank=True, default="")
    to_stage = models.CharField(max_length=16, choices=LifecycleStage.choices)
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name = _("lifecycle change")
        verbose_name_plural = _("lifecycle changes")
        ordering = ["-changed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False) & Q(person__isnull=True))
                | (Q(account__isnull=True) & Q(person__isnull=False)),
                name="cust_lifecycle_one_party",
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_stage or '—'} → {self.to_stage}"


class ConsentPurpose(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    PROFILING = "profiling", _("Profiling")
    SERVICE = "service", _("Service")


class ConsentRecord(models.Model):
    """Append-only proof of each grant or withdrawal: what was shown, where, when, by whom.

    Never updated or deleted; the current state is the newest record per purpose and channel.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(_("purpose"), max_length=16, choices=ConsentPurpose.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(
        pgettext_lazy("consent", "source"), max_length=100, help_text=_("Where consent was given, e.g. signup form")
    )
    wording = models.TextField(_("wording shown"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True, db_index=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["person", "purpose", "channel", "-recorded_at"], name="cust_consent_lookup_idx")
        ]

    def __str__(self) -> str:
        action = "granted" if self.granted else "withdrawn"
        return f"{self.purpose}/{self.channel} {action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValueError("Consent records are append-only; record a new grant or withdrawal instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError("Consent records are append-only and cannot be deleted.")


class SearchTerm(models.Model):
    """Search keys for one record, so substring-style search stays an index range scan at any size.

    Two-character pairs of a Chinese name, reversed phone digits (found by their last digits),
    e-mail parts and name words; see `customers.search`.
    """

    term = models.CharField(max_length=64)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("search key")
        verbose_name_plural = _("search keys")
        indexes = [
            models.Index(fields=["term", "person"], name="cust_search_person_idx", condition=Q(person__isnull=False)),
            models.Index(
                fields=["term", "account"], name="cust_search_account_idx", condition=Q(account__isnull=False)
            ),
            models.Index(fields=["person"], name="cust_search_by_person_idx"),
            models.Index(fields=["account"], name="cust_search_by_account_idx"),
        ]

    def __str__(self) -> str:
        return self.term
