"""How a lead's score, its reasons and its suggested intent grade follow from the scoring rules.

Pure reads: services call `score_lead` when a lead changes and the rescore job calls it for every
lead after the rules change, so one function decides what a score means.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from guanxi.leads.models import GradeBands, Lead, ScoringField, ScoringKind, ScoringRule


@dataclass(frozen=True)
class ScoreResult:
    score: int
    reasons: list[dict[str, Any]]
    suggested_grade: str


def _field_value(lead: Lead, rule: ScoringRule) -> str:
    if rule.field == ScoringField.ATTRIBUTE:
        value = (lead.attributes or {}).get(rule.attribute_key, "")
    else:
        value = getattr(lead, rule.field, "") if rule.field else ""
    return "" if value is None else str(value).strip()


def rule_matches(lead: Lead, rule: ScoringRule, now: datetime) -> bool:
    """Whether `lead` meets `rule`'s condition; text compares case-insensitively."""
    if rule.kind == ScoringKind.FIELD_EQUALS:
        return _field_value(lead, rule).casefold() == rule.value.strip().casefold() and bool(rule.value.strip())
    if rule.kind == ScoringKind.FIELD_FILLED:
        return bool(_field_value(lead, rule))
    if rule.kind == ScoringKind.ACTIVITY_COUNT:
        return lead.activity_count >= rule.threshold
    if rule.kind == ScoringKind.RECENCY:
        return lead.last_activity_at is not None and lead.last_activity_at >= now - timedelta(days=rule.threshold)
    return False


def active_rules() -> list[ScoringRule]:
    return list(ScoringRule.objects.filter(is_active=True).order_by("position", "id"))


def grade_bands() -> GradeBands:
    """The configured bands, or the defaults (A ≥ 80, B ≥ 50, C ≥ 20) before an admin sets any."""
    return GradeBands.objects.order_by("pk").first() or GradeBands()


def grade_for(score: int, bands: GradeBands) -> str:
    if score >= bands.a_from:
        return "A"
    if score >= bands.b_from:
        return "B"
    if score >= bands.c_from:
        return "C"
    return "D"


def score_lead(lead: Lead, rules: Sequence[ScoringRule], bands: GradeBands, now: datetime | None = None) -> ScoreResult:
    """Sum the points of every matching rule and say which rules they were."""
    now = now or timezone.now()
    matched = [rule for rule in rules if rule_matches(lead, rule, now)]
    reasons: list[dict[str, Any]] = [{"rule": r.pk, "label": r.label, "points": r.points} for r in matched]
    score = sum(rule.points for rule in matched)
    return ScoreResult(score=score, reasons=reasons, suggested_grade=grade_for(score, bands))


def apply_score(lead: Lead, result: ScoreResult) -> list[str]:
    """Put `result` on `lead` (not saved); the grade only when the rep has not set it by hand.

    Returns the names of the fields that changed, for `save(update_fields=...)`/`bulk_update`.
    """
    changed: list[str] = []
    if lead.score != result.score:
        lead.score = result.score
        changed.append("score")
    if lead.score_reasons != result.reasons:
        lead.score_reasons = result.reasons
        changed.append("score_reasons")
    if not lead.grade_is_manual and lead.grade != result.suggested_grade:
        lead.grade = result.suggested_grade
        changed.append("grade")
    return changed
