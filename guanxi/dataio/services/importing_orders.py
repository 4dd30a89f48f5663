"""Importing orders: one file row is one order line, rows with the same order reference are one order.

The order reference becomes the order's `external_id`, so importing the same file twice stores
each order once (the second time its rows are "skipped as duplicates"). Orders are written by
`commerce.services.bulk_create_orders`, the shop feed's service, never by this module: numbers,
prices from price lists, totals, visibility of the buyer, history and the buyer's "last deal
won" are the feed's rules. A paid amount travels in the feed entry as the order's payment, so
the feed checks it with the payment rules and writes all payments of a batch in one INSERT (one
`record_payment` per order locked and updated each order again: 20,000 lines took minutes).

Before anything is handed to commerce, every row is checked here so that each problem names its
line and column: the reference, the date (several formats), the buyer (an account by name, ID
or phone; a contact by e-mail, phone, name or ID, as `customers.normalise` normalises them), the
line's user (使用人, a contact), the SKU (it must exist), amounts, the choices, and that the rows
of one order agree on the order's own fields (one buyer, one currency, one date…). An order with
any bad row is rejected whole: its good rows are rejected "with their order", so the rejected-rows
file holds whole orders to fix and import again.

A dry run calls the very same services inside a savepoint it then rolls back, so it reports
exactly what the import will do (including the feed's own checks and the payments) and leaves
nothing behind; `good_rows` keeps each batch in its own transaction (`importing._pass`).

Batches never split an order: a first pass counts each reference's rows, and an order joins
the batch once all its rows have been read, wherever they are in the file.
"""

import csv
import datetime
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from guanxi.commerce import services as commerce
from guanxi.commerce.models import Order, OrderChannel, OrderStatus, PaymentMethod, Product
from guanxi.commerce.services.common import CENT, parse_amount
from guanxi.commerce.services.orders import PAYABLE_STATUSES
from guanxi.customers.models import Account, EmailAddress, Person, PhoneNumber
from guanxi.customers.normalise import InvalidValueError, normalise_email, normalise_phone
from guanxi.dataio import mapping as mapping_rules
from guanxi.dataio import readers
from guanxi.dataio.models import ImportJob
from guanxi.dataio.services.importing import (
    BATCH_SIZE,
    Counters,
    Outcome,
    choice_index,
    clean_cell,
    job_path,
    parse_date,
    require_order_importer,
)
from guanxi.staff import access
from guanxi.staff.models import User

MAX_REFERENCE = 100  # Order.external_id
MAX_NOTE = 10_000
_PHONE_LIKE = re.compile(r"\+?[\d\s\-()]{5,}")
_TIME = (
    r"(?P<hour>\d{1,2})\s*[:：时点]\s*(?P<minute>\d{2})(?:\s*[:：分]\s*(?P<second>\d{2})(?:\.\d+)?)?\s*[分秒]?"
    r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?"
)
_DATETIME = re.compile(
    r"(?P<date>\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*[日号]?|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}"
    r"|\d{8})(?:(?:\s+|T|日|号)" + _TIME + r")?\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?"
)
_AMOUNT_NOISE = re.compile(r"[\s,，¥￥$€£]|元|RMB|CNY", re.IGNORECASE)
_CURRENCIES = {
    "rmb": "CNY", "人民币": "CNY", "元": "CNY", "¥": "CNY", "￥": "CNY", "美元": "USD", "$": "USD", "us$": "USD",
    "欧元": "EUR", "€": "EUR", "港币": "HKD", "港元": "HKD", "日元": "JPY", "英镑": "GBP", "£": "GBP",
}  # fmt: skip
_LINE_ERROR = re.compile(r"lines\[(\d+)\]\.(\w+)")
#: A feed error's field → the import field whose column it points at.
_FEED_FIELDS = {
    "external_id": "external_id",
    "number": "external_id",
    "ordered_at": "ordered_at",
    "channel": "channel",
    "status": "status",
    "currency": "currency",
    "note": "note",
    "sku": "sku",
    "description": "description",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "discount_amount": "discount",
    "user_person": "user",
    "user_person_id": "user",
}


# ---------------------------------------------------------------------------------------------
# The sample file


def sample_orders_csv() -> str:
    """A CSV a user can download and fill in: the header (in their language) and two rows of one
    order whose second line is used by someone other than the buyer."""
    keys = (
        "external_id", "ordered_at", "buyer", "buyer_email", "sku", "description", "quantity", "unit_price",
        "discount", "user", "currency", "channel", "status", "paid_amount", "payment_method", "note",
    )  # fmt: skip
    labels = {f.key: str(f.label) for f in mapping_rules.base_fields(mapping_rules.ORDERS)}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([labels[key] for key in keys])
    writer.writerow(
        ["SHOP-10001", "2026-05-01 10:30", "张伟", "zhangwei@example.com", "TEA-001", "", "2", "88.00", "0",
         "", "CNY", "online_shop", "confirmed", "276.00", "alipay", ""]
    )  # fmt: skip
    writer.writerow(
        ["SHOP-10001", "2026-05-01 10:30", "张伟", "zhangwei@example.com", "", "Gift wrapping", "1", "100.00",
         "0", "lina@example.com", "CNY", "online_shop", "confirmed", "276.00", "alipay", ""]
    )  # fmt: skip
    return "\ufeff" + buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Cell values


def parse_ordered_at(value: str) -> datetime.datetime:
    """2026-05-01T10:30:00+08:00, 2026-05-01 10:30, 2026/5/1 10:30:15, 2026年5月1日 10时30分,
    05/01/2026 2:30 PM, 20260501 or a date alone (midnight, local time); ValueError otherwise."""
    text = " ".join(value.split())
    try:
        parsed = parse_datetime(text)
    except ValueError:
        parsed = None
    if parsed is None:
        match = _DATETIME.fullmatch(text)
        if not match:
            raise ValueError(text)
        day = parse_date(match["date"])
        hour = int(match["hour"] or 0)
        minute = int(match["minute"] or 0)
        second = int(match["second"] or 0)
        if match["ampm"]:
            if not 1 <= hour <= 12:
                raise ValueError(text)
            hour = hour % 12 + (12 if match["ampm"][0] in "Pp" else 0)
        parsed = datetime.datetime(day.year, day.month, day.day, hour, minute, second)  # made aware below
        tz = match["tz"]
        if tz:
            offset = datetime.timedelta(0)
            if tz != "Z":
                sign = -1 if tz[0] == "-" else 1
                digits = tz[1:].replace(":", "")
                offset = sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            parsed = parsed.replace(tzinfo=datetime.timezone(offset))
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def parse_money(value: str, *, places: int = 2, positive: bool = False) -> Decimal:
    """`¥1,280.00`, `1280元`, `RMB 99` → Decimal; ValueError with the user's message otherwise."""
    return parse_amount(_AMOUNT_NOISE.sub("", value), places=places, positive=positive)


def currency_code(value: str) -> str:
    code = _CURRENCIES.get(value.strip().casefold(), value.strip())
    if not re.fullmatch(r"[A-Za-z]{3}", code):
        raise ValueError(value)
    return code.upper()


# ---------------------------------------------------------------------------------------------
# Rows and orders


@dataclass
class _Row:
    """One file row, parsed: its order's own values and its line's values."""

    out: Outcome
    reference: str
    order: dict[str, Any] = field(default_factory=dict)  # order-level field -> parsed value
    shown: dict[str, str] = field(default_factory=dict)  # order-level field -> the cell, for messages
    buyer_key: tuple[str, str] | None = None  # (field, normalised value) of the first filled buyer field
    user_key: tuple[str, str] | None = None
    sku: str = ""
    description: str = ""
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    discount: Decimal | None = None
    user_person_id: int | None = None


@dataclass
class _Order:
    reference: str
    rows: list[_Row]
    buyer: tuple[str, int] | None = None  # ("account" | "person", id)
    entry: dict[str, Any] = field(default_factory=dict)  # what the feed takes

    @property
    def first(self) -> _Row:
        return self.rows[0]

    def has_errors(self) -> bool:
        return any(row.out.errors for row in self.rows)


class _Lookups:
    """Everything a batch's rows refer to, one query per kind."""

    def __init__(self, actor: User, rows: Sequence[_Row]) -> None:
        keys = [key for row in rows for key in (row.buyer_key, row.user_key) if key is not None]
        emails = {value for kind, value in keys if kind == "email"}
        phones = {value for kind, value in keys if kind == "phone"}
        names = {value for kind, value in keys if kind == "name"}
        account_ids = {int(value) for kind, value in keys if kind == "account_id"}
        person_ids = {int(value) for kind, value in keys if kind == "person_id"}
        self.by_email: dict[str, int] = {}
        for address, person_id in (
            EmailAddress.objects.filter(address__in=emails)
            .order_by("-is_primary", "person_id")
            .values_list("address", "person_id")
        ):
            self.by_email.setdefault(address, person_id)
        self.person_by_phone: dict[str, int] = {}
        self.account_by_phone: dict[str, int] = {}
        if phones:
            for number, person_id in (
                PhoneNumber.objects.filter(number__in=phones)
                .order_by("-is_primary", "person_id")
                .values_list("number", "person_id")
            ):
                self.person_by_phone.setdefault(number, person_id)
            for number, account_id in (
                Account.objects.filter(phone__in=phones).order_by("pk").values_list("phone", "pk")
            ):
                self.account_by_phone.setdefault(number, account_id)
        # Names are matched among the records the importer can see, so a namesake elsewhere in
        # the company neither blocks nor receives the order.
        self.accounts_named: dict[str, list[int]] = {}
        self.people_named: dict[str, list[int]] = {}
        if names:
            for pk, name in Account.objects.filter(
                access.visible_q(actor, team_field="team"), name__in=names
            ).values_list("pk", "name"):
                self.accounts_named.setdefault(name, []).append(pk)
            for pk, name in Person.objects.filter(access.visible_q(actor), full_name__in=names).values_list(
                "pk", "full_name"
            ):
                self.people_named.setdefault(name, []).append(pk)
        self.account_ids = set(Account.objects.filter(pk__in=account_ids).values_list("pk", flat=True))
        self.person_ids = set(Person.objects.filter(pk__in=person_ids).values_list("pk", flat=True))
        skus = {row.sku for row in rows if row.sku}
        self.skus = set(Product.objects.filter(sku__in=skus).values_list("sku", flat=True)) if skus else set()

    def buyer(self, key: tuple[str, str]) -> tuple[tuple[str, int] | None, str]:
        """(("account" | "person", id), "") or (None, why not)."""
        kind, value = key
        if kind == "account_id":
            if int(value) in self.account_ids:
                return ("account", int(value)), ""
            return None, _("No account has the ID %(id)s.") % {"id": value}
        if kind == "person_id":
            if int(value) in self.person_ids:
                return ("person", int(value)), ""
            return None, _("No contact has the ID %(id)s.") % {"id": value}
        if kind == "email":
            pk = self.by_email.get(value)
            if pk is None:
                return None, _("No contact has the e-mail %(value)s; import the customer first.") % {"value": value}
            return ("person", pk), ""
        if kind == "phone":
            pk = self.person_by_phone.get(value)
            if pk is not None:
                return ("person", pk), ""
            pk = self.account_by_phone.get(value)
            if pk is not None:
                return ("account", pk), ""
            return None, _("No customer has the phone %(value)s; import the customer first.") % {"value": value}
        accounts = self.accounts_named.get(value, [])
        if len(accounts) == 1:
            return ("account", accounts[0]), ""
        if len(accounts) > 1:
            return None, _("%(count)d accounts are called %(value)s; use the buyer's account ID.") % {
                "count": len(accounts),
                "value": value,
            }
        return self._person_named(value)

    def user(self, key: tuple[str, str]) -> tuple[int | None, str]:
        """The line's user (使用人) is always a contact."""
        found, reason = self.buyer(key) if key[0] != "name" else self._person_named(key[1])
        if found is None:
            return None, reason
        if found[0] != "person":
            return None, _("A line's user is a contact, not an account.")
        return found[1], ""

    def _person_named(self, value: str) -> tuple[tuple[str, int] | None, str]:
        people = self.people_named.get(value, [])
        if len(people) == 1:
            return ("person", people[0]), ""
        if len(people) > 1:
            return None, _("%(count)d contacts are called %(value)s; use their e-mail, phone or contact ID.") % {
                "count": len(people),
                "value": value,
            }
        return None, _("No customer you can see is called %(value)s; import the customer first.") % {"value": value}


class _RollbackError(Exception):
    """Undoes a dry run's writes."""


class OrderRun:
    """One pass over an orders file, with the same interface as `importing._Run`."""

    def __init__(
        self, job: ImportJob, actor: User, *, write: bool, progress: Callable[[ImportJob], None] | None = None
    ) -> None:
        require_order_importer(actor)
        self.job = job
        self.actor = actor
        self.write = write
        self.progress = progress
        self.counters = Counters()
        self.columns: dict[str, str] = {key: column for column, key in job.mapping.items() if key}
        self.labels = {f.key: str(f.label) for f in mapping_rules.base_fields(mapping_rules.ORDERS)}
        self.channels = choice_index(
            list(OrderChannel.choices),
            {"直销": "direct", "direct sale": "direct", "online": "online_shop", "shop": "online_shop",
             "网店": "online_shop", "线上": "online_shop", "电商": "online_shop", "经销商": "distributor",
             "经销": "distributor", "分销": "distributor", "reseller": "distributor", "dealer": "distributor"},
        )  # fmt: skip
        self.statuses = choice_index(
            list(OrderStatus.choices),
            {"待处理": "pending", "待付款": "pending", "已确认": "confirmed", "已付款": "confirmed",
             "paid": "confirmed", "已完成": "fulfilled", "已发货": "fulfilled", "交易成功": "fulfilled",
             "shipped": "fulfilled", "completed": "fulfilled", "已取消": "cancelled", "交易关闭": "cancelled",
             "canceled": "cancelled", "已退货": "returned", "退货": "returned"},
        )  # fmt: skip
        self.methods = choice_index(
            list(PaymentMethod.choices),
            {"支付宝": "alipay", "微信": "wechat_pay", "微信支付": "wechat_pay", "wechat": "wechat_pay",
             "银行转账": "bank_transfer", "转账": "bank_transfer", "bank": "bank_transfer", "现金": "cash",
             "刷卡": "card", "银行卡": "card", "信用卡": "card", "credit card": "card", "其他": "other"},
        )  # fmt: skip
        self.note = f"import {job.pk}"

    # -- reading -----------------------------------------------------------------------------------

    def _reference(self, cells: dict[str, str]) -> str:
        column = self.columns.get("external_id")
        return clean_cell(cells.get(column, "")) if column else ""

    def batches(self) -> Iterator[list[readers.Row]]:
        """Batches of about BATCH_SIZE rows holding whole orders (see the module docstring)."""
        path = job_path(self.job)
        counts = Counter(
            self._reference(row.cells)
            for row in readers.open_reader(path, self.job.file_format, self.job.encoding).rows()
        )
        waiting: dict[str, list[readers.Row]] = {}
        batch: list[readers.Row] = []
        for row in readers.open_reader(path, self.job.file_format, self.job.encoding).rows():
            reference = self._reference(row.cells)
            if not reference:
                batch.append(row)
            else:
                rows = waiting.setdefault(reference, [])
                rows.append(row)
                if len(rows) == counts[reference]:
                    batch.extend(waiting.pop(reference))
            if len(batch) >= BATCH_SIZE:
                yield batch
                batch = []
        for rows in waiting.values():  # only if the file changed between the two reads
            batch.extend(rows)
        if batch:
            yield batch

    # -- checking one row ----------------------------------------------------------------------------

    def _cell(self, out: Outcome, key: str, limit: int = 255) -> str:
        column = self.columns.get(key)
        if column is None:
            return ""
        value = clean_cell(out.cells.get(column, ""))
        if len(value) > limit:
            out.errors.append(
                (
                    column,
                    _("Too long: %(length)d characters, at most %(limit)d.") % {"length": len(value), "limit": limit},
                )
            )
            return ""
        return value

    def _error(self, out: Outcome, key: str, message: str) -> None:
        out.errors.append((self.columns.get(key, ""), message))

    def _party_key(self, out: Outcome, key: str, *, id_kind: str = "") -> tuple[str, str] | None:
        """(kind, normalised value) of a buyer or user cell: an ID, an e-mail, a phone or a name."""
        value = self._cell(out, key, 201)
        if not value:
            return None
        try:
            if id_kind:
                number = value.lstrip("#")
                if not number.isdigit():
                    self._error(out, key, _("%(value)s is not an ID; IDs are whole numbers.") % {"value": value})
                    return None
                return id_kind, str(int(number))
            if key.endswith("email") or "@" in value:
                return "email", normalise_email(value)
            if key.endswith("phone") or _PHONE_LIKE.fullmatch(value):
                return "phone", normalise_phone(value)
        except InvalidValueError as exc:
            self._error(out, key, str(exc))
            return None
        return "name", " ".join(value.split())

    def _choice(self, out: Outcome, key: str, index: dict[str, str]) -> str:
        value = self._cell(out, key, 100)
        if not value:
            return ""
        found = index.get(value.casefold())
        if found is None:
            values = ", ".join(sorted(set(index.values())))
            self._error(out, key, _("%(value)s is not one of: %(values)s.") % {"value": value, "values": values})
            return ""
        return found

    def _amount(self, out: Outcome, key: str, *, places: int = 2, positive: bool = False) -> Decimal | None:
        value = self._cell(out, key, 40)
        if not value:
            return None
        try:
            return parse_money(value, places=places, positive=positive)
        except ValueError as exc:
            message = str(exc)
            if key == "quantity":
                try:
                    if Decimal(_AMOUNT_NOISE.sub("", value)) <= 0:
                        message = _("The quantity must be more than zero; a return is an order with status returned.")
                except ArithmeticError:
                    pass
            self._error(out, key, message)
            return None

    def _check_row(self, row: readers.Row) -> _Row:
        out = Outcome(row.line, row.cells)
        reference = self._cell(out, "external_id", MAX_REFERENCE)
        if not reference and not out.errors:
            self._error(out, "external_id", _("Enter the order reference: the rows of one order share it."))
        parsed = _Row(out=out, reference=reference)
        raw_date = self._cell(out, "ordered_at", 60)
        if raw_date:
            try:
                ordered_at = parse_ordered_at(raw_date)
                if ordered_at.year < 1970 or ordered_at > timezone.now() + datetime.timedelta(days=1):
                    self._error(out, "ordered_at", _("%(value)s is not a plausible order date.") % {"value": raw_date})
                else:
                    parsed.order["ordered_at"] = ordered_at
                    parsed.shown["ordered_at"] = raw_date
            except ValueError:
                self._error(
                    out,
                    "ordered_at",
                    _("%(value)s is not a date we can read; write it as 2026-05-01 10:30, 2026/5/1 or 2026年5月1日.")
                    % {"value": raw_date},
                )
        for key in mapping_rules.BUYER_FIELDS:
            id_kind = {"buyer_account_id": "account_id", "buyer_person_id": "person_id"}.get(key, "")
            buyer = self._party_key(out, key, id_kind=id_kind)
            if buyer is not None and parsed.buyer_key is None:
                parsed.buyer_key = buyer
                parsed.order["buyer"] = buyer
                parsed.shown["buyer"] = buyer[1]
        raw_currency = self._cell(out, "currency", 20)
        if raw_currency:
            try:
                parsed.order["currency"] = currency_code(raw_currency)
                parsed.shown["currency"] = parsed.order["currency"]
            except ValueError:
                self._error(
                    out,
                    "currency",
                    _("%(value)s is not a currency; use a three-letter code such as CNY.") % {"value": raw_currency},
                )
        for key, index in (("channel", self.channels), ("status", self.statuses), ("payment_method", self.methods)):
            value = self._choice(out, key, index)
            if value:
                parsed.order[key] = value
                parsed.shown[key] = value
        paid = self._amount(out, "paid_amount")
        if paid:
            parsed.order["paid_amount"] = paid
            parsed.shown["paid_amount"] = str(paid)
        note = self._cell(out, "note", MAX_NOTE)
        if note:
            parsed.order["note"] = note
            parsed.shown["note"] = note[:40]
        parsed.sku = self._cell(out, "sku", 64)
        parsed.description = self._cell(out, "description", 255)
        if not parsed.sku and not parsed.description:
            key = "sku" if "sku" in self.columns else "description"
            self._error(out, key, _("Enter the product's SKU or describe the line."))
        parsed.quantity = self._amount(out, "quantity", places=3, positive=True)
        parsed.unit_price = self._amount(out, "unit_price")
        parsed.discount = self._amount(out, "discount")
        parsed.user_key = self._party_key(out, "user_person_id", id_kind="person_id") or self._party_key(out, "user")
        return parsed

    # -- checking one order ----------------------------------------------------------------------------

    def _check_consistency(self, order: _Order) -> None:
        """The rows of one order must agree on the order's own fields; the first filled one sets each."""
        first: dict[str, tuple[Any, str, int]] = {}
        for row in order.rows:
            for key, value in row.order.items():
                earlier = first.get(key)
                if earlier is None:
                    first[key] = (value, row.shown.get(key, ""), row.out.line)
                    continue
                if earlier[0] == value:
                    continue
                column_key = key
                if key == "buyer" and row.buyer_key is not None:
                    column_key = next(
                        (k for k in mapping_rules.BUYER_FIELDS if k in self.columns and self._cell_of(row, k)), "buyer"
                    )
                if key == "currency":
                    message = _("Mixed currencies in one order: line %(line)d is in %(value)s.")
                elif key == "buyer":
                    message = _("Mixed buyers in one order: line %(line)d names %(value)s.")
                else:
                    message = _("Differs from line %(line)d of the same order (%(value)s); an order has one %(field)s.")
                self._error(
                    row.out,
                    column_key,
                    message % {"line": earlier[2], "value": earlier[1], "field": self.labels.get(key, key).lower()},
                )
        order.entry = {key: value for key, (value, _shown, _line) in first.items()}

    def _cell_of(self, row: _Row, key: str) -> str:
        column = self.columns.get(key)
        return clean_cell(row.out.cells.get(column, "")) if column else ""

    def _check_order(self, order: _Order, lookups: _Lookups) -> None:
        self._check_consistency(order)
        for row in order.rows:
            if row.sku and row.sku not in lookups.skus:
                self._error(row.out, "sku", _("No product has the SKU %(sku)s.") % {"sku": row.sku})
            if row.user_key is not None:
                user_id, reason = lookups.user(row.user_key)
                if user_id is None:
                    self._error(row.out, "user_person_id" if row.user_key[0] == "person_id" else "user", reason)
                row.user_person_id = user_id
        buyer_key = order.entry.get("buyer")
        buyer_columns = {self.columns.get(k) for k in mapping_rules.BUYER_FIELDS}
        if buyer_key is None and not any(c in buyer_columns for row in order.rows for c, _r in row.out.errors):
            # The order's buyer may sit on any of its rows (many exports fill the first row only).
            first = next((k for k in mapping_rules.BUYER_FIELDS if k in self.columns), "buyer")
            self._error(
                order.first.out, first, _("Enter the buyer: an account's name, or a contact's e-mail or phone.")
            )
        if buyer_key is not None and not order.has_errors():
            order.buyer, reason = lookups.buyer(buyer_key)
            if order.buyer is None:
                row = order.first
                key = next((k for k in mapping_rules.BUYER_FIELDS if self._cell_of(row, k)), "buyer")
                self._error(row.out, key, reason)
        self._check_payment(order)

    def _check_payment(self, order: _Order) -> None:
        paid: Decimal | None = order.entry.get("paid_amount")
        if not paid or order.has_errors():
            return
        status = order.entry.get("status", OrderStatus.CONFIRMED)
        row = next(r for r in order.rows if r.order.get("paid_amount"))
        if status not in PAYABLE_STATUSES:
            self._error(
                row.out,
                "paid_amount",
                _("A %(status)s order takes no payments.") % {"status": OrderStatus(status).label},
            )
            return
        if all(r.unit_price is not None for r in order.rows):
            total = sum(
                (((r.quantity or Decimal(1)) * (r.unit_price or Decimal(0))).quantize(CENT) - (r.discount or 0))
                for r in order.rows
            )
            if paid > total:
                self._error(
                    row.out,
                    "paid_amount",
                    _("The paid amount %(paid)s is more than the order's total %(total)s.")
                    % {"paid": paid, "total": total},
                )

    def _reject_with_order(self, order: _Order) -> None:
        """A bad row rejects its whole order; the good rows say why they were left out."""
        bad_lines = ", ".join(str(row.out.line) for row in order.rows if row.out.errors)
        for row in order.rows:
            row.out.action = "reject"
            if not row.out.errors:
                self._error(
                    row.out,
                    "external_id",
                    _("Not imported: line %(lines)s of the same order has a problem.") % {"lines": bad_lines},
                )

    def _feed_entry(self, order: _Order) -> dict[str, Any]:
        entry: dict[str, Any] = {"external_id": order.reference}
        assert order.buyer is not None  # noqa: S101  # set for every order without errors
        kind, pk = order.buyer
        entry["buyer_account_id" if kind == "account" else "buyer_person_id"] = pk
        entry["ordered_at"] = order.entry.get("ordered_at") or timezone.now()
        entry["channel"] = order.entry.get("channel", OrderChannel.DIRECT)
        entry["status"] = order.entry.get("status", OrderStatus.CONFIRMED)
        if "currency" in order.entry:
            entry["currency"] = order.entry["currency"]
        if "note" in order.entry:
            entry["note"] = order.entry["note"]
        lines: list[dict[str, Any]] = []
        for row in order.rows:
            line: dict[str, Any] = {"quantity": row.quantity if row.quantity is not None else Decimal(1)}
            if row.sku:
                line["sku"] = row.sku
            if row.description:
                line["description"] = row.description
            if row.unit_price is not None:
                line["unit_price"] = row.unit_price
            if row.discount is not None:
                line["discount_amount"] = row.discount
            if row.user_person_id is not None:
                line["user_person_id"] = row.user_person_id
            lines.append(line)
        entry["lines"] = lines
        paid = order.entry.get("paid_amount")
        if paid:
            entry["payments"] = [
                {
                    "amount": paid,
                    "method": order.entry.get("payment_method", PaymentMethod.OTHER),
                    "paid_at": entry["ordered_at"],
                    "reference": self.note,
                }
            ]
        return entry

    # -- a batch -------------------------------------------------------------------------------------

    def process(self, rows: list[readers.Row]) -> list[Outcome]:
        parsed = [self._check_row(row) for row in rows]
        orders: dict[str, _Order] = {}
        loose: list[_Row] = []
        for row in parsed:
            if row.reference:
                orders.setdefault(row.reference, _Order(row.reference, [])).rows.append(row)
            else:
                loose.append(row)
        for row in loose:
            row.out.action = "reject"
        existing = dict(Order.objects.filter(external_id__in=list(orders)).values_list("external_id", "number"))
        live = [order for reference, order in orders.items() if reference not in existing]
        for reference, number in existing.items():
            self._skip(orders[str(reference)], number)
        lookups = _Lookups(self.actor, [row for order in live for row in order.rows])
        good: list[_Order] = []
        for order in live:
            order.rows.sort(key=lambda row: row.out.line)
            self._check_order(order, lookups)
            if order.has_errors():
                self._reject_with_order(order)
            else:
                order.entry["feed"] = self._feed_entry(order)
                good.append(order)
        self._write(good)
        self.counters.processed += len(rows)
        return [row.out for row in parsed]

    def _skip(self, order: _Order, number: str) -> None:
        """An order imported before (same reference): reported once, on its first row."""
        order.rows.sort(key=lambda row: row.out.line)
        for row in order.rows:
            row.out.action = "skipped_with_order"  # neither counted nor reported: its first row is
        first = order.first.out
        first.action = "skip"
        first.skip_column = self.columns.get("external_id", "")
        first.skip_reason = _("Skipped: order %(reference)s was imported already (%(number)s).") % {
            "reference": order.reference,
            "number": number,
        }  # counted as skipped by `importing._batch`, as every "skip" outcome is

    def _write(self, orders: list[_Order]) -> None:
        """Hand the good orders, with their payments, to the feed service.

        An order the feed refuses (a payment included) is rejected whole with the feed's reason;
        the others are kept. A dry run rolls the batch's savepoint back.
        """
        if not orders:
            return
        created: list[_Order] = []
        skipped: list[tuple[_Order, str]] = []
        failed: list[_Order] = []
        try:
            with transaction.atomic():
                result = commerce.bulk_create_orders(
                    self.actor, [order.entry["feed"] for order in orders], note=self.note
                )
                for error in result.errors:
                    order = orders[error["index"]]
                    self._feed_error(order, str(error["field"]), str(error["reason"]))
                    if order not in failed:
                        failed.append(order)
                for hit in result.existing:
                    skipped.append((orders[hit["index"]], str(hit["number"])))
                created = [orders[hit["index"]] for hit in result.created]
                if not self.write:
                    raise _RollbackError
        except _RollbackError:
            pass
        for order in failed:
            self._reject_with_order(order)
        for order, number in skipped:
            self._skip(order, number)
        for order in created:
            for row in order.rows:
                row.out.action = "create"
        self.counters.created += len(created)

    def _feed_error(self, order: _Order, key: str, reason: str) -> None:
        """Put an error of the feed service on the row and column it concerns."""
        row = order.first
        match = _LINE_ERROR.fullmatch(key)
        if key == "payments" or key.startswith("payments["):
            row = next((r for r in order.rows if r.order.get("paid_amount")), row)
            field_key = "payment_method" if key.endswith(".method") else "paid_amount"
        elif match:
            position = int(match.group(1))
            row = order.rows[position] if position < len(order.rows) else row
            key = match.group(2)
            field_key = _FEED_FIELDS.get(key, "")
            if field_key == "description" and "description" not in self.columns:
                field_key = "sku"
            if field_key == "user" and "user" not in self.columns:
                field_key = "user_person_id"
        elif key.startswith("buyer"):
            field_key = next((k for k in mapping_rules.BUYER_FIELDS if self._cell_of(row, k)), "buyer")
        else:
            field_key = _FEED_FIELDS.get(key, "")
        self._error(row.out, field_key, reason)
