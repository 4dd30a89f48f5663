"""Quotes: a priced offer with line items, discounts and tax; accepting one takes the order.

A quote is edited while a draft; once sent it is only accepted or declined, so what the customer
saw is what the order holds. Totals are recomputed from the lines on every change, never typed.
"""

import uuid
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.commerce.services import create_order
from guanxi.core.history import diff, record_change, snapshot
from guanxi.core.models import ChangeAction
from guanxi.customers.models import Account, Person
from guanxi.sales.models import Opportunity, Quote, QuoteLine, QuoteStatus, StageKind
from guanxi.sales.services.opportunities import clean_line, move_opportunity
from guanxi.staff import access
from guanxi.staff.models import User

QUOTE_FIELDS = (
    "opportunity",
    "account",
    "person",
    "owner",
    "currency",
    "price_list",
    "valid_until",
    "tax_rate",
    "note",
)
HISTORY_FIELDS = (*QUOTE_FIELDS, "status", "total_amount")
CENT = Decimal("0.01")


def _require_edit(actor: User, quote: Quote) -> None:
    if not Quote.objects.filter(access.editable_q(actor), pk=quote.pk).exists():
        raise PermissionDenied(_("You may not change this quote."))


def _require_draft(quote: Quote) -> None:
    if quote.status != QuoteStatus.DRAFT:
        raise ValidationError({"status": [_("Only a draft quote can be changed.")]})


def _locked(quote: Quote) -> Quote:
    return Quote.objects.select_for_update(of=("self",)).get(pk=quote.pk)


def recompute_totals(quote: Quote) -> None:
    """Subtotal (quantity × price), line discounts, tax on the discounted sum, and the total."""
    lines = list(quote.lines.all())
    subtotal = sum((line.gross for line in lines), Decimal("0"))
    net = sum((line.line_total for line in lines), Decimal("0"))
    quote.subtotal_amount = subtotal
    quote.discount_amount = subtotal - net
    quote.tax_amount = (net * quote.tax_rate / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP)
    quote.total_amount = net + quote.tax_amount
    Quote.objects.filter(pk=quote.pk).update(
        subtotal_amount=quote.subtotal_amount,
        discount_amount=quote.discount_amount,
        tax_amount=quote.tax_amount,
        total_amount=quote.total_amount,
    )


def _check(actor: User, quote: Quote) -> None:
    errors: dict[str, list[str]] = {}
    if quote.account_id is None and quote.person_id is None:
        errors["account"] = [_("Choose the account or the person this quote is for.")]
    if (
        quote.account_id
        and not Account.objects.filter(access.visible_q(actor, team_field="team"), pk=quote.account_id).exists()
    ):
        errors["account"] = [_("You may not see this account.")]
    if quote.person_id and not Person.objects.filter(access.visible_q(actor), pk=quote.person_id).exists():
        errors["person"] = [_("You may not see this person.")]
    if (
        quote.opportunity_id
        and not Opportunity.objects.filter(access.visible_q(actor), pk=quote.opportunity_id).exists()
    ):
        errors["opportunity"] = [_("You may not see this opportunity.")]
    if not Decimal(0) <= Decimal(quote.tax_rate) <= Decimal(100):
        errors["tax_rate"] = [_("The tax rate is between 0 and 100 %.")]
    if quote.owner is not None and not access.can_assign_to(actor, quote.owner):
        errors["owner"] = [_("You may not assign records to this user.")]
    if errors:
        raise ValidationError(errors)


def _write_lines(quote: Quote, lines: Sequence[Mapping[str, Any]], start: int = 0) -> None:
    rows = []
    for index, data in enumerate(lines):
        cleaned = clean_line(data, price_list=quote.price_list, index=index)
        rows.append(
            QuoteLine(
                quote=quote,
                position=start + index,
                product=cleaned.product,
                description=cleaned.description,
                quantity=cleaned.quantity,
                unit_price=cleaned.unit_price,
                discount_percent=cleaned.discount_percent,
                line_total=cleaned.line_total,
            )
        )
    QuoteLine.objects.bulk_create(rows)


@transaction.atomic
def create_quote(actor: User, data: Mapping[str, Any], *, lines: Sequence[Mapping[str, Any]] = ()) -> Quote:
    """A draft quote; for an opportunity its customer, currency and owner are the defaults."""
    unknown = sorted(set(data) - set(QUOTE_FIELDS))
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    fields = dict(data)
    opportunity: Opportunity | None = fields.get("opportunity")
    if opportunity is not None:
        fields.setdefault("account", opportunity.account)
        fields.setdefault("person", opportunity.person)
        fields.setdefault("currency", opportunity.currency)
    fields.setdefault("owner", actor)
    quote = Quote(number=f"tmp-{uuid.uuid4().hex}", created_by=actor if actor.pk else None)
    for name, value in fields.items():
        setattr(quote, name, value)
    quote.currency = (quote.currency or "CNY").upper()
    _check(actor, quote)
    quote.save()
    # The id is unique, so the number is too, with no counter to race on.
    quote.number = f"QT-{quote.pk:06d}"
    Quote.objects.filter(pk=quote.pk).update(number=quote.number)
    _write_lines(quote, lines)
    recompute_totals(quote)
    record_change(quote, actor=actor, action=ChangeAction.CREATE, changes=diff({}, snapshot(quote, HISTORY_FIELDS)))
    return quote


@transaction.atomic
def create_quote_from_opportunity(
    actor: User, opportunity: Opportunity, data: Mapping[str, Any] | None = None
) -> Quote:
    """A draft quote holding the opportunity's line items (or one line for its amount)."""
    if not Opportunity.objects.filter(access.visible_q(actor), pk=opportunity.pk).exists():
        raise PermissionDenied(_("You may not see this opportunity."))
    lines: list[dict[str, Any]] = [
        {
            "product": line.product,
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount_percent": line.discount_percent,
        }
        for line in opportunity.lines.select_related("product")
    ]
    if not lines and opportunity.amount > 0:
        lines = [{"description": opportunity.name, "quantity": 1, "unit_price": opportunity.amount}]
    return create_quote(actor, {"opportunity": opportunity, **(data or {})}, lines=lines)


@transaction.atomic
def update_quote(actor: User, quote: Quote, data: Mapping[str, Any]) -> Quote:
    quote = _locked(quote)
    _require_edit(actor, quote)
    _require_draft(quote)
    unknown = sorted(set(data) - set(QUOTE_FIELDS))
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    before = snapshot(quote, HISTORY_FIELDS)
    for name, value in data.items():
        setattr(quote, name, value)
    quote.currency = (quote.currency or "CNY").upper()
    _check(actor, quote)
    quote.save()
    recompute_totals(quote)
    record_change(quote, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, snapshot(quote, HISTORY_FIELDS)))
    return quote


@transaction.atomic
def add_quote_line(actor: User, quote: Quote, data: Mapping[str, Any]) -> QuoteLine:
    quote = _locked(quote)
    _require_edit(actor, quote)
    _require_draft(quote)
    start = (quote.lines.aggregate(m=Max("position"))["m"] or 0) + 1
    _write_lines(quote, [data], start=start)
    recompute_totals(quote)
    line = quote.lines.order_by("-position", "-id")[0]  # the line just written
    record_change(quote, actor=actor, action=ChangeAction.UPDATE, changes={"lines": [None, str(line)]})
    return line


@transaction.atomic
def remove_quote_line(actor: User, line: QuoteLine) -> None:
    quote = _locked(line.quote)
    _require_edit(actor, quote)
    _require_draft(quote)
    label = str(line)
    line.delete()
    recompute_totals(quote)
    record_change(quote, actor=actor, action=ChangeAction.UPDATE, changes={"lines": [label, None]})


def _set_status(actor: User, quote: Quote, status: str, allowed_from: Sequence[str]) -> Quote:
    quote = _locked(quote)
    _require_edit(actor, quote)
    if quote.status not in allowed_from:
        raise ValidationError(
            {"status": [_("A quote that is %(status)s cannot change so.") % {"status": quote.get_status_display()}]}
        )
    before = quote.status
    quote.status = status
    now = timezone.now()
    if status == QuoteStatus.SENT:
        quote.sent_at = now
    else:
        quote.decided_at = now
    quote.save(update_fields=["status", "sent_at", "decided_at", "updated_at"])
    record_change(quote, actor=actor, action=ChangeAction.UPDATE, changes={"status": [before, status]})
    return quote


@transaction.atomic
def send_quote(actor: User, quote: Quote) -> Quote:
    if not quote.lines.exists():
        raise ValidationError({"lines": [_("Add at least one line before sending the quote.")]})
    return _set_status(actor, quote, QuoteStatus.SENT, [QuoteStatus.DRAFT])


@transaction.atomic
def decline_quote(actor: User, quote: Quote) -> Quote:
    return _set_status(actor, quote, QuoteStatus.DECLINED, [QuoteStatus.DRAFT, QuoteStatus.SENT])


@transaction.atomic
def accept_quote(actor: User, quote: Quote) -> Quote:
    """The customer accepted: take the order with the quote's lines, prices, discounts and tax.

    An open opportunity behind the quote moves to its pipeline's won stage, so the forecast and
    the customer's "last won" date follow without a second step.
    """
    lines = list(quote.lines.select_related("product"))
    if not lines:
        raise ValidationError({"lines": [_("A quote without lines cannot be accepted.")]})
    quote = _set_status(actor, quote, QuoteStatus.ACCEPTED, [QuoteStatus.DRAFT, QuoteStatus.SENT])
    order = create_order(
        actor,
        buyer_account=quote.account,
        buyer_person=quote.person,
        lines=[
            {
                "product": line.product,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount_amount": line.discount,
                "user_person": None,
            }
            for line in lines
        ],
        currency=quote.currency,
        price_list=quote.price_list,
        tax_amount=quote.tax_amount,
        note=_("From quote %(number)s") % {"number": quote.number},
    )
    quote.order = order
    Quote.objects.filter(pk=quote.pk).update(order=order)
    record_change(quote, actor=actor, action=ChangeAction.UPDATE, changes={"order": [None, order.number]})
    opportunity = quote.opportunity
    if opportunity is not None and opportunity.status == StageKind.OPEN:
        won = opportunity.pipeline.stages.filter(kind=StageKind.WON).order_by("position").first()
        if won is not None:
            move_opportunity(actor, opportunity, won)
    return quote
