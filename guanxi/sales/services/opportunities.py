"""Every write to pipelines and opportunities. Views, the API, lead conversion and jobs come here.

Each function checks permission, validates, writes and records history in one transaction, so a
failure anywhere leaves nothing half-written. A stage move is the one place that sets an
opportunity's status, probability and closed date, so the board, the forecast and the
customer's "last won" date can never disagree.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Model, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.commerce.models import PriceList, Product
from guanxi.commerce.services import price_for
from guanxi.core.history import bulk_record_changes, diff, record_change, snapshot
from guanxi.core.models import ChangeAction
from guanxi.customers import services as customer_services
from guanxi.customers.models import Account, AccountKind, Address, Person
from guanxi.sales import rollups
from guanxi.sales.models import (
    CompetitorOffer,
    ContactRole,
    LostReason,
    Opportunity,
    OpportunityContact,
    OpportunityLine,
    Pipeline,
    Stage,
    StageChange,
    StageKind,
)
from guanxi.staff import access
from guanxi.staff.models import User

OPPORTUNITY_FIELDS = (
    "name",
    "account",
    "person",
    "amount",
    "currency",
    "probability",
    "is_committed",
    "expected_close_date",
    "owner",
    "source",
    "region",
    "next_step",
    "description",
)
CREATE_FIELDS = (*OPPORTUNITY_FIELDS, "pipeline", "stage")
HISTORY_FIELDS = (*OPPORTUNITY_FIELDS, "pipeline", "stage", "status", "lost_reason", "lost_note", "closed_at")
PIPELINE_FIELDS = ("name", "is_default", "position", "is_active")
STAGE_FIELDS = ("name", "position", "probability", "kind")
CENT = Decimal("0.01")


# ---------------------------------------------------------------------------------------------
# Shared pieces


def _full_clean(instance: Model, exclude: Sequence[str] = ()) -> None:
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc


def _assign(instance: Model, data: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    for name, value in data.items():
        setattr(instance, name, value)


def _require_settings(actor: User) -> None:
    if not access.can_manage_settings(actor):
        raise PermissionDenied(_("Only an admin may change pipelines and stages."))


def _require_edit(actor: User, opportunity: Opportunity) -> None:
    if not Opportunity.objects.filter(access.editable_q(actor), pk=opportunity.pk).exists():
        raise PermissionDenied(_("You may not change this opportunity."))


def _check_owner(actor: User, owner: User | None, current: User | None = None) -> None:
    if owner == current:
        return
    if owner is not None and not owner.is_active:
        raise ValidationError({"owner": [_("This user is deactivated.")]})
    if not access.can_assign_to(actor, owner):
        raise ValidationError({"owner": [_("You may not assign records to this user.")]})


def _check_customer(actor: User, opportunity: Opportunity) -> None:
    """The deal is with an account or a person the actor may see; a competitor is not a customer."""
    errors: dict[str, list[str]] = {}
    account, person = opportunity.account, opportunity.person
    if account is None and person is None:
        errors["account"] = [_("Choose the account or the person this deal is with.")]
    if account is not None:
        if account.kind == AccountKind.COMPETITOR:
            errors["account"] = [_("A competitor cannot be the customer of a deal.")]
        elif not Account.objects.filter(access.visible_q(actor, team_field="team"), pk=account.pk).exists():
            errors["account"] = [_("You may not see this account.")]
    if person is not None and not Person.objects.filter(access.visible_q(actor), pk=person.pk).exists():
        errors["person"] = [_("You may not see this person.")]
    if errors:
        raise ValidationError(errors)


def _opportunity_snapshot(opportunity: Opportunity) -> dict[str, Any]:
    return snapshot(opportunity, HISTORY_FIELDS)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_total(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal) -> Decimal:
    """Quantity × price less the discount, rounded to cents once at the end."""
    gross = Decimal(quantity) * Decimal(unit_price)
    return _money(gross * (Decimal(100) - Decimal(discount_percent)) / Decimal(100))


def list_price(product: Product, *, price_list: PriceList | None = None) -> Decimal:
    """A product's price: the price list's entry when there is one, else the product's own price."""
    return price_for(product, price_list)


# ---------------------------------------------------------------------------------------------
# Pipelines and stages (configuration: admins only)


def default_stage_specs() -> list[tuple[str, int, str]]:
    """Name, win probability and kind of the stages a new pipeline starts with."""
    return [
        (_("Qualification"), 10, StageKind.OPEN),
        (_("Needs analysis"), 20, StageKind.OPEN),
        (_("Proposal"), 50, StageKind.OPEN),
        (_("Negotiation"), 80, StageKind.OPEN),
        (_("Won"), 100, StageKind.WON),
        (_("Lost"), 0, StageKind.LOST),
    ]


@transaction.atomic
def ensure_default_pipeline() -> Pipeline:
    """The default pipeline, created with sensible stages the first time anything needs one.

    Called without an actor: a deal created before an admin set anything up still needs a
    pipeline, and creating this one changes nobody's data.
    """
    pipeline = Pipeline.objects.filter(is_default=True).order_by("position", "id").first()
    if pipeline is not None:
        return pipeline
    pipeline = Pipeline.objects.select_for_update().order_by("position", "id").first()
    if pipeline is None:
        pipeline = Pipeline.objects.create(name=_("Sales pipeline"), is_default=True, position=0)
        Stage.objects.bulk_create(
            [
                Stage(pipeline=pipeline, name=name, probability=probability, kind=kind, position=index)
                for index, (name, probability, kind) in enumerate(default_stage_specs())
            ]
        )
    else:
        Pipeline.objects.filter(pk=pipeline.pk).update(is_default=True)
        pipeline.is_default = True
    return pipeline


def _check_pipeline_stages(pipeline: Pipeline) -> None:
    kinds = set(pipeline.stages.values_list("kind", flat=True))
    if kinds and not {StageKind.OPEN, StageKind.WON, StageKind.LOST} <= kinds:
        raise ValidationError({"kind": [_("A pipeline needs at least one open, one won and one lost stage.")]})


def _make_only_default(pipeline: Pipeline) -> None:
    if pipeline.is_default:
        Pipeline.objects.exclude(pk=pipeline.pk).filter(is_default=True).update(is_default=False)


@transaction.atomic
def create_pipeline(actor: User, data: Mapping[str, Any], *, with_default_stages: bool = True) -> Pipeline:
    _require_settings(actor)
    pipeline = Pipeline()
    _assign(pipeline, data, PIPELINE_FIELDS)
    if "position" not in data:
        pipeline.position = (Pipeline.objects.aggregate(m=Max("position"))["m"] or 0) + 1
    if not Pipeline.objects.exists():
        pipeline.is_default = True
    _full_clean(pipeline)
    if Pipeline.objects.filter(name=pipeline.name).exists():
        raise ValidationError({"name": [_("A pipeline with this name exists.")]})
    pipeline.save()
    _make_only_default(pipeline)
    if with_default_stages:
        Stage.objects.bulk_create(
            [
                Stage(pipeline=pipeline, name=name, probability=probability, kind=kind, position=index)
                for index, (name, probability, kind) in enumerate(default_stage_specs())
            ]
        )
    record_change(
        pipeline, actor=actor, action=ChangeAction.CREATE, changes=diff({}, snapshot(pipeline, PIPELINE_FIELDS))
    )
    return pipeline


@transaction.atomic
def update_pipeline(actor: User, pipeline: Pipeline, data: Mapping[str, Any]) -> Pipeline:
    _require_settings(actor)
    pipeline = Pipeline.objects.select_for_update().get(pk=pipeline.pk)
    before = snapshot(pipeline, PIPELINE_FIELDS)
    was_default = pipeline.is_default
    _assign(pipeline, data, PIPELINE_FIELDS)
    _full_clean(pipeline)
    if Pipeline.objects.filter(name=pipeline.name).exclude(pk=pipeline.pk).exists():
        raise ValidationError({"name": [_("A pipeline with this name exists.")]})
    if was_default and not pipeline.is_default:
        raise ValidationError({"is_default": [_("Make another pipeline the default instead.")]})
    if pipeline.is_default and not pipeline.is_active:
        raise ValidationError({"is_active": [_("The default pipeline cannot be deactivated.")]})
    pipeline.save()
    _make_only_default(pipeline)
    record_change(
        pipeline, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, snapshot(pipeline, PIPELINE_FIELDS))
    )
    return pipeline


@transaction.atomic
def delete_pipeline(actor: User, pipeline: Pipeline) -> None:
    _require_settings(actor)
    if Opportunity.objects.filter(pipeline=pipeline).exists():
        raise ValidationError({"pipeline": [_("This pipeline still has opportunities; deactivate it instead.")]})
    if pipeline.is_default:
        raise ValidationError({"is_default": [_("Make another pipeline the default before deleting this one.")]})
    record_change(pipeline, actor=actor, action=ChangeAction.DELETE, changes={}, note=pipeline.name)
    pipeline.delete()


@transaction.atomic
def create_stage(actor: User, pipeline: Pipeline, data: Mapping[str, Any]) -> Stage:
    _require_settings(actor)
    stage = Stage(pipeline=pipeline)
    _assign(stage, data, STAGE_FIELDS)
    if "position" not in data:
        stage.position = (pipeline.stages.aggregate(m=Max("position"))["m"] or 0) + 1
    _full_clean(stage, exclude=["pipeline"])
    if pipeline.stages.filter(name=stage.name).exists():
        raise ValidationError({"name": [_("This pipeline has a stage with this name.")]})
    stage.save()
    record_change(stage, actor=actor, action=ChangeAction.CREATE, changes=diff({}, snapshot(stage, STAGE_FIELDS)))
    return stage


@transaction.atomic
def update_stage(actor: User, stage: Stage, data: Mapping[str, Any]) -> Stage:
    """Change a stage; a new kind moves its deals' status with it so the two never disagree."""
    _require_settings(actor)
    stage = Stage.objects.select_for_update().get(pk=stage.pk)
    before = snapshot(stage, STAGE_FIELDS)
    old_kind = stage.kind
    _assign(stage, data, STAGE_FIELDS)
    _full_clean(stage, exclude=["pipeline"])
    if Stage.objects.filter(pipeline_id=stage.pipeline_id, name=stage.name).exclude(pk=stage.pk).exists():
        raise ValidationError({"name": [_("This pipeline has a stage with this name.")]})
    stage.save()
    if stage.kind != old_kind:
        if stage.kind == StageKind.LOST and stage.opportunities.exists():
            raise ValidationError({"kind": [_("Move this stage's deals before making it a lost stage.")]})
        closed_at = timezone.now() if stage.kind != StageKind.OPEN else None
        with rollups.kept(Opportunity.objects.filter(stage=stage)):
            stage.opportunities.update(status=stage.kind, closed_at=closed_at)
    _check_pipeline_stages(stage.pipeline)
    record_change(stage, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, snapshot(stage, STAGE_FIELDS)))
    return stage


@transaction.atomic
def delete_stage(actor: User, stage: Stage) -> None:
    _require_settings(actor)
    if stage.opportunities.exists():
        raise ValidationError({"stage": [_("This stage still has opportunities; move them first.")]})
    pipeline = stage.pipeline
    record_change(stage, actor=actor, action=ChangeAction.DELETE, changes={}, note=stage.name)
    stage.delete()
    _check_pipeline_stages(pipeline)


@transaction.atomic
def reorder_stages(actor: User, pipeline: Pipeline, stage_ids: Sequence[int]) -> None:
    """Put the pipeline's stages in the given order (every stage id of the pipeline, once)."""
    _require_settings(actor)
    current = set(pipeline.stages.values_list("pk", flat=True))
    if set(stage_ids) != current or len(stage_ids) != len(current):
        raise ValidationError({"stages": [_("Give every stage of this pipeline exactly once.")]})
    stages = list(pipeline.stages.select_for_update())
    by_id = {stage.pk: stage for stage in stages}
    entries = []
    for position, pk in enumerate(stage_ids):
        stage = by_id[pk]
        if stage.position != position:
            entries.append((stage.pk, {"position": [stage.position, position]}))
            stage.position = position
    Stage.objects.bulk_update(stages, ["position"])
    bulk_record_changes(Stage, entries, actor=actor, note="reordered")


# ---------------------------------------------------------------------------------------------
# Opportunities


def _first_open_stage(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(kind=StageKind.OPEN).order_by("position", "id").first()
    if stage is None:
        raise ValidationError({"stage": [_("This pipeline has no open stage.")]})
    return stage


def clean_line(
    data: Mapping[str, Any], *, price_list: PriceList | None = None, index: int | None = None
) -> OpportunityLine:
    allowed = {"product", "description", "quantity", "unit_price", "discount_percent", "position"}
    prefix = f"lines.{index}." if index is not None else ""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError({f"{prefix}{name}": [_("Unknown field.")] for name in unknown})
    product: Product | None = data.get("product")
    line = OpportunityLine(
        product=product,
        description=data.get("description") or (product.name if product else ""),
        quantity=Decimal(data.get("quantity", 1)),
        discount_percent=Decimal(data.get("discount_percent") or 0),
        position=data.get("position", 0),
    )
    unit_price = data.get("unit_price")
    if unit_price is None or unit_price == "":
        if product is None:
            raise ValidationError({f"{prefix}unit_price": [_("Give a unit price or choose a product.")]})
        unit_price = list_price(product, price_list=price_list)
    line.unit_price = Decimal(unit_price)
    errors: dict[str, list[str]] = {}
    if line.quantity <= 0:
        errors[f"{prefix}quantity"] = [_("The quantity must be more than zero.")]
    if line.unit_price < 0:
        errors[f"{prefix}unit_price"] = [_("The unit price cannot be negative.")]
    if not Decimal(0) <= line.discount_percent <= Decimal(100):
        errors[f"{prefix}discount_percent"] = [_("The discount is between 0 and 100 %.")]
    if not line.description:
        errors[f"{prefix}description"] = [_("Describe the line or choose a product.")]
    if errors:
        raise ValidationError(errors)
    line.line_total = line_total(line.quantity, line.unit_price, line.discount_percent)
    return line


def _refresh_amount_from_lines(opportunity: Opportunity, *, counted: bool = True) -> None:
    """A deal with line items is worth their sum; one without keeps the amount typed in.

    `counted`: the deal is in the board's sums already (not while it is being created).
    """
    total = opportunity.lines.aggregate(total=Sum("line_total"))["total"]
    if total is not None and total != opportunity.amount:
        opportunity.amount = total
        deal = Opportunity.objects.filter(pk=opportunity.pk)
        if counted:
            with rollups.kept(deal):
                deal.update(amount=total)
        else:
            deal.update(amount=total)


def _won(opportunity: Opportunity, at: datetime) -> None:
    """Tell the customer records a deal was won: the reclaim rules read `last_won_at`."""
    if opportunity.account_id:
        customer_services.record_won_deal(Account, [opportunity.account_id], at)
    if opportunity.person_id:
        customer_services.record_won_deal(Person, [opportunity.person_id], at)


@transaction.atomic
def create_opportunity(
    actor: User,
    data: Mapping[str, Any],
    *,
    contacts: Sequence[Mapping[str, Any]] = (),
    lines: Sequence[Mapping[str, Any]] = (),
) -> Opportunity:
    """A new deal in `pipeline` (the default one when missing) at `stage` (its first open stage).

    The probability defaults to the stage's; with line items the amount is their sum.
    """
    fields = dict(data)
    unknown = sorted(set(fields) - set(CREATE_FIELDS))
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    pipeline: Pipeline | None = fields.pop("pipeline", None)
    stage: Stage | None = fields.pop("stage", None)
    if stage is not None and pipeline is None:
        pipeline = stage.pipeline
    if pipeline is None:
        pipeline = ensure_default_pipeline()
    if stage is None:
        stage = _first_open_stage(pipeline)
    if stage.pipeline_id != pipeline.pk:
        raise ValidationError({"stage": [_("This stage belongs to another pipeline.")]})
    if stage.kind == StageKind.LOST:
        raise ValidationError({"stage": [_("A new opportunity cannot start lost.")]})
    fields.setdefault("owner", actor)
    opportunity = Opportunity(created_by=actor if actor.pk else None, pipeline=pipeline, stage=stage)
    _assign(opportunity, fields, OPPORTUNITY_FIELDS)
    if "probability" not in fields or fields["probability"] is None:
        opportunity.probability = stage.probability
    opportunity.status = stage.kind
    now = timezone.now()
    opportunity.stage_changed_at = now
    if stage.kind == StageKind.WON:
        opportunity.closed_at = now
    opportunity.currency = (opportunity.currency or "CNY").upper()
    _check_owner(actor, opportunity.owner)
    _check_customer(actor, opportunity)
    if not fields.get("region") and opportunity.account_id:
        opportunity.region = _account_region(opportunity.account_id)
    _full_clean(opportunity, exclude=["account", "person", "pipeline", "stage", "owner", "created_by"])
    clean_lines = [clean_line(line, index=i) for i, line in enumerate(lines)]
    opportunity.save()
    StageChange.objects.create(
        opportunity=opportunity, from_stage=None, to_stage=stage, changed_at=now, changed_by=actor if actor.pk else None
    )
    for position, line in enumerate(clean_lines):
        line.opportunity = opportunity
        line.position = position
    OpportunityLine.objects.bulk_create(clean_lines)
    if clean_lines and "amount" not in fields:
        _refresh_amount_from_lines(opportunity, counted=False)
    for contact in contacts:
        _add_contact(opportunity, actor, **_contact_kwargs(contact))
    if stage.kind == StageKind.WON:
        _won(opportunity, now)
    rollups.include(Opportunity.objects.filter(pk=opportunity.pk))
    record_change(
        opportunity, actor=actor, action=ChangeAction.CREATE, changes=diff({}, _opportunity_snapshot(opportunity))
    )
    return opportunity


def _account_region(account_id: int) -> str:
    """The region of the account's first address, as the forecast groups deals by it."""
    region = Address.objects.filter(account_id=account_id).order_by("id").values_list("region", flat=True).first()
    return region or ""


@transaction.atomic
def update_opportunity(actor: User, opportunity: Opportunity, data: Mapping[str, Any]) -> Opportunity:
    """Change a deal's fields. The stage changes only through `move_opportunity`."""
    opportunity = Opportunity.objects.select_for_update(of=("self",)).get(pk=opportunity.pk)
    _require_edit(actor, opportunity)
    before = _opportunity_snapshot(opportunity)
    before_owner = opportunity.owner
    before_customer = (opportunity.account_id, opportunity.person_id)
    _assign(opportunity, data, OPPORTUNITY_FIELDS)
    opportunity.currency = (opportunity.currency or "CNY").upper()
    _check_owner(actor, opportunity.owner, before_owner)
    if (opportunity.account_id, opportunity.person_id) != before_customer:
        _check_customer(actor, opportunity)
    _full_clean(opportunity, exclude=["account", "person", "pipeline", "stage", "owner", "created_by"])
    with rollups.kept(Opportunity.objects.filter(pk=opportunity.pk)):
        opportunity.save()
    record_change(
        opportunity,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes=diff(before, _opportunity_snapshot(opportunity)),
    )
    return opportunity


@transaction.atomic
def move_opportunity(
    actor: User, opportunity: Opportunity, stage: Stage, *, lost_reason: str = "", lost_note: str = ""
) -> Opportunity:
    """Move a deal to `stage` (of any pipeline): status, probability and closed date follow the stage.

    A lost stage needs a reason; winning tells the customer records when the deal was won.
    """
    opportunity = Opportunity.objects.select_for_update(of=("self",)).get(pk=opportunity.pk)
    _require_edit(actor, opportunity)
    if stage.pk == opportunity.stage_id:
        return opportunity
    if stage.kind == StageKind.LOST:
        if not lost_reason:
            raise ValidationError({"lost_reason": [_("Say why the deal was lost.")]})
        if lost_reason not in LostReason.values:
            raise ValidationError({"lost_reason": [_("Unknown lost reason.")]})
    before = _opportunity_snapshot(opportunity)
    now = timezone.now()
    from_stage_id = opportunity.stage_id
    seconds_in_from_stage = max(0, int((now - opportunity.stage_changed_at).total_seconds()))
    opportunity.pipeline = stage.pipeline
    opportunity.stage = stage
    opportunity.status = stage.kind
    opportunity.probability = stage.probability
    opportunity.stage_changed_at = now
    opportunity.closed_at = now if stage.kind != StageKind.OPEN else None
    if stage.kind != StageKind.OPEN and opportunity.expected_close_date is None:
        # A deal closed without a close date closes today, so the forecast counts it in this month.
        opportunity.expected_close_date = timezone.localdate(now)
    opportunity.lost_reason = lost_reason if stage.kind == StageKind.LOST else ""
    opportunity.lost_note = lost_note[:255] if stage.kind == StageKind.LOST else ""
    with rollups.kept(Opportunity.objects.filter(pk=opportunity.pk)):
        opportunity.save()
        StageChange.objects.create(
            opportunity=opportunity,
            from_stage_id=from_stage_id,
            to_stage=stage,
            changed_at=now,
            changed_by=actor if actor.pk else None,
            seconds_in_from_stage=seconds_in_from_stage,
        )
    if stage.kind == StageKind.WON:
        _won(opportunity, now)
    record_change(
        opportunity,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes=diff(before, _opportunity_snapshot(opportunity)),
        note="stage",
    )
    return opportunity


@transaction.atomic
def delete_opportunity(actor: User, opportunity: Opportunity) -> None:
    _require_edit(actor, opportunity)
    record_change(opportunity, actor=actor, action=ChangeAction.DELETE, changes={}, note=opportunity.name)
    with rollups.kept(Opportunity.objects.filter(pk=opportunity.pk)):
        opportunity.delete()


@transaction.atomic
def bulk_assign_owner(actor: User, ids: Iterable[int], owner: User | None) -> int:
    """Give many deals to one owner (or the pool) in one UPDATE and one history INSERT."""
    _check_owner(actor, owner, current=actor if owner is None else None)
    rows = list(
        Opportunity.objects.filter(access.editable_q(actor), pk__in=list(ids))
        .select_for_update(of=("self",))
        .select_related("owner")
    )
    label = str(owner) if owner else None
    entries = [
        (row.pk, {"owner": [str(row.owner) if row.owner else None, label]})
        for row in rows
        if row.owner_id != (owner.pk if owner else None)
    ]
    changed_ids = [pk for pk, _changes in entries]
    changed = Opportunity.objects.filter(pk__in=changed_ids)
    with rollups.kept(changed):
        changed.update(owner=owner, updated_at=timezone.now())
    bulk_record_changes(Opportunity, entries, actor=actor, note="bulk assign")
    return len(changed_ids)


# ---------------------------------------------------------------------------------------------
# Contacts with their roles


def _contact_kwargs(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - {"person", "role", "is_primary"})
    if unknown:
        raise ValidationError({f"contacts.{name}": [_("Unknown field.")] for name in unknown})
    return {
        "person": data["person"],
        "role": data.get("role", ContactRole.OTHER),
        "is_primary": data.get("is_primary", False),
    }


def _add_contact(
    opportunity: Opportunity, actor: User, *, person: Person, role: str, is_primary: bool
) -> OpportunityContact:
    if role not in ContactRole.values:
        raise ValidationError({"role": [_("Unknown role.")]})
    if not Person.objects.filter(access.visible_q(actor), pk=person.pk).exists():
        raise ValidationError({"person": [_("You may not see this person.")]})
    if opportunity.contacts.filter(person=person).exists():
        raise ValidationError({"person": [_("This person is already a contact of this deal.")]})
    if is_primary:
        opportunity.contacts.filter(is_primary=True).update(is_primary=False)
    return OpportunityContact.objects.create(opportunity=opportunity, person=person, role=role, is_primary=is_primary)


@transaction.atomic
def add_contact(
    actor: User, opportunity: Opportunity, person: Person, *, role: str = ContactRole.OTHER, is_primary: bool = False
) -> OpportunityContact:
    _require_edit(actor, opportunity)
    contact = _add_contact(opportunity, actor, person=person, role=role, is_primary=is_primary)
    record_change(
        opportunity,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes={"contacts": [None, f"{person} ({contact.get_role_display()})"]},
    )
    return contact


@transaction.atomic
def update_contact(actor: User, contact: OpportunityContact, data: Mapping[str, Any]) -> OpportunityContact:
    opportunity = contact.opportunity
    _require_edit(actor, opportunity)
    unknown = sorted(set(data) - {"role", "is_primary"})
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    before = f"{contact.person} ({contact.get_role_display()})"
    role = data.get("role", contact.role)
    if role not in ContactRole.values:
        raise ValidationError({"role": [_("Unknown role.")]})
    contact.role = role
    contact.is_primary = bool(data.get("is_primary", contact.is_primary))
    if contact.is_primary:
        opportunity.contacts.exclude(pk=contact.pk).filter(is_primary=True).update(is_primary=False)
    contact.save()
    after = f"{contact.person} ({contact.get_role_display()})"
    record_change(opportunity, actor=actor, action=ChangeAction.UPDATE, changes={"contacts": [before, after]})
    return contact


@transaction.atomic
def remove_contact(actor: User, contact: OpportunityContact) -> None:
    _require_edit(actor, contact.opportunity)
    record_change(
        contact.opportunity,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes={"contacts": [f"{contact.person} ({contact.get_role_display()})", None]},
    )
    contact.delete()


# ---------------------------------------------------------------------------------------------
# Line items


@transaction.atomic
def add_line(actor: User, opportunity: Opportunity, data: Mapping[str, Any]) -> OpportunityLine:
    """Add a line priced from the product unless a price is given; the deal's amount follows."""
    opportunity = Opportunity.objects.select_for_update(of=("self",)).get(pk=opportunity.pk)
    _require_edit(actor, opportunity)
    line = clean_line(data)
    line.opportunity = opportunity
    if "position" not in data:
        line.position = (opportunity.lines.aggregate(m=Max("position"))["m"] or 0) + 1
    line.save()
    before_amount = opportunity.amount
    _refresh_amount_from_lines(opportunity)
    record_change(
        opportunity,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes={
            "lines": [None, str(line)],
            **(
                {"amount": [str(before_amount), str(opportunity.amount)]} if before_amount != opportunity.amount else {}
            ),
        },
    )
    return line


@transaction.atomic
def update_line(actor: User, line: OpportunityLine, data: Mapping[str, Any]) -> OpportunityLine:
    opportunity = Opportunity.objects.select_for_update(of=("self",)).get(pk=line.opportunity_id)
    _require_edit(actor, opportunity)
    merged = {
        "product": line.product,
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "discount_percent": line.discount_percent,
        "position": line.position,
        **data,
    }
    if "product" in data and "unit_price" not in data:
        merged["unit_price"] = None
    if "product" in data and "description" not in data:
        merged["description"] = ""
    cleaned = clean_line(merged)
    before = str(line)
    for name in ("product", "description", "quantity", "unit_price", "discount_percent", "position", "line_total"):
        setattr(line, name, getattr(cleaned, name))
    line.save()
    before_amount = opportunity.amount
    _refresh_amount_from_lines(opportunity)
    changes: dict[str, list[Any]] = {"lines": [before, str(line)]}
    if before_amount != opportunity.amount:
        changes["amount"] = [str(before_amount), str(opportunity.amount)]
    record_change(opportunity, actor=actor, action=ChangeAction.UPDATE, changes=changes)
    return line


@transaction.atomic
def remove_line(actor: User, line: OpportunityLine) -> None:
    opportunity = Opportunity.objects.select_for_update(of=("self",)).get(pk=line.opportunity_id)
    _require_edit(actor, opportunity)
    label = str(line)
    line.delete()
    before_amount = opportunity.amount
    _refresh_amount_from_lines(opportunity)
    changes: dict[str, list[Any]] = {"lines": [label, None]}
    if before_amount != opportunity.amount:
        changes["amount"] = [str(before_amount), str(opportunity.amount)]
    record_change(opportunity, actor=actor, action=ChangeAction.UPDATE, changes=changes)


# ---------------------------------------------------------------------------------------------
# Competitors in the deal


def _check_competitor(competitor: Account) -> None:
    if competitor.kind != AccountKind.COMPETITOR:
        raise ValidationError({"competitor": [_("Choose an account of kind competitor.")]})


@transaction.atomic
def add_competitor(
    actor: User, opportunity: Opportunity, competitor: Account, *, offer: str = "", amount: Decimal | None = None
) -> CompetitorOffer:
    _require_edit(actor, opportunity)
    _check_competitor(competitor)
    if opportunity.competitors.filter(competitor=competitor).exists():
        raise ValidationError({"competitor": [_("This competitor is already in the deal.")]})
    if amount is not None and amount < 0:
        raise ValidationError({"amount": [_("The amount cannot be negative.")]})
    row = CompetitorOffer.objects.create(opportunity=opportunity, competitor=competitor, offer=offer, amount=amount)
    record_change(
        opportunity, actor=actor, action=ChangeAction.UPDATE, changes={"competitors": [None, competitor.name]}
    )
    return row


@transaction.atomic
def update_competitor(actor: User, row: CompetitorOffer, data: Mapping[str, Any]) -> CompetitorOffer:
    _require_edit(actor, row.opportunity)
    before = snapshot(row, ("offer", "amount"))
    _assign(row, data, ("offer", "amount"))
    if row.amount is not None and row.amount < 0:
        raise ValidationError({"amount": [_("The amount cannot be negative.")]})
    _full_clean(row, exclude=["opportunity", "competitor"])
    row.save()
    changes = {
        f"competitors.{row.competitor.name}.{k}": v for k, v in diff(before, snapshot(row, ("offer", "amount"))).items()
    }
    record_change(row.opportunity, actor=actor, action=ChangeAction.UPDATE, changes=changes)
    return row


@transaction.atomic
def remove_competitor(actor: User, row: CompetitorOffer) -> None:
    _require_edit(actor, row.opportunity)
    record_change(
        row.opportunity, actor=actor, action=ChangeAction.UPDATE, changes={"competitors": [row.competitor.name, None]}
    )
    row.delete()
