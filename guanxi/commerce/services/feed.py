"""An online shop's feed of orders: many orders per call, each stored once, each all-or-nothing.

The feed is idempotent on `external_id` (the shop's own order id): sending the same batch twice
stores each order once and reports the second time as "existing". Every lookup a batch needs
(existing external ids, SKUs, buyers by id, e-mail or phone, price lists, prices, visibility) is
one query per kind for the whole chunk, never one per order; a new buyer is created through
`customers.services.create_person` (source "api") so search keys and history are the same as
for a person typed in by hand.

Every order is validated before anything of its chunk is written, and the chunk's rows are
written in one transaction; an order with an error is reported with its index and field and
simply left out, the others are kept.

An order may carry the payments the shop already received (`payments`: amount, method,
paid_at, reference). They are checked with `record_payment`'s rules (a status that takes
payments, positive amounts, no more paid than the total, a known method), written with one
INSERT per chunk, and the order is stored already paid: an import of 20,000 paid orders must
not lock and update each order a second time. A refused payment rejects its whole order, as
any other error of the order does, so no order is kept without the money it came with.
"""

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from guanxi.commerce.models import (
    Order,
    OrderChannel,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentMethod,
    PriceList,
    Product,
)
from guanxi.commerce.services.common import parse_amount, require_order_writer, reserve_order_numbers
from guanxi.commerce.services.orders import (
    PAYABLE_STATUSES,
    WON_STATUSES,
    build_context,
    order_history,
    prepare_order,
)
from guanxi.core.models import ChangeAction, ChangeRecord
from guanxi.customers import services as customer_services
from guanxi.customers.models import Account, EmailAddress, Person, PhoneNumber, Source
from guanxi.customers.normalise import InvalidValueError, normalise_email, normalise_phone
from guanxi.staff.models import User

CHUNK_SIZE = 1000
ORDER_KEYS = frozenset(
    {
        "external_id",
        "number",
        "buyer_account_id",
        "buyer_person_id",
        "buyer_email",
        "buyer_phone",
        "buyer_family_name",
        "buyer_given_name",
        "ordered_at",
        "channel",
        "status",
        "currency",
        "price_list_id",
        "discount_amount",
        "tax_amount",
        "payment_due_date",
        "note",
        "lines",
        "payments",
    }
)
LINE_KEYS = frozenset(
    {"sku", "description", "quantity", "unit_price", "discount_amount", "user_person_id", "user_email", "user_phone"}
)
PAYMENT_KEYS = frozenset({"amount", "method", "paid_at", "reference"})
MAX_REFERENCE = 100  # Payment.reference


@dataclass(frozen=True)
class _Payment:
    amount: Decimal
    method: str
    paid_at: datetime.datetime | None
    reference: str


@dataclass
class BulkResult:
    """What happened to each order of a feed, by its index in the feed (from 0)."""

    created: list[dict[str, Any]] = field(default_factory=list)
    existing: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Entry:
    index: int
    data: Mapping[str, Any]
    external_id: str | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    buyer_email: str = ""
    buyer_phone: str = ""
    line_emails: dict[int, str] = field(default_factory=dict)
    line_phones: dict[int, str] = field(default_factory=dict)
    ordered_at: datetime.datetime | None = None
    payment_due_date: datetime.date | None = None
    payments: list[_Payment] = field(default_factory=list)

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _int_or_none(entry: _Entry, key: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).isdigit():
        entry.fail(key, _("Enter a whole number."))
        return None
    return int(value)


def _datetime_or_none(entry: _Entry, key: str, value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value
    if value in (None, ""):
        return None
    try:
        parsed = parse_datetime(str(value))
    except ValueError:
        parsed = None
    if parsed is None:
        entry.fail(key, _("Enter a date and time such as 2026-05-01T10:30:00+08:00."))
    return parsed


def _parse_payments(entry: _Entry, payments: Any) -> None:
    """The shape of `payments` and each payment's own rules; those needing the order come later."""
    if payments is None:
        return
    if not isinstance(payments, Sequence) or isinstance(payments, str | bytes):
        entry.fail("payments", _("Send the order's payments as a list."))
        return
    for position, payment in enumerate(payments):
        key = f"payments[{position}]"
        if not isinstance(payment, Mapping):
            entry.fail(key, _("Each payment must be an object."))
            continue
        for unknown in sorted(set(payment) - PAYMENT_KEYS):
            entry.fail(f"{key}.{unknown}", _("Unknown field."))
        amount = Decimal(0)
        try:
            amount = parse_amount(payment.get("amount"), positive=True)
        except ValueError as exc:
            entry.fail(f"{key}.amount", str(exc))
        method = _text(payment.get("method")) or PaymentMethod.OTHER
        if method not in PaymentMethod.values:
            entry.fail(f"{key}.method", _("Unknown payment method: %(value)s") % {"value": method})
        reference = _text(payment.get("reference"))
        if len(reference) > MAX_REFERENCE:
            entry.fail(f"{key}.reference", _("A reference has at most 100 characters."))
        paid_at = _datetime_or_none(entry, f"{key}.paid_at", payment.get("paid_at"))
        if paid_at is not None and timezone.is_naive(paid_at):
            paid_at = timezone.make_aware(paid_at)
        entry.payments.append(_Payment(amount=amount, method=method, paid_at=paid_at, reference=reference))


def _check_payments(entry: _Entry, order: Order) -> None:
    """`record_payment`'s rules that need the prepared order: its status and its total."""
    if not entry.payments:
        return
    if order.status not in PAYABLE_STATUSES:
        entry.fail("payments", _("A %(status)s order takes no payments.") % {"status": order.get_status_display()})
        return
    paid = Decimal(0)
    for position, payment in enumerate(entry.payments):
        outstanding = order.total_amount - paid
        if payment.amount > outstanding:
            entry.fail(
                f"payments[{position}].amount",
                _("Only %(outstanding)s %(currency)s is outstanding.")
                % {"outstanding": outstanding, "currency": order.currency},
            )
            return
        paid += payment.amount
    order.paid_amount = paid


def _parse(index: int, data: Any) -> _Entry:
    """Check one entry's shape and normalise its contact details; lookups come later, in bulk."""
    if not isinstance(data, Mapping):
        entry = _Entry(index=index, data={})
        entry.fail("", _("Each order must be an object."))
        return entry
    entry = _Entry(index=index, data=data)
    for key in sorted(set(data) - ORDER_KEYS):
        entry.fail(key, _("Unknown field."))
    entry.external_id = _text(data.get("external_id")) or None
    if entry.external_id is None:
        entry.fail("external_id", _("A feed order needs the shop's order id, so sending it twice stores it once."))
    for key in ("buyer_account_id", "buyer_person_id", "price_list_id"):
        _int_or_none(entry, key, data.get(key))
    for key, normalise, target in (
        ("buyer_email", normalise_email, "buyer_email"),
        ("buyer_phone", normalise_phone, "buyer_phone"),
    ):
        raw = _text(data.get(key))
        if raw:
            try:
                setattr(entry, target, normalise(raw))
            except InvalidValueError as exc:
                entry.fail(key, str(exc))
    raw_at = data.get("ordered_at")
    if isinstance(raw_at, datetime.datetime):
        entry.ordered_at = raw_at
    elif raw_at not in (None, ""):
        try:
            entry.ordered_at = parse_datetime(str(raw_at))
        except ValueError:
            entry.ordered_at = None
        if entry.ordered_at is None:
            entry.fail("ordered_at", _("Enter a date and time such as 2026-05-01T10:30:00+08:00."))
    raw_due = data.get("payment_due_date")
    if isinstance(raw_due, datetime.date):
        entry.payment_due_date = raw_due
    elif raw_due not in (None, ""):
        try:
            entry.payment_due_date = parse_date(str(raw_due))
        except ValueError:
            entry.payment_due_date = None
        if entry.payment_due_date is None:
            entry.fail("payment_due_date", _("Enter a date such as 2026-05-31."))
    _parse_payments(entry, data.get("payments"))
    lines = data.get("lines")
    if not isinstance(lines, Sequence) or isinstance(lines, str | bytes):
        entry.fail("lines", _("Send the order's lines as a list."))
        return entry
    for position, line in enumerate(lines):
        key = f"lines[{position}]"
        if not isinstance(line, Mapping):
            entry.fail(key, _("Each line must be an object."))
            continue
        for unknown in sorted(set(line) - LINE_KEYS):
            entry.fail(f"{key}.{unknown}", _("Unknown field."))
        _int_or_none(entry, f"{key}.user_person_id", line.get("user_person_id"))
        for name, normalise, store in (
            ("user_email", normalise_email, entry.line_emails),
            ("user_phone", normalise_phone, entry.line_phones),
        ):
            raw = _text(line.get(name))
            if raw:
                try:
                    store[position] = normalise(raw)
                except InvalidValueError as exc:
                    entry.fail(f"{key}.{name}", str(exc))
    return entry


def _lines_of(entry: _Entry) -> list[Mapping[str, Any]]:
    lines = entry.data.get("lines")
    return [line for line in lines if isinstance(line, Mapping)] if isinstance(lines, Sequence) else []


class _Lookups:
    """Everything a chunk refers to, fetched in one query per kind."""

    def __init__(self, entries: Sequence[_Entry]) -> None:
        external_ids = {e.external_id for e in entries if e.external_id}
        self.existing: dict[str, tuple[int, str]] = {
            ext: (pk, number)
            for ext, pk, number in Order.objects.filter(external_id__in=external_ids).values_list(
                "external_id", "pk", "number"
            )
            if ext is not None
        }
        live = [e for e in entries if e.external_id not in self.existing]
        skus = {_text(line.get("sku")) for e in live for line in _lines_of(e)} - {""}
        self.products = {p.sku: p for p in Product.objects.filter(sku__in=skus)} if skus else {}
        emails = {e.buyer_email for e in live if e.buyer_email} | {v for e in live for v in e.line_emails.values()}
        phones = {e.buyer_phone for e in live if e.buyer_phone} | {v for e in live for v in e.line_phones.values()}
        self.by_email: dict[str, int] = {}
        if emails:
            for address, person_id in (
                EmailAddress.objects.filter(address__in=emails)
                .order_by("-is_primary", "person_id")
                .values_list("address", "person_id")
            ):
                self.by_email.setdefault(address, person_id)
        self.by_phone: dict[str, int] = {}
        if phones:
            for number, person_id in (
                PhoneNumber.objects.filter(number__in=phones)
                .order_by("-is_primary", "person_id")
                .values_list("number", "person_id")
            ):
                self.by_phone.setdefault(number, person_id)
        person_ids = (
            {
                int(v)
                for e in live
                for v in [e.data.get("buyer_person_id"), *(line.get("user_person_id") for line in _lines_of(e))]
                if v not in (None, "") and str(v).isdigit()
            }
            | set(self.by_email.values())
            | set(self.by_phone.values())
        )
        self.people = Person.objects.in_bulk(person_ids) if person_ids else {}
        account_ids = {
            int(v) for e in live if (v := e.data.get("buyer_account_id")) not in (None, "") and str(v).isdigit()
        }
        self.accounts = Account.objects.in_bulk(account_ids) if account_ids else {}
        list_ids = {int(v) for e in live if (v := e.data.get("price_list_id")) not in (None, "") and str(v).isdigit()}
        self.price_lists = PriceList.objects.in_bulk(list_ids) if list_ids else {}


def _find_person(lookups: _Lookups, person_id: Any, email: str, phone: str) -> Person | None:
    if person_id not in (None, "") and str(person_id).isdigit():
        return lookups.people.get(int(person_id))
    pk = (lookups.by_email.get(email) if email else None) or (lookups.by_phone.get(phone) if phone else None)
    return lookups.people.get(pk) if pk else None


def _create_buyer(actor: User, entry: _Entry, lookups: _Lookups) -> Person:
    """A buyer the shop knows and we do not: a new person, found by the next order in the feed."""
    data = entry.data
    family = _text(data.get("buyer_family_name"))
    given = _text(data.get("buyer_given_name"))
    if not family and not given:
        family = entry.buyer_email.split("@")[0] if entry.buyer_email else entry.buyer_phone
    person = customer_services.create_person(
        actor,
        {"family_name": family[:100], "given_name": given[:100], "source": Source.API},
        emails=[entry.buyer_email] if entry.buyer_email else [],
        phones=[entry.buyer_phone] if entry.buyer_phone else [],
    )
    lookups.people[person.pk] = person
    if entry.buyer_email:
        lookups.by_email[entry.buyer_email] = person.pk
    if entry.buyer_phone:
        lookups.by_phone[entry.buyer_phone] = person.pk
    return person


def _resolve(actor: User, entry: _Entry, lookups: _Lookups) -> dict[str, Any] | None:
    """The keyword arguments of `prepare_order` for one entry, or None after recording errors."""
    data = entry.data
    account: Account | None = None
    if data.get("buyer_account_id") not in (None, ""):
        account = lookups.accounts.get(int(data["buyer_account_id"]))
        if account is None:
            entry.fail("buyer_account_id", _("No account with this id."))
    person = _find_person(lookups, data.get("buyer_person_id"), entry.buyer_email, entry.buyer_phone)
    if person is None and data.get("buyer_person_id") not in (None, ""):
        entry.fail("buyer_person_id", _("No person with this id."))
    price_list: PriceList | None = None
    if data.get("price_list_id") not in (None, ""):
        price_list = lookups.price_lists.get(int(data["price_list_id"]))
        if price_list is None:
            entry.fail("price_list_id", _("No price list with this id."))
    lines: list[dict[str, Any]] = []
    for position, line in enumerate(_lines_of(entry)):
        sku = _text(line.get("sku"))
        product = lookups.products.get(sku) if sku else None
        if sku and product is None:
            entry.fail(f"lines[{position}].sku", _("No product with SKU %(sku)s.") % {"sku": sku})
        user = _find_person(
            lookups,
            line.get("user_person_id"),
            entry.line_emails.get(position, ""),
            entry.line_phones.get(position, ""),
        )
        if user is None and (
            line.get("user_person_id") not in (None, "")
            or position in entry.line_emails
            or position in entry.line_phones
        ):
            entry.fail(f"lines[{position}].user_person_id", _("No person matches this line's user."))
        lines.append(
            {
                "product": product,
                "description": _text(line.get("description")),
                "quantity": line.get("quantity", 1),
                "unit_price": line.get("unit_price"),
                "discount_amount": line.get("discount_amount", 0),
                "user_person": user,
            }
        )
    if entry.errors:
        return None
    return {
        "buyer_account": account,
        "buyer_person": person,
        "lines": lines,
        "ordered_at": entry.ordered_at,
        "channel": _text(data.get("channel")) or OrderChannel.ONLINE_SHOP,
        "status": _text(data.get("status")) or OrderStatus.CONFIRMED,
        "currency": _text(data.get("currency")) or (price_list.currency if price_list else "CNY"),
        "price_list": price_list,
        "number": _text(data.get("number")) or None,
        "external_id": entry.external_id,
        "discount_amount": data.get("discount_amount", 0),
        "tax_amount": data.get("tax_amount", 0),
        "payment_due_date": entry.payment_due_date,
        "note": _text(data.get("note")),
    }


def _needs_new_buyer(entry: _Entry, lookups: _Lookups) -> bool:
    data = entry.data
    if data.get("buyer_account_id") not in (None, "") or data.get("buyer_person_id") not in (None, ""):
        return False
    if not entry.buyer_email and not entry.buyer_phone:
        return False
    return _find_person(lookups, None, entry.buyer_email, entry.buyer_phone) is None


def _report_errors(result: BulkResult, entry: _Entry) -> None:
    for key, messages in entry.errors.items():
        for message in messages:
            result.errors.append(
                {"index": entry.index, "external_id": entry.external_id, "field": key, "reason": str(message)}
            )


def _won_dates(orders: Sequence[Order]) -> None:
    """Tell customers the buyers won a deal: one UPDATE per model and day, not one per order.

    The day (UTC midnight) is what the shared pool's reclaim rules count in.
    """
    days: dict[tuple[str, datetime.datetime], set[int]] = {}
    for order in orders:
        if order.status not in WON_STATUSES:
            continue
        day = order.ordered_at.astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if order.buyer_account_id:
            days.setdefault(("account", day), set()).add(order.buyer_account_id)
        if order.buyer_person_id:
            days.setdefault(("person", day), set()).add(order.buyer_person_id)
    for (kind, day), ids in days.items():
        if kind == "account":
            customer_services.record_won_deal(Account, ids, day)
        else:
            customer_services.record_won_deal(Person, ids, day)


def _write_chunk(actor: User, entries: Sequence[_Entry], result: BulkResult, note: str) -> None:
    lookups = _Lookups(entries)
    seen: set[str] = set()
    pending: list[_Entry] = []
    for entry in entries:
        if entry.errors:
            _report_errors(result, entry)
        elif entry.external_id in lookups.existing:
            pk, number = lookups.existing[entry.external_id]
            result.existing.append({"index": entry.index, "external_id": entry.external_id, "id": pk, "number": number})
        elif entry.external_id in seen:
            entry.fail("external_id", _("This external id appears twice in the feed."))
            _report_errors(result, entry)
        else:
            seen.add(entry.external_id or "")
            pending.append(entry)

    resolved: list[tuple[_Entry, dict[str, Any]]] = []
    with_new_buyer = [entry for entry in pending if _needs_new_buyer(entry, lookups)]
    new_buyer_indexes = {entry.index for entry in with_new_buyer}
    for entry in pending:
        if entry.index in new_buyer_indexes:
            continue  # created one by one below, inside its own savepoint
        kwargs = _resolve(actor, entry, lookups)
        if kwargs is None:
            _report_errors(result, entry)
        else:
            resolved.append((entry, kwargs))

    numbers = {kw["number"] for _, kw in resolved if kw["number"]}
    context = build_context(
        actor,
        account_ids={kw["buyer_account"].pk for _, kw in resolved if kw["buyer_account"] is not None},
        person_ids={kw["buyer_person"].pk for _, kw in resolved if kw["buyer_person"] is not None}
        | {line["user_person"].pk for _, kw in resolved for line in kw["lines"] if line["user_person"] is not None},
        product_ids={line["product"].pk for _, kw in resolved for line in kw["lines"] if line["product"] is not None},
        price_list_ids={kw["price_list"].pk for _, kw in resolved if kw["price_list"] is not None},
        currencies={str(kw["currency"]).upper() for _, kw in resolved},
        numbers=numbers,
        external_ids=set(),
    )
    built: list[tuple[_Entry, Order, list[OrderLine]]] = []
    taken_here: set[str] = set()
    for entry, kwargs in resolved:
        try:
            order, lines = prepare_order(actor, context, **kwargs)
        except ValidationError as exc:
            entry.errors.update(exc.message_dict)
            _report_errors(result, entry)
            continue
        _check_payments(entry, order)
        if entry.errors:
            _report_errors(result, entry)
            continue
        if order.number and order.number in taken_here:
            entry.fail("number", _("This order number appears twice in the feed."))
            _report_errors(result, entry)
            continue
        taken_here.add(order.number)
        built.append((entry, order, lines))

    # Orders whose buyer is new: each in a savepoint, so a bad order leaves no orphan person.
    for entry in with_new_buyer:
        try:
            with transaction.atomic():
                if _needs_new_buyer(entry, lookups):  # an earlier order of the feed may have created them
                    _create_buyer(actor, entry, lookups)
                kwargs = _resolve(actor, entry, lookups)
                if kwargs is None:
                    raise ValidationError(entry.errors)
                single = build_context(
                    actor,
                    account_ids=set(),
                    person_ids={kwargs["buyer_person"].pk}
                    | {line["user_person"].pk for line in kwargs["lines"] if line["user_person"] is not None},
                    product_ids={line["product"].pk for line in kwargs["lines"] if line["product"] is not None},
                    price_list_ids={kwargs["price_list"].pk} if kwargs["price_list"] is not None else set(),
                    currencies={str(kwargs["currency"]).upper()},
                    numbers={kwargs["number"]} if kwargs["number"] else set(),
                    external_ids=set(),
                )
                order, lines = prepare_order(actor, single, **kwargs)
                _check_payments(entry, order)
                if entry.errors:
                    raise ValidationError(entry.errors)
                if order.number and order.number in taken_here:
                    raise ValidationError({"number": [_("This order number appears twice in the feed.")]})
                taken_here.add(order.number)
                _save([(entry, order, lines)], actor, note)
        except ValidationError as exc:
            entry.errors = dict(exc.message_dict)
            _report_errors(result, entry)
            continue
        result.created.append(
            {"index": entry.index, "external_id": entry.external_id, "id": order.pk, "number": order.number}
        )

    _save(built, actor, note)
    for entry, order, _lines in built:
        result.created.append(
            {"index": entry.index, "external_id": entry.external_id, "id": order.pk, "number": order.number}
        )


def _create_changes(order: Order, lines: Sequence[OrderLine]) -> dict[str, list[Any]]:
    """The order's create history, with the amount paid at creation when the feed brought payments."""
    changes = order_history(order, lines)
    if order.paid_amount:
        changes["paid_amount"] = [None, str(order.paid_amount)]
    return changes


def _save(built: Sequence[tuple[_Entry, Order, list[OrderLine]]], actor: User, note: str) -> None:
    """Write prepared orders: numbers in one reservation, then one INSERT per table and batch.

    Each order's `paid_amount` was set from its payments by `_check_payments`, so the payments
    are inserted as they are, without the F() update `record_payment` needs for an order that
    others may be paying at the same moment: nobody else can see these orders yet.
    """
    if not built:
        return
    prepared = [order for _entry, order, _lines in built]
    new_numbers = iter(reserve_order_numbers(sum(1 for order in prepared if not order.number)))
    for order in prepared:
        if not order.number:
            order.number = next(new_numbers)
    orders = Order.objects.bulk_create(prepared, batch_size=500)
    all_lines: list[OrderLine] = []
    for (_entry, _order, lines), order in zip(built, orders, strict=True):
        for line in lines:
            line.order = order
        all_lines.extend(lines)
    OrderLine.objects.bulk_create(all_lines, batch_size=1000)
    now = timezone.now()
    created_by = actor if actor.pk else None
    Payment.objects.bulk_create(
        [
            Payment(
                order=order,
                amount=payment.amount,
                currency=order.currency,
                paid_at=payment.paid_at or now,
                method=payment.method,
                reference=payment.reference,
                created_by=created_by,
            )
            for (entry, _order, _lines), order in zip(built, orders, strict=True)
            for payment in entry.payments
        ],
        batch_size=1000,
    )
    content_type = ContentType.objects.get_for_model(Order)
    ChangeRecord.objects.bulk_create(
        [
            ChangeRecord(
                content_type=content_type,
                object_id=order.pk,
                action=ChangeAction.CREATE,
                actor=actor if actor.pk else None,
                changes=_create_changes(order, lines),
                note=note,
            )
            for (_entry, _order, lines), order in zip(built, orders, strict=True)
        ],
        batch_size=1000,
    )
    _won_dates(orders)


def bulk_create_orders(actor: User, feed: Sequence[Mapping[str, Any]], *, note: str = "feed") -> BulkResult:
    """Store a shop's orders, skipping those already stored (same external id) and reporting bad ones.

    `note` labels the orders' history rows (an import says which one, `import <id>`).

    Each chunk of `CHUNK_SIZE` orders is one transaction; if another feed stored one of the
    same orders at the same moment (a unique external id clash), the chunk is re-read and
    written again, when that order shows up as existing.
    """
    require_order_writer(actor)
    if not isinstance(feed, Sequence) or isinstance(feed, str | bytes):
        raise ValidationError({"orders": [_("Send a list of orders.")]})
    result = BulkResult()
    for start in range(0, len(feed), CHUNK_SIZE):
        for attempt in range(2):
            entries = [_parse(start + offset, data) for offset, data in enumerate(feed[start : start + CHUNK_SIZE])]
            chunk = BulkResult()
            try:
                with transaction.atomic():
                    _write_chunk(actor, entries, chunk, note)
            except IntegrityError:
                if attempt:
                    raise
                continue
            result.created.extend(chunk.created)
            result.existing.extend(chunk.existing)
            result.errors.extend(chunk.errors)
            break
    result.created.sort(key=lambda row: row["index"])
    result.errors.sort(key=lambda row: row["index"])
    return result
