"""Merging two customer records into one, undoing a merge, and dismissing a pair.

A merge keeps the survivor, copies onto it the fields the user picked from the other record,
moves every row that points at the other record to the survivor, and deletes the other record.
The rows are found generically, from the model's reverse relations (`get_fields(include_hidden=
True)`: foreign keys, hidden `related_name="+"` ones and many-to-many through tables) and from
generic relations (`ChangeRecord` history, any `GenericForeignKey`), so orders, events and tickets
that later apps point at a person move with it without a change here.

A moved row that would break a unique constraint on the survivor (the same e-mail on both, the
same role twice, the same tag) or would link the survivor to itself is dropped instead: deleted
with the merged record and kept in its snapshot. `MergeRecord` keeps that snapshot (Django
serializer JSON, the same ids), the list of moved rows and the survivor's overwritten fields, so
`undo_merge` restores exactly what was there. Each function is one transaction.
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.history import diff, record_change, snapshot
from guanxi.core.models import ChangeAction, ChangeRecord
from guanxi.customers import queries
from guanxi.customers.models import Account, Person, SearchTerm
from guanxi.customers.normalise import domain_of, full_name
from guanxi.customers.services import account_search_terms, person_search_terms
from guanxi.dataio import duplicates
from guanxi.dataio.models import DismissedPair, DuplicateSearch, MergeRecord, Target
from guanxi.dataio.tasks.merging import find_duplicates
from guanxi.staff import access
from guanxi.staff.models import StaffRole, User

PERSON_MERGE_FIELDS = (
    "family_name",
    "given_name",
    "birthday",
    "preferred_language",
    "preferred_channel",
    "preferences",
    "buying_motives",
    "source",
    "owner",
    "notes",
)
ACCOUNT_MERGE_FIELDS = (
    "name",
    "kind",
    "organisation_type",
    "industry",
    "market_segment",
    "grade",
    "parent",
    "website",
    "registration_number",
    "phone",
    "status",
    "source",
    "owner",
    "team",
    "notes",
)
ATTRIBUTE_PREFIX = "attributes."
_BATCH = 500

Party = Account | Person


def merge_fields(model: type[Party]) -> tuple[str, ...]:
    return PERSON_MERGE_FIELDS if model is Person else ACCOUNT_MERGE_FIELDS


def model_for(target: str) -> type[Party]:
    if target == Target.PERSON:
        return Person
    if target == Target.ACCOUNT:
        return Account
    raise ValidationError({"target": [_("Choose people or accounts.")]})


def _target_of(model: type[Party]) -> str:
    return str(Target.PERSON if model is Person else Target.ACCOUNT)


# ---------------------------------------------------------------------------------------------
# Finding every row that points at a record


def reverse_foreign_keys(model: type[models.Model]) -> list[tuple[type[models.Model], models.ForeignKey[Any, Any]]]:
    """(model, foreign key) for every foreign key pointing at `model`, hidden ones included
    (`related_name="+"`, many-to-many through tables), search keys excepted (they are rebuilt)."""
    found: list[tuple[type[models.Model], models.ForeignKey[Any, Any]]] = []
    for relation in model._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one)):
            continue
        related_model = relation.related_model
        fk = getattr(relation, "field", None)
        if not isinstance(fk, models.ForeignKey) or not isinstance(related_model, type):
            continue
        if related_model is SearchTerm:
            continue
        found.append((related_model, fk))
    return found


def generic_relations() -> list[tuple[type[models.Model], str, str]]:
    """(model, content type field, object id field) for history and every generic foreign key."""
    found: list[tuple[type[models.Model], str, str]] = [(ChangeRecord, "content_type", "object_id")]
    for candidate in apps.get_models():
        for private in candidate._meta.private_fields:
            if isinstance(private, GenericForeignKey) and candidate is not ChangeRecord:
                found.append((candidate, private.ct_field, private.fk_field))
    return found


def _unique_sets(model: type[models.Model], fk: models.ForeignKey[Any, Any]) -> list[tuple[str, ...]]:
    """Field sets that must be unique and include `fk`: constraints, unique_together, unique."""
    meta = model._meta
    sets: list[tuple[str, ...]] = []
    if fk.unique:
        sets.append((fk.name,))
    for constraint in meta.constraints:
        unconditional = isinstance(constraint, models.UniqueConstraint) and constraint.condition is None
        if unconditional and fk.name in getattr(constraint, "fields", ()):
            sets.append(tuple(getattr(constraint, "fields", ())))
    for together in meta.unique_together:
        if fk.name in together:
            sets.append(tuple(together))
    return sets


@dataclass
class Step:
    """The rows of one foreign key (or generic relation) that a merge moves or drops."""

    model: type[models.Model]
    fk_name: str  # the field that points at the record
    moved: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    generic: bool = False

    @property
    def label(self) -> str:
        return str(self.model._meta.label_lower)

    @property
    def verbose_name(self) -> str:
        return str(self.model._meta.verbose_name_plural)


def plan_merge(survivor: Party, merged: Party) -> list[Step]:
    """What a merge of `merged` into `survivor` would move and drop, per relation; read only.

    The merge screen shows it; `merge_*` executes it inside its transaction.
    """
    model = type(survivor)
    steps: list[Step] = []
    for related_model, fk in reverse_foreign_keys(model):
        manager = related_model._base_manager
        rows = manager.filter(**{fk.attname: merged.pk})
        if related_model is model:
            rows = rows.exclude(pk=survivor.pk)
        pks = list(rows.order_by("pk").values_list("pk", flat=True))
        if not pks:
            continue
        dropped: set[int] = set()
        # A row linking the two records (a relationship between them) would link the survivor to itself.
        for other in related_model._meta.concrete_fields:
            if other is not fk and isinstance(other, models.ForeignKey) and other.related_model is model:
                dropped.update(rows.filter(**{other.attname: survivor.pk}).values_list("pk", flat=True))
        for names in _unique_sets(related_model, fk):
            others = [related_model._meta.get_field(name) for name in names if name != fk.name]
            columns = [getattr(f, "attname", f.name) for f in others]
            if not columns:  # one-to-one: the survivor keeps its own
                if manager.filter(**{fk.attname: survivor.pk}).exists():
                    dropped.update(pks)
                continue
            taken = set(manager.filter(**{fk.attname: survivor.pk}).values_list(*columns))
            for pk, *values in rows.values_list("pk", *columns):
                if tuple(values) in taken:
                    dropped.add(pk)
        steps.append(
            Step(related_model, fk.name, moved=[pk for pk in pks if pk not in dropped], dropped=sorted(dropped))
        )
    content_type = ContentType.objects.get_for_model(model)
    for generic_model, ct_field, id_field in generic_relations():
        ct_attname = generic_model._meta.get_field(ct_field).attname  # type: ignore[union-attr]  # a ForeignKey
        pks = list(
            generic_model._base_manager.filter(**{ct_attname: content_type.pk, id_field: merged.pk})
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if pks:
            steps.append(Step(generic_model, id_field, moved=pks, generic=True))
    return steps


# ---------------------------------------------------------------------------------------------
# Permission, snapshots, search keys


def editable_records(actor: User, model: type[Party]) -> models.QuerySet[Any]:
    return queries.editable_people(actor) if model is Person else queries.editable_accounts(actor)


def _lock_pair(actor: User, model: type[Party], survivor_id: int, merged_id: int) -> tuple[Party, Party]:
    if survivor_id == merged_id:
        raise ValidationError({"merged": [_("Choose two different records.")]})
    rows = {r.pk: r for r in model.objects.select_for_update(of=("self",)).filter(pk__in=[survivor_id, merged_id])}
    if len(rows) != 2:
        raise ValidationError({"merged": [_("One of the records no longer exists.")]})
    if editable_records(actor, model).filter(pk__in=[survivor_id, merged_id]).count() != 2:
        raise PermissionDenied(_("You may merge only records you may change."))
    return rows[survivor_id], rows[merged_id]


def _party_snapshot(party: Party) -> dict[str, Any]:
    model = type(party)
    extra: dict[str, Any] = {"attributes": party.attributes, "tags": sorted(t.name for t in party.tags.all())}
    if isinstance(party, Person):
        extra["emails"] = sorted(e.address for e in party.emails.all())
        extra["phones"] = sorted(p.number for p in party.phones.all())
    return snapshot(party, merge_fields(model), extra)


def _reindex(party: Party) -> None:
    if isinstance(party, Person):
        SearchTerm.objects.filter(person=party).delete()
        terms = person_search_terms(
            party.family_name,
            party.given_name,
            party.emails.values_list("address", flat=True),
            party.phones.values_list("number", flat=True),
        )
        SearchTerm.objects.bulk_create([SearchTerm(term=t, person=party) for t in sorted(terms)])
    else:
        SearchTerm.objects.filter(account=party).delete()
        terms = account_search_terms(party.name, party.domain, party.registration_number, party.phone)
        SearchTerm.objects.bulk_create([SearchTerm(term=t, account=party) for t in sorted(terms)])


def _serialize(objects: Sequence[models.Model], fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(serializers.serialize("json", objects, fields=fields))
    return data


def _own_columns(model: type[models.Model]) -> list[str]:
    """A record's own fields, without many-to-many ones: its through rows are moved rows."""
    return [f.name for f in model._meta.concrete_fields if not f.primary_key]


def _label(party: Party) -> str:
    return str(party)[:255]


# ---------------------------------------------------------------------------------------------
# Choosing fields


def _apply_choices(actor: User, survivor: Party, merged: Party, chosen: Iterable[str]) -> dict[str, Any]:
    """Copy the chosen fields from `merged`; returns what they held before (JSON values)."""
    model = type(survivor)
    allowed = merge_fields(model)
    names = list(dict.fromkeys(chosen))
    unknown = [n for n in names if n not in allowed and not n.startswith(ATTRIBUTE_PREFIX)]
    if unknown:
        raise ValidationError({"fields": [_("Unknown field: %(name)s") % {"name": n} for n in unknown]})
    plain = [n for n in names if n in allowed]
    before: dict[str, Any] = {}
    if plain:
        before.update(_serialize([survivor], fields=plain)[0]["fields"])
    for name in plain:
        model_field = model._meta.get_field(name)
        value = getattr(merged, getattr(model_field, "attname", name))
        setattr(survivor, getattr(model_field, "attname", name), value)
    if "owner" in plain:
        new_owner = merged.owner
        if new_owner != survivor.owner and new_owner is not None and not access.can_assign_to(actor, new_owner):
            raise ValidationError({"owner": [_("You may not assign records to this user.")]})
    attributes = dict(survivor.attributes)
    for name in names:
        if not name.startswith(ATTRIBUTE_PREFIX):
            continue
        key = name.removeprefix(ATTRIBUTE_PREFIX)
        before[name] = [attributes[key]] if key in attributes else []
        if key in merged.attributes:
            attributes[key] = merged.attributes[key]
        else:
            attributes.pop(key, None)
    survivor.attributes = attributes
    if isinstance(survivor, Person):
        survivor.full_name = full_name(survivor.family_name, survivor.given_name)
        if not survivor.full_name:
            raise ValidationError({"family_name": [_("Enter a family name or a given name.")]})
    else:
        survivor.domain = domain_of(survivor.website)
    return before


def _check_tree(survivor: Party, merged: Party) -> None:
    """An account merged into one of its own branches would make the tree loop."""
    if not isinstance(survivor, Account):
        return
    seen = {survivor.pk}
    parent_id = survivor.parent_id
    while parent_id is not None:
        if parent_id == merged.pk:
            raise ValidationError(
                {"merged": [_("This account is a parent of the one you keep: keep the parent instead.")]}
            )
        if parent_id in seen:
            raise ValidationError({"parent": [_("An account cannot be its own ancestor.")]})
        seen.add(parent_id)
        parent_id = Account.objects.filter(pk=parent_id).values_list("parent_id", flat=True).first()


# ---------------------------------------------------------------------------------------------
# Merge


def _touched(model: type[models.Model]) -> dict[str, Any]:
    """The row's `auto_now` stamps, set as `save()` would: a re-pointed row has changed, and
    readers that follow changes by `updated_at` (analytics' purchase summaries) must see it."""
    now = timezone.now()
    return {f.attname: now for f in model._meta.concrete_fields if getattr(f, "auto_now", False)}


def _move(step: Step, to_pk: int) -> list[int]:
    """Point the step's rows at `to_pk`; rows that still clash (a conditional constraint) are
    returned to be dropped. Each batch is tried in a savepoint, then row by row."""
    manager = step.model._base_manager
    column = step.fk_name if step.generic else step.model._meta.get_field(step.fk_name).attname  # type: ignore[union-attr]
    touched = _touched(step.model)
    failed: list[int] = []
    for start in range(0, len(step.moved), _BATCH):
        batch = step.moved[start : start + _BATCH]
        try:
            with transaction.atomic():
                manager.filter(pk__in=batch).update(**{column: to_pk}, **touched)
        except IntegrityError:
            for pk in batch:
                try:
                    with transaction.atomic():
                        manager.filter(pk=pk).update(**{column: to_pk}, **touched)
                except IntegrityError:
                    failed.append(pk)
    return failed


def _fix_primary_flags(steps: list[Step], survivor: Party) -> list[list[Any]]:
    """Moved rows keep one primary per owner (the survivor's): e-mails and phones have
    `is_primary`; the flags changed are returned as `[label, pk, field, old value]`."""
    changed: list[list[Any]] = []
    for step in steps:
        if step.generic or not step.moved:
            continue
        try:
            flag = step.model._meta.get_field("is_primary")
        except FieldDoesNotExist:  # most models have no primary flag
            continue
        if not isinstance(flag, models.BooleanField):
            continue
        column = step.model._meta.get_field(step.fk_name).attname  # type: ignore[union-attr]  # a ForeignKey
        manager = step.model._base_manager
        moved = set(step.moved)
        keeps_own = manager.filter(**{column: survivor.pk, "is_primary": True}).exclude(pk__in=step.moved).exists()
        if not keeps_own:
            continue
        pks = list(manager.filter(pk__in=list(moved), is_primary=True).values_list("pk", flat=True))
        manager.filter(pk__in=pks).update(is_primary=False)
        changed.extend([step.label, pk, "is_primary", True] for pk in pks)
    return changed


def _merge(actor: User, model: type[Party], survivor_id: int, merged_id: int, chosen: Iterable[str]) -> MergeRecord:
    survivor, merged = _lock_pair(actor, model, survivor_id, merged_id)
    _check_tree(survivor, merged)
    before_snapshot = _party_snapshot(survivor)
    merged_label = _label(merged)
    survivor_before = _apply_choices(actor, survivor, merged, chosen)
    steps = plan_merge(survivor, merged)
    moved: list[list[Any]] = []
    dropped_ids: dict[type[models.Model], list[int]] = defaultdict(list)
    for step in steps:
        failed = _move(step, survivor.pk)
        if failed:
            step.moved = [pk for pk in step.moved if pk not in set(failed)]
            step.dropped = sorted({*step.dropped, *failed})
        moved.extend([step.label, pk, step.fk_name] for pk in step.moved)
        if step.dropped:
            dropped_ids[step.model].extend(step.dropped)
    moved.extend(_fix_primary_flags(steps, survivor))
    # The merged record and the dropped rows go, with anything that would cascade from them.
    dropped = [obj for m, pks in dropped_ids.items() for obj in m._base_manager.filter(pk__in=pks).order_by("pk")]
    collector = Collector(using=merged._state.db or "default", origin=merged)
    collector.collect([merged])
    for dropped_model in dropped_ids:
        collector.collect([obj for obj in dropped if type(obj) is dropped_model])
    known = {(type(obj), obj.pk) for obj in [merged, *dropped]}
    cascaded = [obj for objs in collector.data.values() for obj in objs if (type(obj), obj.pk) not in known]
    stored = _serialize([merged], fields=_own_columns(model)) + _serialize(dropped) + _serialize(cascaded)
    collector.delete()
    _check_tree(survivor, merged)
    survivor.save()
    _reindex(survivor)
    changes = diff(before_snapshot, _party_snapshot(survivor))
    changes["merged"] = [None, f"{merged_label} (#{merged_id})"]
    record_change(survivor, actor=actor, action=ChangeAction.UPDATE, changes=changes, note="merge")
    duplicates.forget_record(_target_of(model), merged_id)  # undo does not bring its pairs back
    return MergeRecord.objects.create(
        target=_target_of(model),
        survivor_id=survivor.pk,
        merged_id=merged_id,
        merged_label=merged_label,
        merged_snapshot=stored,
        moved=moved,
        survivor_before=survivor_before,
        merged_by=actor,
    )


@transaction.atomic
def merge_people(actor: User, survivor: Person, merged: Person, chosen_fields: Iterable[str] = ()) -> MergeRecord:
    """Merge `merged` into `survivor`, taking `chosen_fields` (names from `PERSON_MERGE_FIELDS`
    or `attributes.<key>`) from `merged`; both must be records `actor` may change."""
    return _merge(actor, Person, survivor.pk, merged.pk, chosen_fields)


@transaction.atomic
def merge_accounts(actor: User, survivor: Account, merged: Account, chosen_fields: Iterable[str] = ()) -> MergeRecord:
    """Merge `merged` into `survivor`, as `merge_people` does for people."""
    return _merge(actor, Account, survivor.pk, merged.pk, chosen_fields)


@transaction.atomic
def merge(actor: User, target: str, survivor_id: int, merged_id: int, chosen_fields: Iterable[str] = ()) -> MergeRecord:
    """`merge_people`/`merge_accounts` by record type and ids, for the API and the merge screen."""
    return _merge(actor, model_for(target), survivor_id, merged_id, chosen_fields)


# ---------------------------------------------------------------------------------------------
# Undo


@dataclass
class UndoReport:
    record: MergeRecord
    restored_rows: int
    moved_back: int
    not_moved_back: int  # rows deleted or re-pointed since the merge
    fields_kept: list[str]  # chosen fields edited since the merge, left as they are now


def can_undo(actor: User, record: MergeRecord) -> bool:
    if record.undone_at is not None:
        return False
    model = model_for(record.target)
    return editable_records(actor, model).filter(pk=record.survivor_id).exists()


def _restore_fields(survivor: Party, record: MergeRecord) -> list[str]:
    """Put back the survivor's overwritten fields that still hold what the merge wrote."""
    model = type(survivor)
    merged_fields: dict[str, Any] = record.merged_snapshot[0]["fields"] if record.merged_snapshot else {}
    now = _serialize([survivor], fields=list(merge_fields(model)))[0]["fields"]
    kept: list[str] = []
    attributes = dict(survivor.attributes)
    merged_attributes: dict[str, Any] = merged_fields.get("attributes") or {}
    for name, value in record.survivor_before.items():
        if name.startswith(ATTRIBUTE_PREFIX):
            key = name.removeprefix(ATTRIBUTE_PREFIX)
            written = [merged_attributes[key]] if key in merged_attributes else []
            current = [attributes[key]] if key in attributes else []
            if current != written:
                kept.append(name)
                continue
            if value:
                attributes[key] = value[0]
            else:
                attributes.pop(key, None)
            continue
        if now.get(name) != merged_fields.get(name):
            kept.append(name)
            continue
        model_field = model._meta.get_field(name)
        attname = getattr(model_field, "attname", name)
        python_value = (
            value if isinstance(model_field, models.ForeignKey) else model_field.to_python(value)  # type: ignore[union-attr]
        )
        setattr(survivor, attname, python_value)
    survivor.attributes = attributes
    if isinstance(survivor, Person):
        survivor.full_name = full_name(survivor.family_name, survivor.given_name)
    else:
        survivor.domain = domain_of(survivor.website)
    return kept


def _move_back(record: MergeRecord) -> tuple[int, int]:
    """Re-point the moved rows at the restored record; rows changed since are left alone."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    flags: list[list[Any]] = []
    for entry in record.moved:
        if len(entry) == 4:
            flags.append(entry)
        else:
            groups[(entry[0], entry[2])].append(int(entry[1]))
    moved_back = 0
    for (label, name), pks in groups.items():
        model = apps.get_model(label)
        model_field = model._meta.get_field(name)
        column = getattr(model_field, "attname", name)
        manager = model._base_manager
        touched = _touched(model)
        for start in range(0, len(pks), _BATCH):
            batch = pks[start : start + _BATCH]
            try:
                with transaction.atomic():
                    moved_back += manager.filter(pk__in=batch, **{column: record.survivor_id}).update(
                        **{column: record.merged_id}, **touched
                    )
            except IntegrityError:
                for pk in batch:
                    try:
                        with transaction.atomic():
                            moved_back += manager.filter(pk=pk, **{column: record.survivor_id}).update(
                                **{column: record.merged_id}, **touched
                            )
                    except IntegrityError:
                        continue
    for label, pk, name, old in flags:
        apps.get_model(label)._base_manager.filter(pk=pk).update(**{name: old})
    total = sum(len(pks) for pks in groups.values())
    return moved_back, total - moved_back


@transaction.atomic
def undo_merge(actor: User, record: MergeRecord) -> UndoReport:
    """Bring the merged record back with its id, move back the rows the merge moved, restore
    the rows it dropped and the survivor's fields it overwrote (unless edited since)."""
    record = MergeRecord.objects.select_for_update().get(pk=record.pk)
    if record.undone_at is not None:
        raise ValidationError(_("This merge has already been undone."))
    model = model_for(record.target)
    survivor = model.objects.select_for_update(of=("self",)).filter(pk=record.survivor_id).first()
    if survivor is None:
        raise ValidationError(
            _("The record kept by this merge no longer exists (it may have been merged again): undo that first.")
        )
    if not editable_records(actor, model).filter(pk=survivor.pk).exists():
        raise PermissionDenied(_("You may not change this record."))
    if model.objects.filter(pk=record.merged_id).exists():
        raise ValidationError(_("A record with the merged record's id exists already."))
    before_snapshot = _party_snapshot(survivor)
    restored = 0
    objects = list(serializers.deserialize("json", json.dumps(record.merged_snapshot), ignorenonexistent=True))
    for item in objects:
        item.save()
        restored += 1
    moved_back, not_moved_back = _move_back(record)
    kept = _restore_fields(survivor, record)
    survivor.save()
    restored_record = model.objects.get(pk=record.merged_id)
    _reindex(survivor)
    _reindex(restored_record)
    changes = diff(before_snapshot, _party_snapshot(survivor))
    changes["merged"] = [f"{record.merged_label} (#{record.merged_id})", None]
    record_change(survivor, actor=actor, action=ChangeAction.UPDATE, changes=changes, note="merge undone")
    record_change(
        restored_record,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes={"merged": [f"#{record.survivor_id}", None]},
        note="restored by undoing a merge",
    )
    record.undone_by = actor
    record.undone_at = timezone.now()
    record.save(update_fields=["undone_by", "undone_at"])
    return UndoReport(record, restored, moved_back, not_moved_back, kept)


# ---------------------------------------------------------------------------------------------
# Not duplicates


@transaction.atomic
def dismiss_pair(actor: User, target: str, first_id: int, second_id: int) -> DismissedPair:
    """Record that two records are not duplicates; both must be visible to `actor`."""
    model = model_for(target)
    if first_id == second_id:
        raise ValidationError({"merged": [_("Choose two different records.")]})
    visible = queries.visible_people(actor) if model is Person else queries.visible_accounts(actor)
    if visible.filter(pk__in=[first_id, second_id]).count() != 2:
        raise PermissionDenied(_("You may not see this record."))
    if actor.role == StaffRole.ANALYST:  # analysts read everything and change nothing
        raise PermissionDenied(_("You may not change this record."))
    low, high = sorted((first_id, second_id))
    pair, _created = DismissedPair.objects.get_or_create(
        target=_target_of(model), low_id=low, high_id=high, defaults={"dismissed_by": actor}
    )
    duplicates.forget_pair(_target_of(model), low, high)
    return pair


def merge_preview(survivor: Party, merged: Party) -> list[tuple[str, int, int]]:
    """(what, rows moved, rows dropped) per kind of related row, for the merge screen."""
    totals: dict[str, list[int]] = {}
    for step in plan_merge(survivor, merged):
        name = _("history entries") if step.model is ChangeRecord else step.verbose_name
        if step.model in (Person.tags.through, Account.tags.through):
            name = _("tags")
        entry = totals.setdefault(str(name), [0, 0])
        entry[0] += len(step.moved)
        entry[1] += len(step.dropped)
    return [(name, counts[0], counts[1]) for name, counts in sorted(totals.items())]


def visible_merges(user: User) -> models.QuerySet[MergeRecord]:
    """Merges whose kept record the user may see; admins see every merge."""
    records = MergeRecord.objects.select_related("merged_by", "undone_by")
    if user.is_admin:
        return records
    return records.filter(
        models.Q(target=Target.PERSON, survivor_id__in=queries.visible_people(user).values("pk"))
        | models.Q(target=Target.ACCOUNT, survivor_id__in=queries.visible_accounts(user).values("pk"))
    )


# ---------------------------------------------------------------------------------------------
# Looking for duplicates across the database


def can_search_duplicates(user: User) -> bool:
    """A search reads the whole database for a minute on a large one: admins and managers."""
    return bool(user.is_active and (user.is_admin or user.role == StaffRole.SALES_MANAGER))


@transaction.atomic
def request_duplicate_search(actor: User, target: str) -> DuplicateSearch:
    """Record a pending search and queue it once this request commits; a search of `target`
    already waiting or running is returned instead of starting a second one."""
    target = _target_of(model_for(target))
    if not can_search_duplicates(actor):
        raise PermissionDenied(_("Only admins and sales managers may search the whole database for duplicates."))
    search, created = duplicates.mark_running(target, actor)
    if created:
        search_id = search.pk
        transaction.on_commit(lambda: find_duplicates.enqueue(target, search_id))
    return search


def visible_records(user: User, target: str) -> models.QuerySet[Any]:
    return queries.visible_people(user) if model_for(target) is Person else queries.visible_accounts(user)
