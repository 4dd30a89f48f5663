"""What customers buy: products, price lists, orders with a buyer and a user per line, payments.

Orders are the purchase history the analytics engine reads. The buyer (购买人) is the party who
pays: an account for B2B, a person for B2C. Each line may name a different user (使用人): the
driver of a fleet owner's van, the child a parent buys for.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ProductCategory(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.ForeignKey(
        ProductCategory,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="products",
    )
    description = models.TextField(_("description"), blank=True, default="")
    unit = models.CharField(_("unit"), max_length=16, blank=True, default="")
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2, default=Decimal("0"))
    unit_cost = models.DecimalField(_("unit cost"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        indexes = [
            models.Index(fields=["name", "id"], name="commerce_product_name_idx"),
            models.Index(fields=["unit_price", "id"], name="commerce_product_price_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class PriceList(models.Model):
    """Prices in one currency for one kind of customer; a product missing here sells at its unit price."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    is_default = models.BooleanField(_("default"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"


class PriceListItem(models.Model):
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="prices")
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        constraints = [
            models.UniqueConstraint(fields=["price_list", "product"], name="commerce_price_once_per_list"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.price_list_id}: {self.unit_price}"


class OrderChannel(models.TextChoices):
    DIRECT = "direct", _("Direct")
    ONLINE_SHOP = "online_shop", _("Online shop")
    DISTRIBUTOR = "distributor", _("Distributor")


class OrderStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("order status", "Pending")
    CONFIRMED = "confirmed", pgettext_lazy("order status", "Confirmed")
    FULFILLED = "fulfilled", pgettext_lazy("order status", "Fulfilled")
    CANCELLED = "cancelled", pgettext_lazy("order status", "Cancelled")
    RETURNED = "returned", pgettext_lazy("order status", "Returned")


class Order(models.Model):
    number = models.CharField(_("order number"), max_length=40, unique=True)
    external_id = models.CharField(
        _("external id"),
        max_length=100,
        null=True,
        blank=True,
        unique=True,
        help_text=_("The order's id in the shop or system that sent it; a feed sent twice is stored once."),
    )
    # Not indexed alone: `commerce_order_account_idx` / `_person_idx` lead with the buyer.
    buyer_account = models.ForeignKey(
        "customers.Account",
        verbose_name=_("buyer (account)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
    )
    buyer_person = models.ForeignKey(
        "customers.Person",
        verbose_name=_("buyer (person)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=16, choices=OrderChannel.choices, default=OrderChannel.DIRECT)
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.CONFIRMED)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    price_list = models.ForeignKey(
        PriceList, verbose_name=_("price list"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ordered_at = models.DateTimeField(_("ordered at"))
    payment_due_date = models.DateField(_("payment due"), null=True, blank=True)
    subtotal_amount = models.DecimalField(_("subtotal"), max_digits=14, decimal_places=2, default=Decimal("0"))
    discount_amount = models.DecimalField(_("discount"), max_digits=14, decimal_places=2, default=Decimal("0"))
    tax_amount = models.DecimalField(_("tax"), max_digits=14, decimal_places=2, default=Decimal("0"))
    total_amount = models.DecimalField(_("total"), max_digits=14, decimal_places=2, default=Decimal("0"))
    paid_amount = models.DecimalField(_("paid"), max_digits=14, decimal_places=2, default=Decimal("0"))
    note = models.TextField(_("note"), blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-ordered_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.CheckConstraint(
                condition=Q(buyer_account__isnull=False) | Q(buyer_person__isnull=False),
                name="commerce_order_has_buyer",
            ),
        ]
        indexes = [
            models.Index(fields=["ordered_at", "id"], name="commerce_order_date_idx"),
            # Analytics finds the orders changed since its last refresh of purchase summaries.
            models.Index(fields=["updated_at"], name="commerce_order_updated_idx"),
            # The buyer indexes carry what analytics reads of a customer's purchases, so
            # recomputing or probing a customer reads the index alone (PostgreSQL; other
            # databases index the key columns only).
            models.Index(
                fields=["buyer_person", "ordered_at"],
                include=["total_amount", "status", "id", "buyer_account"],
                name="commerce_order_person_idx",
            ),
            models.Index(
                fields=["buyer_account", "ordered_at"],
                include=["total_amount", "status", "id"],
                name="commerce_order_account_idx",
            ),
            models.Index(fields=["total_amount", "id"], name="commerce_order_total_idx"),
            models.Index(fields=["status", "ordered_at"], name="commerce_order_status_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    product = models.ForeignKey(
        Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.PROTECT, related_name="order_lines"
    )
    description = models.CharField(_("description"), max_length=255)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3, default=Decimal("1"))
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    discount_amount = models.DecimalField(_("discount"), max_digits=14, decimal_places=2, default=Decimal("0"))
    line_total = models.DecimalField(_("line total"), max_digits=14, decimal_places=2)
    user_person = models.ForeignKey(
        "customers.Person",
        verbose_name=_("user"),
        help_text=_("Who uses or receives this line, where it is not the buyer."),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="used_order_lines",
    )

    class Meta:
        ordering = ["order", "position", "id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")

    def __str__(self) -> str:
        return f"{self.description} × {self.quantity_text}"

    @property
    def quantity_text(self) -> str:
        """10, 1.5, 0.25: the quantity without trailing zeros and never as 1E+1."""
        text = f"{self.quantity:f}"
        return text.rstrip("0").rstrip(".") if "." in text else text


class OrderNumberCounter(models.Model):
    """The last order number handed out, one row per prefix.

    Services bump it with an `UPDATE ... SET value = value + n`, which locks the row until the
    transaction ends, so two clerks (or a feed and a clerk) never get the same number; a bulk
    feed reserves a whole range in one statement.
    """

    prefix = models.CharField(max_length=10, unique=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}{self.value}"


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    CARD = "card", _("Card")
    CASH = "cash", _("Cash")
    ALIPAY = "alipay", _("Alipay")
    WECHAT_PAY = "wechat_pay", _("WeChat Pay")
    OTHER = "other", _("Other")


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    paid_at = models.DateTimeField(_("paid at"))
    method = models.CharField(_("method"), max_length=16, choices=PaymentMethod.choices, default=PaymentMethod.OTHER)
    reference = models.CharField(_("reference"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-paid_at", "-id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on {self.paid_at:%Y-%m-%d}"


class CustomerPriceList(models.Model):
    """The price list a customer buys at (one row per customer; none: the currency's default list).

    Kept here rather than as a field on the customer because `customers` may not know about
    price lists; a manager moves a customer to another list (e.g. one served at a loss) through
    `commerce.services.assign_price_list`, which records the move in the customer's history.
    """

    account = models.OneToOneField(
        "customers.Account",
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assigned_price_list",
    )
    person = models.OneToOneField(
        "customers.Person",
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assigned_price_list",
    )
    price_list = models.ForeignKey(
        PriceList, verbose_name=_("price list"), on_delete=models.PROTECT, related_name="customers"
    )
    assigned_at = models.DateTimeField(_("assigned at"), auto_now=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("customer's price list")
        verbose_name_plural = _("customers' price lists")
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False) & Q(person__isnull=True))
                | (Q(account__isnull=True) & Q(person__isnull=False)),
                name="commerce_customer_price_list_one_party",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id or self.person_id}: {self.price_list_id}"
