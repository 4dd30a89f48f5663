"""Analytics runs and lifecycle rules: the only code that writes analytics data.

A scoring run: per-customer summaries and RFM scores computed inside the app database by the
engine's Ibis expressions (`guanxi.engine.summaries` over `commerce.purchase_history`) → BG/NBD
and Gamma-Gamma fitted in NumPy → P(alive), expected purchases and CLV per customer → scores and
lifecycle stages written back through `customers.scores` in set-based batches. A rules run:
association rules over order lines → the top rules and each customer's precomputed next offers.

Runs are long, so they are not one transaction: the run row is committed first (so progress
and failures are visible), and each batch of write-backs is its own transaction. Everything a
run depends on (parameters, seed, engine version, the rules in force) is stored on the run, so
the same data and parameters give the same results.
"""

import datetime as dt
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi import engine
from guanxi.analytics import customer_scores, permissions, purchase_store
from guanxi.analytics.lifecycle import RuleConditions, assign_stages
from guanxi.analytics.models import (
    AnalyticsRun,
    AssociationRuleResult,
    EngagementDefinition,
    LifecycleRule,
    OfferSuggestion,
    RunKind,
    RunStatus,
)
from guanxi.commerce import purchase_history
from guanxi.core.db import table_columns
from guanxi.core.history import diff, record_change, snapshot
from guanxi.core.models import ChangeAction
from guanxi.customers import scores
from guanxi.customers.models import Account, LifecycleStage, Person
from guanxi.engine import bgnbd, engagement, gammagamma, health, rfm, rules, summaries
from guanxi.engine._optimize import FitError
from guanxi.engine.rfm import BINS, SEGMENT_RULES
from guanxi.staff.models import User

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (processed, total) as a run advances (the command's progress bar)."""

DEFAULT_SCORING = {
    "horizon_days": 90,
    "clv_months": 12,
    "discount_rate": 0.01,
    "active_days": 90,
    "new_days": 30,
    "churn_days": 365,
    "churn_horizon_days": 90,
    "contract_min_months": 3,
    "churn_test_share": 0.3,
    "health_weights": dict(health.DEFAULT_WEIGHTS),
}
DEFAULT_RULES = {"min_support": 0.01, "min_confidence": 0.2, "max_len": 3, "offers_per_customer": 5, "keep_rules": 200}


def _require_run(actor: User | None) -> None:
    """None is the system (the scheduled job, the command); a person needs the analyst role."""
    if actor is not None and not permissions.can_run(actor):
        raise PermissionDenied(_("Only an admin or an analyst may start an analytics run."))


def _start(kind: str, actor: User | None, parameters: Mapping[str, Any], seed: int) -> AnalyticsRun:
    with transaction.atomic():
        return AnalyticsRun.objects.create(
            kind=kind,
            parameters=dict(parameters),
            engine_version=engine.__version__,
            seed=seed,
            created_by=actor if actor is not None and actor.pk else None,
        )


def _progress(run: AnalyticsRun, processed: int, total: int, progress: Progress | None) -> None:
    run.processed, run.total = processed, total
    AnalyticsRun.objects.filter(pk=run.pk).update(processed=processed, total=total)
    if progress is not None:
        progress(processed, total)


def _finish(run: AnalyticsRun, status: str, error: str = "") -> AnalyticsRun:
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "quality", "results", "processed", "total"])
    return run


def _clean_float(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else float(value)


def _params_dict(params: Any) -> dict[str, float] | None:
    if params is None:
        return None
    return {name: float(getattr(params, name)) for name in params.__slots__}


# ---------------------------------------------------------------------------------------------
# Scoring


def run_scoring(
    actor: User | None,
    *,
    end: dt.datetime | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    **overrides: Any,
) -> AnalyticsRun:
    """Score every customer who has bought and place them in the lifecycle; returns the run.

    `end` is the end of observation. Without it the run observes now and reads the purchase
    summaries kept by `purchase_store` (refreshed first from what changed since); with it the
    summaries are computed from the orders as they stood at `end`, so a past run can be
    reproduced. `overrides` change `DEFAULT_SCORING`. A failure is recorded on the run
    (status failed, the error) and raised again.
    """
    _require_run(actor)
    unknown = set(overrides) - set(DEFAULT_SCORING)
    if unknown:
        raise ValidationError({key: [_("Unknown parameter.")] for key in sorted(unknown)})
    parameters = {**DEFAULT_SCORING, **overrides}
    stored = end is None
    end = end or timezone.now()
    stage_rules = [RuleConditions.of(rule) for rule in LifecycleRule.objects.filter(is_active=True)]
    run = _start(
        RunKind.SCORING,
        actor,
        {
            **parameters,
            "end": end.isoformat(),
            "summaries": "stored" if stored else "from_orders",
            "lifecycle_rules": [
                {k: v for k, v in vars_of(rule).items() if v not in (None, (), "")} for rule in stage_rules
            ],
        },
        seed,
    )
    try:
        _score(run, end, parameters, stage_rules, progress, stored=stored)
    except Exception as exc:
        logger.exception("analytics run %s failed", run.pk)
        _finish(run, RunStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000])
        raise
    return _finish(run, RunStatus.SUCCEEDED)


def refresh_purchase_summaries(actor: User | None, *, rebuild: bool = False) -> purchase_store.RefreshReport:
    """Bring the stored purchase summaries up to date (or rebuild them) outside a scoring run:
    the weekly rebuild and `manage.py analytics summaries`."""
    _require_run(actor)
    return purchase_store.refresh(rebuild=rebuild)


def vars_of(rule: RuleConditions) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in rule.__slots__}


def _fit_models(
    s: summaries.CustomerSummaries, parameters: Mapping[str, Any], quality: dict[str, Any]
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], ...]:
    """P(alive), expected purchases and CLV per customer; NaN where no model could be fitted."""
    n = len(s)
    nan = np.full(n, np.nan)
    p_alive, expected, clv = nan.copy(), nan.copy(), nan.copy()
    try:
        fit = bgnbd.fit_bgnbd(s.frequency, s.recency, s.T)
    except (FitError, ValueError) as exc:
        quality["bgnbd"] = {"fitted": False, "reason": str(exc)}
        return p_alive, expected, clv
    quality["bgnbd"] = {
        "fitted": True,
        "params": _params_dict(fit.params),
        "standard_errors": _params_dict(fit.standard_errors),
        "log_likelihood": _clean_float(fit.log_likelihood),
        "customers": int(fit.n_customers),
        "distinct_rows": fit.n_rows,
        "iterations": fit.iterations,
    }
    p_alive = bgnbd.probability_alive(fit.params, s.frequency, s.recency, s.T)
    expected = bgnbd.conditional_expected_purchases(
        fit.params, float(parameters["horizon_days"]), s.frequency, s.recency, s.T
    )
    # Repeat customers whose repeat spend nets to zero or less (refunds) carry no spend
    # information: the Gamma-Gamma model treats them like one-time buyers.
    x_spend = np.where(s.monetary_value > 0, s.frequency, 0.0)
    try:
        gg = gammagamma.fit_gamma_gamma(x_spend, s.monetary_value)
        clv = gammagamma.customer_lifetime_value(
            fit.params,
            gg.params,
            x_spend,
            s.recency,
            s.T,
            s.monetary_value,
            months=int(parameters["clv_months"]),
            discount_rate=float(parameters["discount_rate"]),
            periods_per_month=30.0,
        )
    except (FitError, ValueError) as exc:
        quality["gamma_gamma"] = {"fitted": False, "reason": str(exc)}
    else:
        quality["gamma_gamma"] = {
            "fitted": True,
            "params": _params_dict(gg.params),
            "standard_errors": _params_dict(gg.standard_errors),
            "log_likelihood": _clean_float(gg.log_likelihood),
            "customers": int(gg.n_customers),
            "population_mean_spend": _clean_float(gg.params.population_mean),
        }
    return p_alive, expected, clv


def _current_stages(kinds: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """Each customer's lifecycle stage, given their keys' parts (`purchase_history.key_parts`);
    None where the record is gone.

    Each party table's ids and stages are read whole as arrays (`core.db.table_columns`) and
    matched by position: through a table indexed by id while ids are dense (as a sequence
    makes them), else by binary search. For a million customers, a dict of a million keys
    built from fetched rows costs several times the reads.
    """
    stages: npt.NDArray[np.object_] = np.full(len(ids), None, dtype=object)
    for model, prefix in ((Account, purchase_history.ACCOUNT_PREFIX), (Person, purchase_history.PERSON_PREFIX)):
        wanted = np.flatnonzero(kinds == ord(prefix))
        if not len(wanted):
            continue
        table_ids, table_stages = table_columns(model._meta.db_table, [("id", "int64"), ("lifecycle_stage", "text")])
        if not len(table_ids):
            continue
        rows = _rows_of(table_ids, ids[wanted])
        found = rows >= 0
        stages[wanted[found]] = np.asarray(table_stages, dtype=object)[rows[found]]
    return stages


def _rows_of(table_ids: npt.NDArray[np.int64], looked_up: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """For each looked-up id, its row in `table_ids`, or -1: through an array indexed by id
    while ids are dense (as a sequence makes them), else by binary search."""
    if not len(table_ids) or not len(looked_up):
        return np.full(len(looked_up), -1, dtype=np.int64)
    highest = int(max(table_ids.max(), looked_up.max()))
    if table_ids.min() >= 0 and looked_up.min() >= 0 and highest <= 4 * len(table_ids) + 1024:
        row_of = np.full(highest + 1, -1, dtype=np.int64)
        row_of[table_ids] = np.arange(len(table_ids))
        found: npt.NDArray[np.int64] = row_of[looked_up]
        return found
    order = np.argsort(table_ids)
    sorted_ids = table_ids[order]
    at = np.minimum(np.searchsorted(sorted_ids, looked_up), len(sorted_ids) - 1)
    return np.where(sorted_ids[at] == looked_up, order[at], -1).astype(np.int64)


def _summaries(
    end: dt.datetime, *, stored: bool, quality: dict[str, Any]
) -> tuple[summaries.CustomerSummaries, list[str]]:
    """The customers' summaries at `end` and their current stages, customers without a record left out."""
    if stored:
        report = purchase_store.refresh(now=end)
        quality["summaries"] = {
            "source": "stored",
            "rebuilt": report.rebuilt,
            "new_orders": report.new_orders,
            "folded": report.folded,
            "recomputed": report.recomputed,
        }
        read = purchase_store.read_columns()
        order = purchase_history.key_order(read.key_kinds, read.key_ids)
        s = summaries.summaries_from_periods(read.periods, end=end, order=order)
        if order is None:
            kinds, ids = purchase_history.key_parts(s.customer)
        else:
            kinds, ids = read.key_kinds[order], read.key_ids[order]
    else:
        quality["summaries"] = {"source": "from_orders"}
        expr = summaries.customer_summaries(purchase_history.purchases_table(), end=end)
        s = summaries.summaries_from_rows(purchase_history.run(expr.select(*summaries.SUMMARY_COLUMNS)))
        kinds, ids = purchase_history.key_parts(s.customer)
    stages = _current_stages(kinds, ids)
    missing = stages == None  # noqa: E711  -- elementwise over the array, which `is None` is not
    if missing.any():
        if stored:
            purchase_store.forget_missing([s.customer[i] for i in np.flatnonzero(missing).tolist()])
        present = np.flatnonzero(~missing)
        s = s.take(present)
        stages = stages[present]
    current: list[str] = stages.tolist()
    return s, current


def _money(value: float) -> Decimal | None:
    if math.isnan(value) or math.isinf(value):
        return None
    return Decimal(str(round(value, 2))).quantize(Decimal("0.01"))


def _histogram(values: np.ndarray[Any, np.dtype[np.float64]], bins: int = 10) -> list[dict[str, float | int]]:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return []
    high = float(np.quantile(finite, 0.99)) or float(finite.max()) or 1.0
    edges = np.linspace(0.0, high, bins + 1)
    counts, _ = np.histogram(np.clip(finite, 0.0, high), bins=edges)
    return [
        {"low": round(float(edges[i]), 2), "high": round(float(edges[i + 1]), 2), "customers": int(c)}
        for i, c in enumerate(counts)
    ]


def _score(
    run: AnalyticsRun,
    end: dt.datetime,
    parameters: Mapping[str, Any],
    stage_rules: list[RuleConditions],
    progress: Progress | None,
    *,
    stored: bool,
) -> None:
    quality: dict[str, Any] = {}
    s, current = _summaries(end, stored=stored, quality=quality)
    scored = rfm.rfm(s.days_since_last, s.order_count, s.revenue)
    r_score, fm_score = scored.recency_score, scored.fm_score
    rfm_codes = [
        f"{r}{f}{m}"
        for r, f, m in zip(
            r_score.tolist(), scored.frequency_score.tolist(), scored.monetary_score.tolist(), strict=True
        )
    ]
    segments = scored.segment_keys()
    n = len(s)
    _progress(run, 0, n, progress)

    quality["customers_scored"] = n
    p_alive, expected, clv = _fit_models(s, parameters, quality) if n else (np.zeros(0),) * 3
    stages = assign_stages(
        stage_rules,
        order_count=s.order_count,
        days_since_last=s.days_since_last,
        p_alive=p_alive,
        segment=segments,
        current=current,
    )

    outcome = customer_scores.score_customers(run, end, parameters, s.customer, p_alive.tolist())
    quality.update(outcome.quality)
    scored_at = timezone.now()
    by_model: dict[str, list[scores.Score]] = {"account": [], "person": []}
    stage_by_model: dict[str, dict[int, str]] = {"account": {}, "person": {}}
    for i, key in enumerate(s.customer):
        kind, pk = purchase_history.split_key(key)
        by_model[kind].append(
            scores.Score(
                pk=pk,
                rfm_score=rfm_codes[i],
                rfm_segment=segments[i],
                p_alive=_clean_float(float(p_alive[i])),
                predicted_clv=_money(float(clv[i])),
                churn_risk=outcome.churn_risk.get(key),
                engagement_score=outcome.engagement.get(key),
            )
        )
        if stages[i] and stages[i] != current[i]:
            stage_by_model[kind][pk] = stages[i]
    # Customers who have not bought but engage (contacts, tracked visits, referrals).
    buyers = set(s.customer)
    for key in sorted(set(outcome.engagement) - buyers):
        kind, pk = purchase_history.split_key(key)
        by_model[kind].append(
            scores.Score(pk=pk, churn_risk=outcome.churn_risk.get(key), engagement_score=outcome.engagement.get(key))
        )
    n_written = sum(len(rows) for rows in by_model.values())
    reason = f"analytics run #{run.pk}"
    moves: dict[tuple[str, str], int] = {}
    processed = 0

    def write_back[PartyT: (Account, Person)](kind: str, model: type[PartyT]) -> None:
        nonlocal processed
        for start in range(0, len(by_model[kind]), scores.BATCH_SIZE):
            batch = by_model[kind][start : start + scores.BATCH_SIZE]
            scores.write_scores(model, batch, scored_at=scored_at)
            processed += len(batch)
            _progress(run, processed, n_written, progress)
        for move, count in scores.apply_stages(model, stage_by_model[kind], reason=reason).items():
            moves[move] = moves.get(move, 0) + count

    write_back("account", Account)
    write_back("person", Person)

    end_day = summaries.day_number(end)
    finite_clv = clv[np.isfinite(clv)]
    revenue = float(s.revenue.sum())
    orders = int(s.order_count.sum())
    kpis = {
        "customers": n,
        "active": int((s.days_since_last <= parameters["active_days"]).sum()),
        "new": int((s.first_day > end_day - parameters["new_days"]).sum()),
        "churned": int((s.days_since_last > parameters["churn_days"]).sum()),
        "revenue": round(revenue, 2),
        "orders": orders,
        "average_order_value": round(revenue / orders, 2) if orders else 0.0,
        "repeat_rate": round(float((s.order_count >= 2).sum()) / n, 4) if n else 0.0,
        "predicted_clv_total": round(float(finite_clv.sum()), 2) if len(finite_clv) else None,
        "predicted_clv_mean": round(float(finite_clv.mean()), 2) if len(finite_clv) else None,
        "expected_purchases": round(float(np.nansum(expected)), 2) if n else 0.0,
    }
    grid = np.zeros((BINS, BINS), dtype=np.int64)
    if n:
        np.add.at(grid, (r_score - 1, fm_score - 1), 1)
    cells = summaries.cohort_cells(purchase_history.purchases_table(), end=end)
    cohort_rows = purchase_history.run(cells.select("cohort", "period", "customers", "revenue"))
    cohort = summaries.cohort_table_from_cells(cohort_rows)
    run.quality = quality
    run.results = {
        **outcome.results,
        "kpis": kpis,
        "rfm_grid": grid.tolist(),
        "segments": scored.segment_counts(),
        "stages": {stage: stages.count(stage) for stage in LifecycleStage.values if stages.count(stage)},
        "moves": [{"from": f, "to": t, "customers": c} for (f, t), c in sorted(moves.items())],
        "clv_histogram": _histogram(clv),
        "cohorts": {
            "months": [str(m) for m in cohort.months],
            "sizes": cohort.sizes.tolist(),
            "retention": [[_clean_float(v) for v in row] for row in cohort.retention.tolist()],
            "revenue": [[round(v, 2) for v in row] for row in cohort.revenue.tolist()],
        },
    }


# ---------------------------------------------------------------------------------------------
# Association rules and next offers


def run_rules(actor: User | None, *, seed: int = 0, progress: Progress | None = None, **overrides: Any) -> AnalyticsRun:
    """Find what sells together and precompute every customer's next offers; returns the run."""
    _require_run(actor)
    unknown = set(overrides) - set(DEFAULT_RULES)
    if unknown:
        raise ValidationError({key: [_("Unknown parameter.")] for key in sorted(unknown)})
    parameters = {**DEFAULT_RULES, **overrides}
    run = _start(RunKind.RULES, actor, parameters, seed)
    try:
        _rules(run, parameters, progress)
    except Exception as exc:
        logger.exception("analytics run %s failed", run.pk)
        _finish(run, RunStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000])
        raise
    return _finish(run, RunStatus.SUCCEEDED)


def _rules(run: AnalyticsRun, parameters: Mapping[str, Any], progress: Progress | None) -> None:
    pairs = np.fromiter((v for pair in purchase_history.basket_pairs() for v in pair), dtype=np.int64).reshape(-1, 2)
    products = np.unique(pairs[:, 1]) if len(pairs) else np.zeros(0, dtype=np.int64)
    labels = [str(p) for p in products.tolist()]
    item = np.searchsorted(products, pairs[:, 1]) if len(pairs) else np.zeros(0, dtype=np.int64)
    baskets = rules.baskets_from_pairs(pairs[:, 0] if len(pairs) else np.zeros(0, dtype=np.int64), item, labels)
    found = (
        rules.association_rules(
            baskets,
            min_support=str(parameters["min_support"]),
            min_confidence=str(parameters["min_confidence"]),
            max_len=int(parameters["max_len"]),
        )
        if baskets.n_baskets
        else []
    )
    names = purchase_history.product_labels([int(p) for p in products.tolist()])

    def name_of(label: str) -> str:
        return names.get(int(label), label)

    kept = [r for r in found if len(r.consequent) == 1][: int(parameters["keep_rules"])]
    bought: dict[str, set[str]] = {}
    for key, product in purchase_history.products_bought():
        bought.setdefault(key, set()).add(str(product))
    _progress(run, 0, len(bought), progress)
    recommender = rules.Recommender(found)
    limit = int(parameters["offers_per_customer"])
    offers: list[OfferSuggestion] = []
    for i, (key, basket) in enumerate(sorted(bought.items())):
        kind, pk = purchase_history.split_key(key)
        for rank, suggestion in enumerate(recommender.suggest(basket, limit=limit), start=1):
            offers.append(
                OfferSuggestion(
                    run=run,
                    account_id=pk if kind == "account" else None,
                    person_id=pk if kind == "person" else None,
                    rank=rank,
                    product_id=int(suggestion.item),
                    because=[int(b) for b in suggestion.because],
                    because_names=[name_of(b) for b in suggestion.because],
                    confidence=suggestion.confidence,
                    lift=suggestion.lift,
                )
            )
        if (i + 1) % 10_000 == 0:
            _progress(run, i + 1, len(bought), progress)
    with transaction.atomic():
        AssociationRuleResult.objects.bulk_create(
            [
                AssociationRuleResult(
                    run=run,
                    rank=rank,
                    antecedent=[int(a) for a in rule.antecedent],
                    antecedent_names=[name_of(a) for a in rule.antecedent],
                    consequent_id=int(rule.consequent[0]),
                    baskets=rule.count,
                    support=rule.support,
                    confidence=rule.confidence,
                    lift=rule.lift,
                )
                for rank, rule in enumerate(kept, start=1)
            ],
            batch_size=1000,
        )
        OfferSuggestion.objects.all().delete()
        OfferSuggestion.objects.bulk_create(offers, batch_size=2000)
    _progress(run, len(bought), len(bought), progress)
    run.quality = {
        "baskets": baskets.n_baskets,
        "distinct_baskets": baskets.n_distinct,
        "products": len(labels),
        "rules": len(found),
        "min_support_count": rules.min_count(str(parameters["min_support"]), baskets.n_baskets)
        if baskets.n_baskets
        else 0,
    }
    run.results = {"customers_with_offers": len({(o.account_id, o.person_id) for o in offers}), "offers": len(offers)}


# ---------------------------------------------------------------------------------------------
# Lifecycle rules (admin settings)

RULE_FIELDS = (
    "position",
    "stage",
    "description",
    "min_orders",
    "max_orders",
    "min_days_since_last",
    "max_days_since_last",
    "min_p_alive",
    "max_p_alive",
    "rfm_segments",
    "from_stages",
    "is_active",
)


def _require_rules_admin(actor: User) -> None:
    if not permissions.can_edit_rules(actor):
        raise PermissionDenied(_("Only an admin may change the lifecycle rules."))


def _check_rule(rule: LifecycleRule) -> None:
    errors: dict[str, list[str]] = {}
    if rule.stage not in LifecycleStage.values:
        errors["stage"] = [_("Unknown lifecycle stage.")]
    for low, high in (
        ("min_orders", "max_orders"),
        ("min_days_since_last", "max_days_since_last"),
        ("min_p_alive", "max_p_alive"),
    ):
        lo, hi = getattr(rule, low), getattr(rule, high)
        if lo is not None and hi is not None and lo > hi:
            errors[high] = [_("The upper bound is below the lower bound.")]
    for name in ("min_p_alive", "max_p_alive"):
        value = getattr(rule, name)
        if value is not None and not 0 <= value <= 1:
            errors[name] = [_("A probability lies between 0 and 1.")]
    known_segments = {r.key for r in SEGMENT_RULES}
    if any(s not in known_segments for s in rule.rfm_segments):
        errors["rfm_segments"] = [_("Unknown RFM segment.")]
    if any(s not in LifecycleStage.values for s in rule.from_stages):
        errors["from_stages"] = [_("Unknown lifecycle stage.")]
    if errors:
        raise ValidationError(errors)


def _apply(rule: LifecycleRule, data: Mapping[str, Any]) -> None:
    for name, value in data.items():
        if name not in RULE_FIELDS:
            raise ValidationError({name: [_("Unknown field.")]})
        setattr(rule, name, list(value) if name in ("rfm_segments", "from_stages") else value)


@transaction.atomic
def create_rule(actor: User, data: Mapping[str, Any]) -> LifecycleRule:
    _require_rules_admin(actor)
    rule = LifecycleRule()
    _apply(rule, data)
    _check_rule(rule)
    rule.save()
    record_change(
        rule,
        actor=actor,
        action=ChangeAction.CREATE,
        changes={k: [None, v] for k, v in snapshot(rule, RULE_FIELDS).items()},
    )
    return rule


@transaction.atomic
def update_rule(actor: User, rule: LifecycleRule, data: Mapping[str, Any]) -> LifecycleRule:
    _require_rules_admin(actor)
    rule = LifecycleRule.objects.select_for_update().get(pk=rule.pk)
    before = snapshot(rule, RULE_FIELDS)
    _apply(rule, data)
    _check_rule(rule)
    rule.save()
    record_change(rule, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, snapshot(rule, RULE_FIELDS)))
    return rule


@transaction.atomic
def delete_rule(actor: User, rule: LifecycleRule) -> None:
    _require_rules_admin(actor)
    before = snapshot(rule, RULE_FIELDS)
    record_change(rule, actor=actor, action=ChangeAction.DELETE, changes={k: [v, None] for k, v in before.items()})
    rule.delete()


# ---------------------------------------------------------------------------------------------
# Engagement definition (admin settings)


def _require_definition_admin(actor: User) -> None:
    if not permissions.can_edit_rules(actor):
        raise PermissionDenied(_("Only an admin may change the engagement definition."))


@transaction.atomic
def save_engagement_definition(
    actor: User, items: Mapping[str, Sequence[tuple[str, float]]], *, note: str = ""
) -> EngagementDefinition:
    """Save the 4 I's behaviours and weights as the next version; earlier versions stay as they were.

    Behaviours with weight zero are left out. The next scoring run uses the new version, and
    every score it writes names it.
    """
    _require_definition_admin(actor)
    cleaned = {
        name: [(str(key), float(weight)) for key, weight in items.get(name, ()) if float(weight) > 0]
        for name in engagement.I_NAMES
    }
    unknown = set(items) - set(engagement.I_NAMES)
    errors = engagement.check_definition({**cleaned, **{name: [] for name in unknown}})
    if errors:
        raise ValidationError({name: [_message(problem)] for name, problem in errors.items()})
    latest = EngagementDefinition.objects.select_for_update().order_by("-version").first()
    version = latest.version + 1 if latest else 1
    definition = EngagementDefinition.objects.create(
        version=version,
        items={name: [[key, weight] for key, weight in pairs] for name, pairs in cleaned.items()},
        note=note[:200],
        created_by=actor,
    )
    record_change(
        definition,
        actor=actor,
        action=ChangeAction.CREATE,
        changes={
            "version": [latest.version if latest else None, version],
            "items": [latest.items if latest else None, definition.items],
        },
    )
    return definition


def _message(problem: str) -> str:
    """The engine's problem in the user's language (the engine speaks English only)."""
    if problem.startswith("at least one behaviour"):
        return _("Give at least one behaviour a weight above zero.")
    if problem.startswith("unknown I"):
        return _("Unknown part of engagement.")
    if problem.startswith("unknown behaviours"):
        return _("Unknown behaviour.")
    if "twice" in problem:
        return _("A behaviour is listed twice.")
    return _("Weights must be zero or more.")
