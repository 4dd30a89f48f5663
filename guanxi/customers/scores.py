"""The set-based writer of scores and lifecycle stages onto customer records.

Analytics scores every customer in one run; writing them one `save()` at a time would cost a
round trip per record. Here each batch is one UPDATE (scores: Django's `bulk_update`; stages:
one UPDATE per target stage), with the stage moves' `LifecycleChange` rows and field history
inserted in one statement per batch. Each batch is its own transaction, so a long run holds
row locks for one batch at a time and a failure keeps the batches already written.

Scores are figures recomputed on every run, not edits: they carry `scored_at` and leave no
field history (a million rows a night would drown the real changes). A stage move is an event
the sales and campaign apps act on, so every move has a `LifecycleChange` and a history entry
with the run's reason.

`customers` does not know analytics: the analytics app calls these functions with plain values.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import batched

from django.db import transaction

from guanxi.core.history import bulk_record_changes
from guanxi.customers.models import Account, LifecycleStage, Person
from guanxi.customers.services import record_stage_moves
from guanxi.staff.models import User

BATCH_SIZE = 2000

SCORE_FIELDS = (
    "rfm_score",
    "rfm_segment",
    "p_alive",
    "predicted_clv",
    "churn_risk",
    "engagement_score",
    "scored_at",
)


@dataclass(frozen=True, slots=True)
class Score:
    """One record's scores; None leaves a figure empty (e.g. no model fitted)."""

    pk: int
    rfm_score: str = ""
    rfm_segment: str = ""
    p_alive: float | None = None
    predicted_clv: Decimal | None = None
    churn_risk: float | None = None
    engagement_score: int | None = None


def write_scores[PartyT: (Account, Person)](
    model: type[PartyT], scores: Iterable[Score], *, scored_at: datetime, batch_size: int = BATCH_SIZE
) -> int:
    """Store each record's scores; returns how many records were updated."""
    written = 0
    for batch in batched(scores, batch_size):
        rows = [
            model(
                pk=s.pk,
                rfm_score=s.rfm_score[:3],
                rfm_segment=s.rfm_segment[:24],
                p_alive=s.p_alive,
                predicted_clv=s.predicted_clv,
                churn_risk=s.churn_risk,
                engagement_score=s.engagement_score,
                scored_at=scored_at,
            )
            for s in batch
        ]
        with transaction.atomic():
            written += model.objects.bulk_update(rows, SCORE_FIELDS, batch_size=batch_size)
    return written


def apply_stages[PartyT: (Account, Person)](
    model: type[PartyT],
    stages: Mapping[int, str],
    *,
    reason: str,
    actor: User | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict[tuple[str, str], int]:
    """Move records to their new stage; returns the number of moves per (from, to).

    Records already in their stage are left alone and leave no history. Leaving the lost
    stage clears the lost reason, as a manual stage change does.
    """
    for stage in set(stages.values()):
        if stage not in LifecycleStage.values:
            raise ValueError(f"unknown lifecycle stage: {stage}")
    moves: dict[tuple[str, str], int] = {}
    for batch in batched(sorted(stages), batch_size):
        with transaction.atomic():
            current = list(
                model.objects.filter(pk__in=batch)
                .select_for_update()
                .order_by("pk")
                .values_list("pk", "lifecycle_stage", "lost_reason")
            )
            changed = [(pk, old, lost, stages[pk]) for pk, old, lost in current if old != stages[pk]]
            by_target: dict[str, list[int]] = {}
            for pk, _old, _lost, new in changed:
                by_target.setdefault(new, []).append(pk)
            for new, ids in by_target.items():
                if new == LifecycleStage.LOST:
                    model.objects.filter(pk__in=ids).update(lifecycle_stage=new)
                else:
                    model.objects.filter(pk__in=ids).update(lifecycle_stage=new, lost_reason="")
            record_stage_moves(model, [(pk, old, new) for pk, old, _lost, new in changed], actor=actor, reason=reason)
            entries = []
            for pk, old, lost, new in changed:
                change = {"lifecycle_stage": [old, new]}
                if lost and new != LifecycleStage.LOST:
                    change["lost_reason"] = [lost, ""]
                entries.append((pk, change))
            bulk_record_changes(model, entries, actor=actor, note=reason)
            for _pk, old, _lost, new in changed:
                moves[(old, new)] = moves.get((old, new), 0) + 1
    return moves
