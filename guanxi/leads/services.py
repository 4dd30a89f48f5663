"""Every write to leads and their rules. Views, the API, the public web form and jobs come here.

Each function owns its transaction, checks permission, validates with field-keyed errors, writes,
keeps history and queues side effects on commit, so a failure anywhere leaves nothing half-done.
"""

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.history import bulk_record_changes, diff, record_change, snapshot
from guanxi.core.models import ChangeAction
from guanxi.customers import services as customer_services
from guanxi.customers.models import Account, Person, Role, RoleKind, Source
from guanxi.customers.normalise import InvalidValueError, full_name, normalise_email, normalise_phone
from guanxi.leads import scoring
from guanxi.leads.models import (
    WEB_FORM_FIELDS,
    AssignmentAction,
    AssignmentRule,
    GradeBands,
    Lead,
    LeadSource,
    LeadStatus,
    ScoringField,
    ScoringKind,
    ScoringRule,
    WebForm,
)
from guanxi.leads.queries import editable_leads
from guanxi.sales import services as sales_services
from guanxi.staff import access
from guanxi.staff.models import StaffRole, User

LEAD_FIELDS = (
    "company_name",
    "family_name",
    "given_name",
    "job_title",
    "email",
    "phone",
    "industry",
    "region",
    "country",
    "message",
    "source",
    "source_detail",
    "referred_by_account",
    "referred_by_person",
    "owner",
    "team",
    "grade",
)
HISTORY_FIELDS = (
    *LEAD_FIELDS,
    "status",
    "disqualified_reason",
    "score",
    "converted_account",
    "converted_person",
    "converted_opportunity",
)
# A lead's source as the customer record's source once converted.
SOURCE_TO_CUSTOMER = {
    LeadSource.WEB_FORM: Source.WEB,
    LeadSource.CAMPAIGN: Source.CAMPAIGN,
    LeadSource.REFERRAL: Source.REFERRAL,
    LeadSource.TRADE_SHOW: Source.TRADE_SHOW,
    LeadSource.COLD_CALL: Source.COLD_CALL,
    LeadSource.IMPORT: Source.IMPORT,
    LeadSource.API: Source.API,
    LeadSource.OTHER: Source.OTHER,
}
ROUND_ROBIN_ROLES = (StaffRole.SALES_REP, StaffRole.SALES_MANAGER)
RESCORE_BATCH = 1000


# ---------------------------------------------------------------------------------------------
# Permission helpers


def _require_edit(actor: User, lead: Lead) -> None:
    if not editable_leads(actor).filter(pk=lead.pk).exists():
        raise PermissionDenied(_("You may not change this lead."))


def _require_staff(actor: User | None) -> None:
    if actor is not None and not (actor.is_authenticated and actor.is_active):
        raise PermissionDenied(_("Sign in first."))


def _require_settings(actor: User) -> None:
    if not access.can_manage_settings(actor):
        raise PermissionDenied(_("Only an admin may change this setting."))


def _check_owner(actor: User | None, owner: User | None, current: User | None = None) -> None:
    """`actor=None` is the system (the web form, rules): it may assign to any active user."""
    if owner == current:
        return
    if owner is not None and not owner.is_active:
        raise ValidationError({"owner": [_("This user is deactivated.")]})
    if actor is not None and not access.can_assign_to(actor, owner):
        raise ValidationError({"owner": [_("You may not assign records to this user.")]})


# ---------------------------------------------------------------------------------------------
# Shared pieces


def _snapshot(lead: Lead) -> dict[str, Any]:
    return snapshot(lead, HISTORY_FIELDS, {"attributes": lead.attributes})


def _assign_fields(lead: Lead, data: Mapping[str, Any]) -> None:
    unknown = sorted(set(data) - set(LEAD_FIELDS))
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    for name, value in data.items():
        setattr(lead, name, "" if value is None and name not in ("owner", "team") and "_by_" not in name else value)


def _clean(lead: Lead, *, contact_required: bool = False) -> None:
    """Normalise names, e-mail and phone; every problem at once, keyed by field."""
    errors: dict[str, list[str]] = {}
    for name in ("company_name", "family_name", "given_name", "job_title", "industry", "region", "source_detail"):
        setattr(lead, name, str(getattr(lead, name) or "").strip())
    lead.country = (lead.country or "").strip().upper()
    lead.full_name = full_name(lead.family_name, lead.given_name)
    if lead.email.strip():
        try:
            lead.email = normalise_email(lead.email)
        except InvalidValueError as exc:
            errors["email"] = [str(exc)]
    else:
        lead.email = ""
    if lead.phone.strip():
        try:
            lead.phone = normalise_phone(lead.phone, lead.country or None)
        except InvalidValueError as exc:
            errors["phone"] = [str(exc)]
    else:
        lead.phone = ""
    if contact_required and not lead.email and not lead.phone and "email" not in errors and "phone" not in errors:
        errors["email"] = [_("Enter an e-mail address or a phone number.")]
    if not (lead.full_name or lead.company_name or lead.email or lead.phone) and not errors:
        errors["family_name"] = [_("Enter at least a name, a company, an e-mail address or a phone number.")]
    try:
        lead.full_clean(
            exclude=[
                "owner",
                "team",
                "referred_by_account",
                "referred_by_person",
                "created_by",
                "converted_by",
                "assigned_by_rule",
                "web_form",
                "converted_account",
                "converted_person",
                "converted_opportunity",
                *errors,
            ],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


def _check_referral(actor: User | None, lead: Lead) -> None:
    if actor is None:
        return
    if (
        lead.referred_by_account_id
        and not Account.objects.filter(
            access.visible_q(actor, team_field="team"), pk=lead.referred_by_account_id
        ).exists()
    ):
        raise ValidationError({"referred_by_account": [_("You may not see this account.")]})
    if (
        lead.referred_by_person_id
        and not Person.objects.filter(access.visible_q(actor), pk=lead.referred_by_person_id).exists()
    ):
        raise ValidationError({"referred_by_person": [_("You may not see this person.")]})


def _rescore(lead: Lead) -> list[str]:
    return scoring.apply_score(lead, scoring.score_lead(lead, scoring.active_rules(), scoring.grade_bands()))


# ---------------------------------------------------------------------------------------------
# Assignment rules at work


def rule_matches(rule: AssignmentRule, lead: Lead) -> bool:
    """Every non-empty condition must hold; text compares case-insensitively."""

    def folded(values: Iterable[str]) -> set[str]:
        return {str(v).strip().casefold() for v in values if str(v).strip()}

    if rule.sources and lead.source not in rule.sources:
        return False
    if rule.industries and lead.industry.casefold() not in folded(rule.industries):
        return False
    if rule.regions and lead.region.casefold() not in folded(rule.regions):
        return False
    return not (rule.countries and lead.country.upper() not in {c.upper() for c in rule.countries})


def _round_robin_next(rule: AssignmentRule) -> User | None:
    """The team member after the last one this rule assigned to, under a lock on the rule row.

    Two leads arriving at once both wait for the lock, so each sees the pointer the other moved.
    """
    locked = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
    members = list(User.objects.filter(team=locked.team, is_active=True, role__in=ROUND_ROBIN_ROLES).order_by("pk"))
    if not members:
        return None
    last = locked.last_assigned_id or 0
    chosen = next((m for m in members if m.pk > last), members[0])
    AssignmentRule.objects.filter(pk=locked.pk).update(last_assigned=chosen)
    return chosen


def apply_assignment_rules(lead: Lead) -> AssignmentRule | None:
    """Give `lead` an owner (and team) by the first active rule that matches and can act."""
    for rule in AssignmentRule.objects.filter(is_active=True).select_related("assign_to").order_by("position", "id"):
        if not rule_matches(rule, lead):
            continue
        if rule.action == AssignmentAction.ROUND_ROBIN:
            if rule.team_id is None:
                continue
            owner = _round_robin_next(rule)
            if owner is None:
                continue
            lead.owner, lead.team_id = owner, rule.team_id
        else:
            if rule.assign_to is None or not rule.assign_to.is_active:
                continue
            lead.owner = rule.assign_to
            lead.team_id = rule.team_id or rule.assign_to.team_id
        lead.assigned_by_rule = rule
        return rule
    return None


# ---------------------------------------------------------------------------------------------
# Leads


@transaction.atomic
def create_lead(
    actor: User | None,
    data: Mapping[str, Any],
    *,
    attributes: Mapping[str, Any] | None = None,
    web_form: WebForm | None = None,
    contact_required: bool = False,
) -> Lead:
    """A new lead, normalised, assigned (the owner given, else the rules, else the shared pool)
    and scored. `actor=None` is the public web form."""
    _require_staff(actor)
    lead = Lead(created_by=actor if actor is not None else None, web_form=web_form)
    fields = dict(data)
    grade = fields.pop("grade", "") or ""
    _assign_fields(lead, fields)
    lead.attributes = dict(attributes or {})
    _clean(lead, contact_required=contact_required)
    _check_referral(actor, lead)
    if "owner" in fields:
        _check_owner(actor, lead.owner)
        if lead.owner is not None and lead.team_id is None:
            lead.team_id = lead.owner.team_id
    else:
        apply_assignment_rules(lead)
    if grade:
        if grade not in ("A", "B", "C", "D"):
            raise ValidationError({"grade": [_("Choose A, B, C or D.")]})
        lead.grade, lead.grade_is_manual = grade, True
    _rescore(lead)
    lead.save()
    note = f"assigned by rule: {lead.assigned_by_rule.name}" if lead.assigned_by_rule else ""
    record_change(lead, actor=actor, action=ChangeAction.CREATE, changes=diff({}, _snapshot(lead)), note=note)
    return lead


@transaction.atomic
def update_lead(
    actor: User, lead: Lead, data: Mapping[str, Any], *, attributes: Mapping[str, Any] | None = None
) -> Lead:
    """Change a lead's fields; `grade` set here is the rep's own (empty: back to the suggestion)."""
    lead = Lead.objects.select_for_update(of=("self",)).get(pk=lead.pk)
    _require_edit(actor, lead)
    before = _snapshot(lead)
    before_owner = lead.owner
    fields = dict(data)
    grade_given = "grade" in fields
    grade = fields.pop("grade", "") or ""
    _assign_fields(lead, fields)
    if attributes is not None:
        lead.attributes = dict(attributes)
    _clean(lead)
    _check_referral(actor, lead)
    _check_owner(actor, lead.owner, before_owner)
    if grade_given:
        if grade and grade not in ("A", "B", "C", "D"):
            raise ValidationError({"grade": [_("Choose A, B, C or D.")]})
        lead.grade_is_manual = bool(grade)
        if grade:
            lead.grade = grade
    _rescore(lead)
    lead.save()
    record_change(lead, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, _snapshot(lead)))
    return lead


def _check_status(status: str, reason: str) -> None:
    if status not in LeadStatus.values or status == LeadStatus.CONVERTED:
        raise ValidationError({"status": [_("Choose new, working, qualified or disqualified.")]})
    if status == LeadStatus.DISQUALIFIED and not reason.strip():
        raise ValidationError({"disqualified_reason": [_("Say why the lead is disqualified.")]})


@transaction.atomic
def set_lead_status(actor: User, lead: Lead, status: str, *, reason: str = "") -> Lead:
    """Move a lead along; disqualifying needs a reason, and only conversion sets `converted`."""
    _check_status(status, reason)
    lead = Lead.objects.select_for_update(of=("self",)).get(pk=lead.pk)
    _require_edit(actor, lead)
    if lead.status == LeadStatus.CONVERTED:
        raise ValidationError({"status": [_("A converted lead keeps its status.")]})
    before = _snapshot(lead)
    lead.status = status
    lead.disqualified_reason = reason.strip()[:255] if status == LeadStatus.DISQUALIFIED else ""
    lead.save(update_fields=["status", "disqualified_reason", "updated_at"])
    record_change(lead, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, _snapshot(lead)), note=reason)
    return lead


@transaction.atomic
def bulk_assign_leads(actor: User, ids: Iterable[int], owner: User | None) -> int:
    """Give many leads one owner (None: the shared pool); leads the actor may not change are skipped."""
    _check_owner(actor, owner, current=actor if owner is None else None)
    rows = list(editable_leads(actor).filter(pk__in=list(ids)).select_for_update(of=("self",)).select_related("owner"))
    label = str(owner) if owner else None
    target = owner.pk if owner else None
    entries = [(r.pk, {"owner": [str(r.owner) if r.owner else None, label]}) for r in rows if r.owner_id != target]
    changed = [pk for pk, _changes in entries]
    Lead.objects.filter(pk__in=changed).update(
        owner=owner, team_id=owner.team_id if owner else None, updated_at=timezone.now()
    )
    bulk_record_changes(Lead, entries, actor=actor, note="bulk assign")
    return len(changed)


@transaction.atomic
def bulk_set_lead_status(actor: User, ids: Iterable[int], status: str, *, reason: str = "") -> int:
    _check_status(status, reason)
    rows = list(
        editable_leads(actor)
        .filter(pk__in=list(ids))
        .exclude(status__in=[status, LeadStatus.CONVERTED])
        .select_for_update(of=("self",))
        .only("pk", "status")
    )
    new_reason = reason.strip()[:255] if status == LeadStatus.DISQUALIFIED else ""
    Lead.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=status, disqualified_reason=new_reason, updated_at=timezone.now()
    )
    bulk_record_changes(
        Lead, [(r.pk, {"status": [r.status, status]}) for r in rows], actor=actor, note=reason or "bulk status"
    )
    return len(rows)


@transaction.atomic
def claim_leads(actor: User, ids: Iterable[int]) -> int:
    """Take shared-pool leads as owner; the UPDATE re-checks `owner IS NULL`, so two reps racing
    for one lead cannot both get it."""
    if not access.can_claim(actor):
        raise PermissionDenied(_("Only sales staff may claim from the shared pool."))
    wanted = list(Lead.objects.filter(pk__in=list(ids), owner__isnull=True).values_list("pk", flat=True))
    Lead.objects.filter(pk__in=wanted, owner__isnull=True).update(
        owner=actor, team_id=actor.team_id, updated_at=timezone.now()
    )
    claimed = list(Lead.objects.filter(pk__in=wanted, owner=actor).values_list("pk", flat=True))
    bulk_record_changes(
        Lead, [(pk, {"owner": [None, str(actor)]}) for pk in claimed], actor=actor, note="claimed from shared pool"
    )
    return len(claimed)


@transaction.atomic
def record_lead_activity(lead_id: int, at: datetime) -> None:
    """A follow-up was logged on the lead: count it, move `last_activity_at` forward (never
    back, for a follow-up logged late) and rescore. The count is an F() update, so two
    follow-ups logged at once both count."""
    updated = Lead.objects.filter(pk=lead_id).update(
        activity_count=F("activity_count") + 1,
        last_activity_at=Coalesce(Greatest(F("last_activity_at"), at), at),
    )
    if not updated:
        return
    lead = Lead.objects.select_for_update(of=("self",)).get(pk=lead_id)
    changed = _rescore(lead)
    if changed:
        lead.save(update_fields=changed)


def rescore_leads(*, batch_size: int = RESCORE_BATCH, ids: Iterable[int] | None = None) -> int:
    """Recompute every lead's score (or those in `ids`), one transaction per batch of ids.

    Batched so it runs beside normal work on a large base; writes only leads whose score,
    reasons or suggested grade changed. Returns how many changed.
    """
    rules = scoring.active_rules()
    bands = scoring.grade_bands()
    now = timezone.now()
    base = Lead.objects.all() if ids is None else Lead.objects.filter(pk__in=list(ids))
    changed_total = 0
    last = 0
    while True:
        batch_ids = list(base.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not batch_ids:
            return changed_total
        last = batch_ids[-1]
        with transaction.atomic():
            rows = list(Lead.objects.filter(pk__in=batch_ids).select_for_update())
            dirty = [r for r in rows if scoring.apply_score(r, scoring.score_lead(r, rules, bands, now))]
            Lead.objects.bulk_update(dirty, ["score", "score_reasons", "grade"], batch_size=500)
            changed_total += len(dirty)


def _queue_rescore() -> None:
    # Imported here: tasks.py wraps this module's functions, so it imports services first.
    from guanxi.leads import tasks

    tasks.rescore_all_leads.enqueue()


# ---------------------------------------------------------------------------------------------
# Assignment rules (admin)

RULE_FIELDS = ("name", "is_active", "sources", "industries", "regions", "countries", "action", "assign_to", "team")


def _clean_list(values: Any) -> list[str]:
    if isinstance(values, str):
        values = values.replace("，", ",").replace("\n", ",").split(",")
    return [str(v).strip() for v in values or () if str(v).strip()]


def _clean_assignment_rule(rule: AssignmentRule) -> None:
    errors: dict[str, list[str]] = {}
    rule.name = rule.name.strip()
    if not rule.name:
        errors["name"] = [_("Enter a name.")]
    rule.sources = _clean_list(rule.sources)
    rule.industries = _clean_list(rule.industries)
    rule.regions = _clean_list(rule.regions)
    rule.countries = [c.upper() for c in _clean_list(rule.countries)]
    bad_sources = [s for s in rule.sources if s not in LeadSource.values]
    if bad_sources:
        errors["sources"] = [_("Unknown source: %(value)s") % {"value": ", ".join(bad_sources)}]
    if rule.action == AssignmentAction.USER and rule.assign_to is None:
        errors["assign_to"] = [_("Choose the user who gets the leads.")]
    if rule.action == AssignmentAction.ROUND_ROBIN and rule.team is None:
        errors["team"] = [_("Choose the team whose members take turns.")]
    if rule.action not in AssignmentAction.values:
        errors["action"] = [_("Choose an action.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_assignment_rule(actor: User, data: Mapping[str, Any]) -> AssignmentRule:
    _require_settings(actor)
    rule = AssignmentRule()
    for name, value in data.items():
        if name not in RULE_FIELDS:
            raise ValidationError({name: [_("Unknown field.")]})
        setattr(rule, name, value)
    _clean_assignment_rule(rule)
    last = AssignmentRule.objects.order_by("-position").values_list("position", flat=True).first()
    rule.position = (last or 0) + 1
    rule.save()
    record_change(rule, actor=actor, action=ChangeAction.CREATE, changes=diff({}, snapshot(rule, RULE_FIELDS)))
    return rule


@transaction.atomic
def update_assignment_rule(actor: User, rule: AssignmentRule, data: Mapping[str, Any]) -> AssignmentRule:
    _require_settings(actor)
    rule = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
    before = snapshot(rule, RULE_FIELDS)
    for name, value in data.items():
        if name not in RULE_FIELDS:
            raise ValidationError({name: [_("Unknown field.")]})
        setattr(rule, name, value)
    _clean_assignment_rule(rule)
    rule.save()
    record_change(rule, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, snapshot(rule, RULE_FIELDS)))
    return rule


@transaction.atomic
def delete_assignment_rule(actor: User, rule: AssignmentRule) -> None:
    _require_settings(actor)
    record_change(rule, actor=actor, action=ChangeAction.DELETE, changes={}, note=rule.name)
    rule.delete()


@transaction.atomic
def move_assignment_rule(actor: User, rule: AssignmentRule, direction: str) -> None:
    """Swap a rule with its neighbour above ("up") or below ("down"); order decides which wins."""
    _require_settings(actor)
    rules = list(AssignmentRule.objects.select_for_update().order_by("position", "id"))
    index = next((i for i, r in enumerate(rules) if r.pk == rule.pk), None)
    if index is None:
        return
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(rules):
        return
    rules[index], rules[other] = rules[other], rules[index]
    for position, item in enumerate(rules, start=1):
        item.position = position
    AssignmentRule.objects.bulk_update(rules, ["position"])
    record_change(
        rule, actor=actor, action=ChangeAction.UPDATE, changes={"position": [index + 1, other + 1]}, note=direction
    )


# ---------------------------------------------------------------------------------------------
# Scoring rules and grade bands (admin)

SCORING_FIELDS = ("label", "kind", "field", "attribute_key", "value", "threshold", "points", "is_active", "position")


def _clean_scoring_rule(rule: ScoringRule) -> None:
    errors: dict[str, list[str]] = {}
    rule.label = rule.label.strip()
    rule.value = rule.value.strip()
    rule.attribute_key = rule.attribute_key.strip()
    if not rule.label:
        errors["label"] = [_("Enter a label.")]
    if rule.kind not in ScoringKind.values:
        errors["kind"] = [_("Choose a kind.")]
    if rule.kind in (ScoringKind.FIELD_EQUALS, ScoringKind.FIELD_FILLED):
        if rule.field not in ScoringField.values:
            errors["field"] = [_("Choose a field.")]
        if rule.field == ScoringField.ATTRIBUTE and not rule.attribute_key:
            errors["attribute_key"] = [_("Enter the custom attribute's key.")]
        if rule.kind == ScoringKind.FIELD_EQUALS and not rule.value:
            errors["value"] = [_("Enter the value to compare with.")]
    else:
        rule.field, rule.value, rule.attribute_key = "", "", ""
        if rule.kind == ScoringKind.ACTIVITY_COUNT and rule.threshold < 1:
            errors["threshold"] = [_("Enter how many follow-ups (1 or more).")]
        if rule.kind == ScoringKind.RECENCY and rule.threshold < 1:
            errors["threshold"] = [_("Enter a number of days (1 or more).")]
    if errors:
        raise ValidationError(errors)


def _set_scoring_fields(rule: ScoringRule, data: Mapping[str, Any]) -> None:
    for name, value in data.items():
        if name not in SCORING_FIELDS:
            raise ValidationError({name: [_("Unknown field.")]})
        setattr(rule, name, "" if value is None and name in ("field", "attribute_key", "value") else value)


@transaction.atomic
def create_scoring_rule(actor: User, data: Mapping[str, Any]) -> ScoringRule:
    """A new rule; every lead is rescored after the commit."""
    _require_settings(actor)
    rule = ScoringRule()
    _set_scoring_fields(rule, data)
    _clean_scoring_rule(rule)
    rule.save()
    record_change(rule, actor=actor, action=ChangeAction.CREATE, changes=diff({}, snapshot(rule, SCORING_FIELDS)))
    transaction.on_commit(_queue_rescore)
    return rule


@transaction.atomic
def update_scoring_rule(actor: User, rule: ScoringRule, data: Mapping[str, Any]) -> ScoringRule:
    _require_settings(actor)
    rule = ScoringRule.objects.select_for_update().get(pk=rule.pk)
    before = snapshot(rule, SCORING_FIELDS)
    _set_scoring_fields(rule, data)
    _clean_scoring_rule(rule)
    rule.save()
    changes = diff(before, snapshot(rule, SCORING_FIELDS))
    record_change(rule, actor=actor, action=ChangeAction.UPDATE, changes=changes)
    if changes:
        transaction.on_commit(_queue_rescore)
    return rule


@transaction.atomic
def delete_scoring_rule(actor: User, rule: ScoringRule) -> None:
    _require_settings(actor)
    record_change(rule, actor=actor, action=ChangeAction.DELETE, changes={}, note=rule.label)
    rule.delete()
    transaction.on_commit(_queue_rescore)


@transaction.atomic
def set_grade_bands(actor: User, *, a_from: int, b_from: int, c_from: int) -> GradeBands:
    """Where suggested grades start; A's floor above B's above C's."""
    _require_settings(actor)
    if not a_from > b_from > c_from:
        raise ValidationError({"a_from": [_("A must start above B, and B above C.")]})
    bands = GradeBands.objects.select_for_update().order_by("pk").first() or GradeBands()
    fields = ("a_from", "b_from", "c_from")
    before = snapshot(bands, fields) if bands.pk else {}
    bands.a_from, bands.b_from, bands.c_from = a_from, b_from, c_from
    bands.save()
    record_change(
        bands,
        actor=actor,
        action=ChangeAction.UPDATE if before else ChangeAction.CREATE,
        changes=diff(before, snapshot(bands, fields)),
    )
    transaction.on_commit(_queue_rescore)
    return bands


# ---------------------------------------------------------------------------------------------
# Web forms (admin) and submissions (public)

WEB_FORM_SETTINGS = ("name", "fields", "default_owner", "default_team", "thank_you_text", "is_active")


def _clean_web_form(form: WebForm) -> None:
    errors: dict[str, list[str]] = {}
    form.name = form.name.strip()
    if not form.name:
        errors["name"] = [_("Enter a name.")]
    form.fields = [f for f in WEB_FORM_FIELDS if f in set(form.fields or ())]
    if "email" not in form.fields and "phone" not in form.fields:
        errors["fields"] = [_("Show at least the e-mail or the phone field, or nobody can be reached.")]
    if form.default_owner is not None and not form.default_owner.is_active:
        errors["default_owner"] = [_("This user is deactivated.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_web_form(actor: User, data: Mapping[str, Any]) -> WebForm:
    _require_settings(actor)
    form = WebForm(public_key=secrets.token_urlsafe(16)[:22])
    for name, value in data.items():
        if name not in WEB_FORM_SETTINGS:
            raise ValidationError({name: [_("Unknown field.")]})
        setattr(form, name, value)
    _clean_web_form(form)
    form.save()
    record_change(form, actor=actor, action=ChangeAction.CREATE, changes=diff({}, snapshot(form, WEB_FORM_SETTINGS)))
    return form


@transaction.atomic
def update_web_form(actor: User, form: WebForm, data: Mapping[str, Any]) -> WebForm:
    _require_settings(actor)
    form = WebForm.objects.select_for_update().get(pk=form.pk)
    before = snapshot(form, WEB_FORM_SETTINGS)
    for name, value in data.items():
        if name not in WEB_FORM_SETTINGS:
            raise ValidationError({name: [_("Unknown field.")]})
        setattr(form, name, value)
    _clean_web_form(form)
    form.save()
    record_change(
        form, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, snapshot(form, WEB_FORM_SETTINGS))
    )
    return form


def submit_web_form(form: WebForm, data: Mapping[str, Any]) -> Lead:
    """A visitor's submission: only the form's own fields, source "web form", the form's default
    owner or else the assignment rules. Needs an e-mail address or a phone number."""
    if not form.is_active:
        raise ValidationError(_("This form is closed."))
    fields: dict[str, Any] = {k: str(data.get(k) or "")[:1000] for k in form.fields if k in WEB_FORM_FIELDS}
    fields["source"] = LeadSource.WEB_FORM
    fields["source_detail"] = form.name
    if form.default_owner is not None:
        fields["owner"] = form.default_owner
        fields["team"] = form.default_team or None
    elif form.default_team is not None:
        fields["team"] = form.default_team
    return create_lead(None, fields, web_form=form, contact_required=True)


# ---------------------------------------------------------------------------------------------
# Conversion


@dataclass(frozen=True)
class ConversionResult:
    lead: Lead
    account: Account | None
    person: Person
    opportunity: Any | None
    account_created: bool
    person_created: bool


def opportunity_service() -> Callable[..., Any]:
    """The sales app's `create_opportunity`; a seam so tests can make that step fail."""
    return sales_services.create_opportunity


@transaction.atomic
def convert_lead(
    actor: User,
    lead: Lead,
    *,
    account: Account | None = None,
    person: Person | None = None,
    create_account: bool = True,
    create_opportunity: bool = False,
    opportunity_data: Mapping[str, Any] | None = None,
    role_kind: str = RoleKind.DECISION_MAKER,
) -> ConversionResult:
    """Turn a qualified lead into an account (new, or an existing one chosen from the duplicate
    candidates), a person with their role there, and optionally an opportunity: all or nothing.

    Each new record's history says which lead it came from; the lead links to all three.
    """
    lead = Lead.objects.select_for_update(of=("self",)).select_related("owner").get(pk=lead.pk)
    _require_edit(actor, lead)
    if lead.status != LeadStatus.QUALIFIED:
        raise ValidationError({"status": [_("Only a qualified lead can be converted.")]})
    before = _snapshot(lead)
    owner = lead.owner or actor
    source = str(SOURCE_TO_CUSTOMER.get(LeadSource(lead.source), Source.OTHER))
    note = f"converted from lead #{lead.pk}"

    account_created = False
    if account is not None:
        if not Account.objects.filter(access.visible_q(actor, team_field="team"), pk=account.pk).exists():
            raise ValidationError({"account": [_("You may not see this account.")]})
    elif create_account:
        if not lead.company_name:
            raise ValidationError({"company_name": [_("The lead names no company to create an account for.")]})
        account = customer_services.create_account(
            actor,
            {"name": lead.company_name, "industry": lead.industry, "source": source, "owner": owner},
        )
        account_created = True

    person_created = False
    if person is not None:
        if not Person.objects.filter(access.visible_q(actor), pk=person.pk).exists():
            raise ValidationError({"person": [_("You may not see this person.")]})
    else:
        if not lead.full_name:
            raise ValidationError({"family_name": [_("The lead has no name to create a contact with.")]})
        person = customer_services.create_person(
            actor,
            {"family_name": lead.family_name, "given_name": lead.given_name, "source": source, "owner": owner},
            emails=[lead.email] if lead.email else [],
            phones=[lead.phone] if lead.phone else [],
        )
        person_created = True

    if account is not None and not Role.objects.filter(person=person, account=account, kind=role_kind).exists():
        customer_services.add_role(
            actor,
            person,
            account,
            role_kind,
            job_title=lead.job_title,
            is_primary_contact=account_created,
            note=note,
        )

    opportunity = None
    if create_opportunity:
        extra = dict(opportunity_data or {})
        data: dict[str, Any] = {
            "name": str(extra.pop("name", "") or "").strip() or (lead.company_name or lead.full_name or str(lead)),
            "account": account,
            "person": None if account is not None else person,
            "owner": owner,
            "source": str(lead.source),
            **extra,
        }
        contacts = [{"person": person, "role": "decision_maker", "is_primary": True}]
        opportunity = opportunity_service()(actor, data, contacts=contacts)

    lead.status = LeadStatus.CONVERTED
    lead.converted_account = account
    lead.converted_person = person
    lead.converted_opportunity = opportunity
    lead.converted_at = timezone.now()
    lead.converted_by = actor
    lead.save()
    record_change(
        lead, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, _snapshot(lead)), note="converted"
    )
    link = {"lead": [None, f"#{lead.pk} {lead}"]}
    for record in (account, person, opportunity):
        if record is not None:
            record_change(record, actor=actor, action=ChangeAction.UPDATE, changes=link, note=note)
    return ConversionResult(
        lead=lead,
        account=account,
        person=person,
        opportunity=opportunity,
        account_created=account_created,
        person_created=person_created,
    )
