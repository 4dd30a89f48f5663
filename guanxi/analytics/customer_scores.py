"""The scoring run's second half: churn classifier, the 4 I's and account health.

Called by `services.run_scoring` after the purchase models, inside the same run (one run
number, one seed, one set of stored parameters). It reads behaviour set-based
(`analytics.behaviour`), lets the engine compute, stores the explanation tables (the churn
model with its hold-out figures, each customer's 4 I's with the definition version, each
contract customer's health with its reasons) and returns the two summary figures that
`customers.scores` writes onto the records: churn risk and engagement.

Churn risk: for contract customers (see `behaviour.CONTRACT_RULE`) the classifier's
probability, trained by the snapshot method (features as of `end − horizon`, label = no
purchase after it); for everyone else who has bought, and for contract customers while the
classifier lacks data, 1 − the BG/NBD probability of being alive.
"""

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import transaction

from guanxi import engine
from guanxi.analytics import behaviour
from guanxi.analytics.models import (
    AccountHealth,
    AnalyticsRun,
    ChurnModel,
    ChurnSource,
    CustomerScore,
    EngagementDefinition,
)
from guanxi.commerce import purchase_history
from guanxi.engine import churn, engagement, health

BATCH = 2000
MEASURED = frozenset(
    {
        "tracked_events_90",
        "active_days_90",
        "orders_365",
        "products_365",
        "contacts_90",
        "customer_started_90",
        "answered_promptly_share",
        "meetings_365",
        "referrals",
        "referrals_converted",
        "shares",
        "reviews",
    }
)
"""Behaviours Guanxi has data for; satisfaction and feedback sentiment wait for a service app."""


@dataclass
class Outcome:
    """Per customer key, what goes onto the customer record."""

    churn_risk: dict[str, float | None] = field(default_factory=dict)
    engagement: dict[str, int | None] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)


def current_definition() -> EngagementDefinition:
    """The definition in force (the highest version); version 1 holds the engine's defaults."""
    found = EngagementDefinition.objects.order_by("-version").first()
    if found is None:
        with transaction.atomic():
            found, _ = EngagementDefinition.objects.get_or_create(
                version=1,
                defaults={
                    "items": {k: [list(p) for p in v] for k, v in engagement.DEFAULT_DEFINITION.items()},
                    "note": "Defaults",
                },
            )
    return found


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else float(value)


def _party(key: str) -> dict[str, int | None]:
    kind, pk = purchase_history.split_key(key)
    return {"account_id": pk if kind == "account" else None, "person_id": pk if kind == "person" else None}


def _train(
    run: AnalyticsRun, end: dt.datetime, parameters: Mapping[str, Any], now: behaviour.Behaviour, contract: list[str]
) -> churn.ChurnModelResult:
    cutoff = end - dt.timedelta(days=int(parameters["churn_horizon_days"]))
    past = behaviour.collect(cutoff)
    labelled = sorted(past.contract_keys(int(parameters["contract_min_months"])))
    # Churned: no purchase after the cutoff (a purchase after it moves the last order past it).
    y = [0 if (last := now.last_order_at.get(key)) is not None and last > cutoff else 1 for key in labelled]
    features = behaviour.CHURN_FEATURES
    if not labelled or not contract:
        result = churn.not_enough_data(features, run.seed, len(labelled), sum(y), len(contract))
    else:
        result = churn.train_churn_model(
            features,
            [past.churn_row(key) for key in labelled],
            y,
            x_score=[now.churn_row(key) for key in contract],
            seed=run.seed,
            test_size=float(parameters["churn_test_share"]),
        )
    ChurnModel.objects.create(
        run=run,
        fitted=result.fitted,
        reason=result.reason,
        algorithm=result.algorithm,
        features=list(result.features),
        cutoff=cutoff,
        labelled=result.labelled,
        churned=result.churned,
        train_size=result.train_size,
        test_size=result.test_size,
        auc=result.auc,
        brier=result.brier,
        base_rate=result.base_rate,
        calibration=[
            {
                "low": b.low,
                "high": b.high,
                "customers": b.customers,
                "mean_predicted": b.mean_predicted,
                "observed": b.observed,
            }
            for b in result.calibration
        ],
        importances=[[name, value] for name, value in result.importances],
        coefficients=[[name, value] for name, value in result.coefficients],
        scored=len(contract) if result.fitted else 0,
    )
    return result


def score_customers(
    run: AnalyticsRun,
    end: dt.datetime,
    parameters: Mapping[str, Any],
    buyers: Sequence[str],
    p_alive: Sequence[float],
) -> Outcome:
    """Churn risk, 4 I's and health for every customer with any behaviour; stores the tables."""
    now = behaviour.collect(end)
    keys = sorted(now.keys() | set(buyers))
    contract = sorted(now.contract_keys(int(parameters["contract_min_months"])))
    contract_set = set(contract)
    result = _train(run, end, parameters, now, contract)

    alive = {key: float(p) for key, p in zip(buyers, p_alive, strict=True)}
    model_risk = dict(zip(contract, result.predictions.tolist(), strict=True)) if result.fitted else {}
    risk: dict[str, float | None] = {}
    source: dict[str, str] = {}
    for key in keys:
        if key in model_risk:
            risk[key], source[key] = _finite(model_risk[key]), ChurnSource.MODEL
        elif key in alive and math.isfinite(alive[key]):
            risk[key], source[key] = 1.0 - alive[key], ChurnSource.P_ALIVE
        else:
            risk[key], source[key] = None, ""

    definition = current_definition()
    columns = behaviour.engagement_columns(now, keys)
    scored = engagement.engagement_scores(
        {k: v for k, v in columns.items() if k in MEASURED}, definition.as_definition(), len(keys)
    )
    index = {key: i for i, key in enumerate(keys)}

    behaviour.add_health_inputs(now, contract)
    eng = scored.engagement
    inputs = health.HealthInputs(
        due_orders=[now.get(k, "due_orders") for k in contract],
        paid_on_time=[now.get(k, "paid_on_time") for k in contract],
        overdue_unpaid=[now.get(k, "overdue_unpaid") for k in contract],
        open_cases=[now.get(k, "open_cases") for k in contract],
        engagement=[eng[index[k]] for k in contract],
        usage_recent=[now.get(k, "usage_recent_30") for k in contract],
        usage_baseline=[now.get(k, "usage_prior_90") / 3.0 for k in contract],
    )
    weights = {name: float(w) for name, w in parameters["health_weights"].items()}
    healthy = health.health_scores(inputs, weights)

    score_rows = [
        CustomerScore(
            run=run,
            definition=definition,
            is_contract=key in contract_set,
            churn_risk=risk[key],
            churn_source=source[key],
            engagement=_finite(float(eng[i])),
            **{name: _finite(float(scored.scores[name][i])) for name in engagement.I_NAMES},
            **_party(key),
        )
        for i, key in enumerate(keys)
    ]
    health_rows = [
        AccountHealth(
            run=run,
            health=round(float(healthy.score[j])),
            components={name: _finite(float(healthy.components[name][j])) for name in health.COMPONENTS},
            reasons=[{"code": r.code, "points": r.points, "figures": r.figures} for r in healthy.reasons[j]],
            churn_risk=risk[key],
            engagement=_finite(float(eng[index[key]])),
            last_order_at=now.last_order_at.get(key),
            **_party(key),
        )
        for j, key in enumerate(contract)
        if math.isfinite(float(healthy.score[j]))  # no component applies only when every weight is zero
    ]
    with transaction.atomic():
        CustomerScore.objects.all().delete()
        AccountHealth.objects.all().delete()
        CustomerScore.objects.bulk_create(score_rows, batch_size=BATCH)
        AccountHealth.objects.bulk_create(health_rows, batch_size=BATCH)

    outcome = Outcome(
        churn_risk=risk,
        engagement={key: None if math.isnan(e) else round(float(e)) for key, e in zip(keys, eng.tolist(), strict=True)},
    )
    means = {
        name: _finite(float(np.nanmean(scored.scores[name])))
        if len(keys) and np.isfinite(scored.scores[name]).any()
        else None
        for name in (*engagement.I_NAMES,)
    }
    outcome.quality = {
        "churn": {
            "fitted": result.fitted,
            "reason": result.reason,
            "auc": result.auc,
            "brier": result.brier,
            "labelled": result.labelled,
            "churned": result.churned,
            "train_size": result.train_size,
            "test_size": result.test_size,
            "algorithm": result.algorithm,
        },
        "engagement": {
            "definition_version": definition.version,
            "unmeasured": list(scored.unmeasured),
            "caps": {k: round(v, 2) for k, v in scored.caps.items()},
        },
    }
    health_values = healthy.score[np.isfinite(healthy.score)]
    outcome.results = {
        "engagement": {
            "customers": len(keys),
            "definition_version": definition.version,
            "means": means,
            "mean": _finite(float(np.nanmean(eng))) if np.isfinite(eng).any() else None,
        },
        "health": {
            "contract_customers": len(contract),
            "mean": round(float(health_values.mean()), 1) if len(health_values) else None,
            "below_50": int((health_values < 50).sum()),
            "weights": weights,
        },
        "churn": {
            "model_scored": len(model_risk),
            "p_alive_scored": sum(1 for s in source.values() if s == ChurnSource.P_ALIVE),
            "engine_version": engine.__version__,
        },
    }
    return outcome
