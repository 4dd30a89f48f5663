"""Engagement as the 4 I's (involvement, interaction, intimacy, influence), each 0–100.

Why a definition and not fixed formulas: what "engaged" means differs per business (a
wholesaler's customers never leave reviews; a shop's never book meetings), so each I is a
weighted list of stable, countable behaviours that an admin chooses. The engine only needs
the per-customer behaviour columns and that definition.

Scaling, the same for every behaviour so weights compare like with like:
- a *count* (events, orders, contacts, referrals) is divided by a cap, the 95th percentile of
  the customers' non-zero values, and clipped to [0, 1]: one huge customer cannot squash
  everybody else to zero, and everyone at or above the cap gets full marks;
- a *share* (already between 0 and 1, e.g. contacts answered promptly) is used as it is;
- a NaN value means "does not apply to this customer" (a share of zero contacts): that
  behaviour is left out of the customer's weighted mean rather than counted as zero.
An I's score is 100 × the weighted mean of its scaled behaviours. A behaviour the definition
names but the caller has no data for is "unmeasured": left out of every customer and reported,
so the screen can say so. An I with no measured behaviour has no score (NaN). The overall
engagement is the plain mean of the I's that have a score.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from guanxi.engine._arrays import FloatArray

I_NAMES = ("involvement", "interaction", "intimacy", "influence")
CAP_QUANTILE = 0.95


@dataclass(frozen=True, slots=True)
class Behaviour:
    key: str
    kind: str  # "count" or "share"
    description: str


BEHAVIOURS: dict[str, Behaviour] = {
    b.key: b
    for b in (
        Behaviour("tracked_events_90", "count", "tracked events (page views, app use) in the last 90 days"),
        Behaviour("active_days_90", "count", "days with at least one tracked event in the last 90 days"),
        Behaviour("orders_365", "count", "orders in the last 365 days"),
        Behaviour("products_365", "count", "different products bought in the last 365 days"),
        Behaviour("contacts_90", "count", "two-way contacts (calls, meetings, visits, e-mails) in the last 90 days"),
        Behaviour("customer_started_90", "count", "contacts the customer started in the last 90 days"),
        Behaviour("answered_promptly_share", "share", "share of customer-started contacts answered within 24 hours"),
        Behaviour("meetings_365", "count", "meetings and visits in the last 365 days"),
        Behaviour("satisfaction", "share", "satisfaction rating, 0 to 1 (needs a service app)"),
        Behaviour("feedback_sentiment", "share", "sentiment of feedback, 0 to 1 (needs a service app)"),
        Behaviour("referrals", "count", "leads the customer referred"),
        Behaviour("referrals_converted", "count", "referred leads that became customers"),
        Behaviour("shares", "count", "tracked share events in the last 365 days"),
        Behaviour("reviews", "count", "tracked review events in the last 365 days"),
    )
}

Definition = Mapping[str, Sequence[tuple[str, float]]]
"""Per I, the behaviours that count and their weights."""

DEFAULT_DEFINITION: dict[str, list[tuple[str, float]]] = {
    "involvement": [("tracked_events_90", 1.0), ("active_days_90", 2.0), ("orders_365", 2.0), ("products_365", 1.0)],
    "interaction": [("contacts_90", 1.0), ("customer_started_90", 2.0)],
    "intimacy": [
        ("answered_promptly_share", 2.0),
        ("meetings_365", 1.0),
        ("satisfaction", 2.0),
        ("feedback_sentiment", 1.0),
    ],
    "influence": [("referrals", 2.0), ("referrals_converted", 3.0), ("shares", 1.0), ("reviews", 1.0)],
}


def check_definition(definition: Definition) -> dict[str, str]:
    """Problems with a definition, keyed by I (empty when valid)."""
    errors: dict[str, str] = {}
    for name in definition:
        if name not in I_NAMES:
            errors[name] = f"unknown I: {name}"
    for name in I_NAMES:
        items = definition.get(name, ())
        keys = [key for key, _ in items]
        unknown = [key for key in keys if key not in BEHAVIOURS]
        if unknown:
            errors[name] = f"unknown behaviours: {', '.join(unknown)}"
        elif len(set(keys)) != len(keys):
            errors[name] = "a behaviour is listed twice"
        elif any(not np.isfinite(w) or w < 0 for _, w in items):
            errors[name] = "weights must be zero or more"
        elif not any(w > 0 for _, w in items):
            errors[name] = "at least one behaviour needs a weight above zero"
    return errors


@dataclass(frozen=True, slots=True)
class EngagementScores:
    """Per customer, each I and the overall engagement (0–100, NaN when it has no score)."""

    scores: dict[str, FloatArray]
    engagement: FloatArray
    caps: dict[str, float]
    unmeasured: tuple[str, ...]
    used: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


def scale(key: str, values: npt.ArrayLike) -> tuple[FloatArray, float]:
    """A behaviour column scaled to [0, 1] (NaN kept), and the cap used (1 for shares)."""
    behaviour = BEHAVIOURS[key]
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{key} must be one-dimensional")
    if behaviour.kind == "share":
        return np.clip(array, 0.0, 1.0), 1.0
    positive = array[np.isfinite(array) & (array > 0)]
    cap = float(np.quantile(positive, CAP_QUANTILE)) if len(positive) else 0.0
    if cap <= 0:
        return np.where(np.isfinite(array), 0.0, np.nan), 0.0
    return np.clip(array / cap, 0.0, 1.0), cap


def engagement_scores(columns: Mapping[str, npt.ArrayLike], definition: Definition, n: int) -> EngagementScores:
    """Score `n` customers from their behaviour `columns` (each of length n) under `definition`."""
    errors = check_definition(definition)
    if errors:
        raise ValueError("; ".join(f"{k}: {v}" for k, v in sorted(errors.items())))
    scaled: dict[str, FloatArray] = {}
    caps: dict[str, float] = {}
    for key, values in columns.items():
        if key not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour column: {key}")
        scaled[key], caps[key] = scale(key, values)
        if len(scaled[key]) != n:
            raise ValueError(f"{key} has length {len(scaled[key])}, expected {n}")
    unmeasured: list[str] = []
    result: dict[str, FloatArray] = {}
    used: dict[str, list[tuple[str, float]]] = {}
    for name in I_NAMES:
        total = np.zeros(n)
        weight = np.zeros(n)
        used[name] = []
        for key, w in definition.get(name, ()):
            if w <= 0:
                continue
            if key not in scaled:
                unmeasured.append(key)
                continue
            used[name].append((key, float(w)))
            column = scaled[key]
            present = np.isfinite(column)
            total += np.where(present, column * w, 0.0)
            weight += np.where(present, w, 0.0)
        if not used[name]:
            result[name] = np.full(n, np.nan)
            continue
        # A customer to whom none of the measured behaviours applies scores zero on this I.
        result[name] = 100.0 * np.divide(total, weight, out=np.zeros(n), where=weight > 0)
    stacked = np.vstack([result[name] for name in I_NAMES]) if n else np.zeros((len(I_NAMES), 0))
    present = np.isfinite(stacked)
    counts = present.sum(axis=0)
    sums = np.where(present, stacked, 0.0).sum(axis=0)
    overall = np.divide(sums, counts, out=np.full(n, np.nan), where=counts > 0)
    return EngagementScores(
        scores=result,
        engagement=overall,
        caps=caps,
        unmeasured=tuple(dict.fromkeys(unmeasured)),
        used=used,
    )
