"""Every write of the profitability app: cost settings, acquisition spending, runs, and the
actions on customers served at a loss (which write through `commerce` and `customers`).

A run is long, so it is not one transaction: the run row is committed first (progress and
failures stay visible), each batch of customer rows is its own transaction, and the run turns
"succeeded" only at the end, so pages keep reading the previous run until the new one is whole.
"""

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi import engine as engine_package
from guanxi.activities.models import ActivityKind
from guanxi.commerce import services as commerce_services
from guanxi.commerce.models import PriceList
from guanxi.commerce.services.common import parse_amount
from guanxi.core.history import record_change
from guanxi.core.models import ChangeAction
from guanxi.customers import services as customer_services
from guanxi.customers.models import Account, Person, ServiceLevel
from guanxi.engine import profitability as engine
from guanxi.leads.models import LeadSource
from guanxi.profitability import computation, permissions
from guanxi.profitability.models import (
    AcquisitionCost,
    ActivityCost,
    CostSettings,
    CustomerProfit,
    ProfitabilityRun,
    RunStatus,
)
from guanxi.staff.models import User

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
BATCH_SIZE = 2000
KEEP_RUNS = 5
"""Customer rows are kept for this many latest runs; older runs keep only their summary."""
HISTOGRAM_BINS = 12


# ---------------------------------------------------------------------------------------------
# Settings


def current_settings() -> CostSettings:
    settings, _created = CostSettings.objects.get_or_create(pk=1)
    return settings


def activity_costs() -> dict[str, Decimal]:
    """Cost per follow-up kind; a kind never priced costs 0."""
    costs = {kind: Decimal("0") for kind in ActivityKind.values}
    costs.update(dict(ActivityCost.objects.values_list("kind", "cost")))
    return costs


def _require_settings(actor: User) -> None:
    if not permissions.can_edit_settings(actor):
        raise PermissionDenied(_("Only an admin may change the profitability settings."))


def _money(errors: dict[str, list[str]], key: str, value: Any) -> Decimal:
    try:
        return parse_amount(value)
    except ValueError as exc:
        errors.setdefault(key, []).append(str(exc))
        return Decimal("0")


@transaction.atomic
def update_settings(actor: User, *, currency: str, ticket_cost: Any, activity_costs: Mapping[str, Any]) -> CostSettings:
    """Save the currency, the ticket cost and each follow-up kind's cost; history on the settings row."""
    _require_settings(actor)
    errors: dict[str, list[str]] = {}
    currency = (currency or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        errors["currency"] = [_("Enter a three-letter currency code such as CNY.")]
    ticket = _money(errors, "ticket_cost", ticket_cost)
    costs: dict[str, Decimal] = {}
    for kind, value in activity_costs.items():
        if kind not in ActivityKind.values:
            errors.setdefault(f"cost_{kind}", []).append(_("Unknown follow-up kind."))
            continue
        costs[kind] = _money(errors, f"cost_{kind}", value)
    if errors:
        raise ValidationError(errors)
    settings = CostSettings.objects.select_for_update().get(pk=current_settings().pk)
    before_costs = {kind: str(cost) for kind, cost in ActivityCost.objects.values_list("kind", "cost")}
    changes: dict[str, list[Any]] = {}
    if settings.currency != currency:
        changes["currency"] = [settings.currency, currency]
    if settings.ticket_cost != ticket:
        changes["ticket_cost"] = [str(settings.ticket_cost), str(ticket)]
    for kind, cost in costs.items():
        if before_costs.get(kind) != str(cost):
            changes[f"cost.{kind}"] = [before_costs.get(kind), str(cost)]
            ActivityCost.objects.update_or_create(kind=kind, defaults={"cost": cost})
    settings.currency, settings.ticket_cost, settings.updated_by = currency, ticket, actor
    settings.save()
    record_change(settings, actor=actor, action=ChangeAction.UPDATE, changes=changes)
    return settings


def month_of(value: dt.date) -> dt.date:
    return engine.month_start(value)


@transaction.atomic
def save_acquisition_costs(actor: User, entries: Mapping[tuple[str, dt.date], Any]) -> int:
    """Set what was spent per (source, month); an empty value removes the entry. Returns changed cells.

    Every cell is validated before anything is written, and errors are keyed `source:YYYY-MM`.
    """
    _require_settings(actor)
    errors: dict[str, list[str]] = {}
    wanted: dict[tuple[str, dt.date], Decimal | None] = {}
    for (source, month), value in entries.items():
        key = f"{source}:{month:%Y-%m}"
        if source not in LeadSource.values:
            errors.setdefault(key, []).append(_("Unknown source."))
            continue
        wanted[(source, month_of(month))] = None if value in (None, "") else _money(errors, key, value)
    if errors:
        raise ValidationError(errors)
    existing = {
        (row.source, row.month): row
        for row in AcquisitionCost.objects.select_for_update().filter(
            source__in={s for s, _m in wanted}, month__in={m for _s, m in wanted}
        )
    }
    changed = 0
    for (source, month), amount in wanted.items():
        row = existing.get((source, month))
        if amount is None:
            if row is not None:
                record_change(row, actor=actor, action=ChangeAction.DELETE, changes={"amount": [str(row.amount), None]})
                row.delete()
                changed += 1
        elif row is None:
            row = AcquisitionCost.objects.create(source=source, month=month, amount=amount, updated_by=actor)
            record_change(row, actor=actor, action=ChangeAction.CREATE, changes={"amount": [None, str(amount)]})
            changed += 1
        elif row.amount != amount:
            old = row.amount
            row.amount, row.updated_by = amount, actor
            row.save(update_fields=["amount", "updated_by", "updated_at"])
            record_change(row, actor=actor, action=ChangeAction.UPDATE, changes={"amount": [str(old), str(amount)]})
            changed += 1
    return changed


# ---------------------------------------------------------------------------------------------
# Runs


def _require_run(actor: User | None) -> None:
    """None is the system (the command, the demo loader)."""
    if actor is not None and not permissions.can_run(actor):
        raise PermissionDenied(_("Only an admin, an analyst or a sales manager may start a profitability run."))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _as_dict(row: Any) -> dict[str, Any]:
    return {name: _plain(getattr(row, name)) for name in row.__slots__}


def run_profitability(actor: User | None, *, progress: Progress | None = None) -> ProfitabilityRun:
    """Compute every customer's revenue, discounts, cost to serve, profit and acquisition figures."""
    _require_run(actor)
    settings = current_settings()
    costs = activity_costs()
    spending = {(s, m): amount for s, m, amount in AcquisitionCost.objects.values_list("source", "month", "amount")}
    with transaction.atomic():
        run = ProfitabilityRun.objects.create(
            parameters={
                "currency": settings.currency,
                "ticket_cost": str(settings.ticket_cost),
                "activity_costs": {kind: str(cost) for kind, cost in costs.items()},
                "acquisition_costs": len(spending),
                "engine_version": engine_package.__version__,
                "at": timezone.now().isoformat(),
            },
            created_by=actor if actor is not None and actor.pk else None,
        )
    try:
        _compute(run, settings, costs, spending, progress)
    except Exception as exc:
        logger.exception("profitability run %s failed", run.pk)
        run.status, run.error, run.finished_at = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000], timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        raise
    return run


def _insert(rows: Sequence[CustomerProfit]) -> None:
    """One `executemany` per batch: `bulk_create` spends most of a run compiling SQL for each row.

    Values go through the backend's own adapters (`get_db_prep_save`), as the ORM would send them.
    """
    if not rows:
        return
    meta = CustomerProfit._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    connection = connections[router.db_for_write(CustomerProfit)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Only the model's own table and column names, quoted by the backend; every value is a parameter.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608  # names from the model, values as parameters
    params = [[field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _compute(
    run: ProfitabilityRun,
    settings: CostSettings,
    costs: Mapping[str, Decimal],
    spending: Mapping[tuple[str, dt.date], Decimal],
    progress: Progress | None,
) -> None:
    total = computation.count_customers()
    rows: list[CustomerProfit] = []
    for customer in computation.customer_rows(settings.currency):
        f = customer.figures
        activity = engine.activity_cost(f.activities, costs)
        tickets = engine.money(settings.ticket_cost * f.tickets)
        serve = engine.cost_to_serve(activity, f.tickets, settings.ticket_cost)
        kind, pk = customer.key
        rows.append(
            CustomerProfit(
                run=run,
                account_id=pk if kind == "a" else None,
                person_id=pk if kind == "p" else None,
                name=customer.name[:201],
                orders=f.orders,
                revenue=engine.money(f.revenue),
                discounts=engine.money(f.discounts),
                activities=sum(f.activities.values()),
                activity_cost=activity,
                tickets=f.tickets,
                ticket_cost=tickets,
                cost_to_serve=serve,
                profit=engine.profit(f.revenue, f.discounts, serve),
                source=customer.source,
                cohort=customer.cohort,
                predicted_clv=customer.predicted_clv,
            )
        )
    cohorts, by_source = engine.acquisition_table(
        spending, (engine.Acquired(r.source, r.cohort, r.predicted_clv) for r in rows)
    )
    cac = {(row.source, row.cohort): row.cac for row in cohorts}
    for row in rows:
        row.profit_cents = int(row.profit * 100)
        row.revenue_cents = int(row.revenue * 100)
        row.cost_to_serve_cents = int(row.cost_to_serve * 100)
        row.cac = cac.get((row.source, row.cohort))
        row.clv_to_cac = engine.clv_to_cac(row.predicted_clv, row.cac)
    for start in range(0, len(rows), BATCH_SIZE):
        with transaction.atomic():
            _insert(rows[start : start + BATCH_SIZE])
        run.customers = min(start + BATCH_SIZE, len(rows))
        ProfitabilityRun.objects.filter(pk=run.pk).update(customers=run.customers)
        if progress is not None:
            progress(run.customers, max(total, len(rows)))
    totals = engine.totals((r.revenue, r.discounts, r.cost_to_serve, r.profit) for r in rows)
    run.results = {
        "currency": settings.currency,
        "totals": _as_dict(totals),
        "histogram": [_as_dict(b) for b in engine.histogram([r.profit for r in rows], bins=HISTOGRAM_BINS)],
        "cohorts": [_as_dict(r) for r in cohorts],
        "sources": [_as_dict(r) for r in by_source],
    }
    run.customers = len(rows)
    run.status = RunStatus.SUCCEEDED
    run.finished_at = timezone.now()
    with transaction.atomic():
        run.save(update_fields=["results", "customers", "status", "finished_at"])
        old_runs = ProfitabilityRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-id")[KEEP_RUNS:]
        CustomerProfit.objects.filter(run_id__in=list(old_runs.values_list("pk", flat=True))).delete()
    if progress is not None and not rows:
        progress(0, 0)


# ---------------------------------------------------------------------------------------------
# Actions on customers served at a loss


class ReviewAction:
    PRICE_LIST = "price_list"
    SERVICE_LEVEL = "service_level"
    RELEASE = "release"
    CHOICES = (PRICE_LIST, SERVICE_LEVEL, RELEASE)


@dataclass(frozen=True, slots=True)
class ActionResult:
    changed: int
    skipped: int
    """Customers the actor may not change, or already as asked."""


REVIEW_NOTE = "profitability review"


def _parties(rows: Iterable[CustomerProfit]) -> list[Account | Person]:
    parties: list[Account | Person] = []
    for row in rows:
        party = row.account if row.account_id else row.person
        if party is not None:
            parties.append(party)
    return parties


def _set_level(actor: User, party: Account | Person, level: str) -> bool:
    before = party.service_level
    if isinstance(party, Account):
        return customer_services.set_service_level(actor, party, level, reason=REVIEW_NOTE).service_level != before
    return customer_services.set_service_level(actor, party, level, reason=REVIEW_NOTE).service_level != before


@transaction.atomic
def apply_review_action(
    actor: User,
    rows: Sequence[CustomerProfit],
    action: str,
    *,
    price_list: PriceList | None = None,
    service_level: str = "",
) -> ActionResult:
    """Move the rows' customers to a price list, to a service level, or back to the shared pool.

    `rows` must come from `queries.visible_rows(actor, …)`. Each move goes through its owning
    service (`commerce.assign_price_list`, `customers.set_service_level`,
    `customers.bulk_release_to_pool`), which checks the customer and records the history; customers
    the actor may not change are skipped and counted, the rest are changed in this one transaction.
    """
    if action not in ReviewAction.CHOICES:
        raise ValidationError({"action": [_("Choose an action.")]})
    parties = _parties(rows)
    if action == ReviewAction.RELEASE:
        account_ids = [p.pk for p in parties if isinstance(p, Account)]
        person_ids = [p.pk for p in parties if isinstance(p, Person)]
        changed = customer_services.bulk_release_to_pool(actor, Account, account_ids) if account_ids else 0
        if person_ids:
            changed += customer_services.bulk_release_to_pool(actor, Person, person_ids)
        return ActionResult(changed, len(parties) - changed)
    if not permissions.can_reprice(actor):
        raise PermissionDenied(_("Only a sales manager or an admin may change price lists and service levels."))
    if action == ReviewAction.PRICE_LIST and price_list is None:
        raise ValidationError({"price_list": [_("Choose a price list.")]})
    if action == ReviewAction.SERVICE_LEVEL and service_level not in ServiceLevel.values:
        raise ValidationError({"service_level": [_("Choose one of the listed service levels.")]})
    changed = skipped = 0
    for party in parties:
        try:
            if action == ReviewAction.PRICE_LIST:
                moved = commerce_services.assign_price_list(actor, party, price_list, reason=REVIEW_NOTE)
            else:
                moved = _set_level(actor, party, service_level)
        except PermissionDenied:
            moved = False
        changed += int(moved)
        skipped += int(not moved)
    return ActionResult(changed, skipped)
