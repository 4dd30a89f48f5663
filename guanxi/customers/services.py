"""Every write to customer records. Views, the API, imports and jobs all come through here.

Each function checks permission, validates, writes, keeps history and search keys current, in one
transaction: a failure anywhere leaves nothing half-written.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.attributes import clean_attributes
from guanxi.core.history import bulk_record_changes, diff, record_change, snapshot
from guanxi.core.models import AttributeDefinition, AttributeType, ChangeAction, Tag
from guanxi.customers import search
from guanxi.customers.models import (
    Account,
    Address,
    Channel,
    ConsentPurpose,
    ConsentRecord,
    EmailAddress,
    LifecycleChange,
    LifecycleStage,
    LostReason,
    Person,
    PhoneNumber,
    Relationship,
    RelationshipKind,
    Role,
    RoleKind,
    SearchTerm,
    ServiceLevel,
)
from guanxi.customers.normalise import (
    InvalidValueError,
    domain_of,
    full_name,
    national_digits,
    normalise_email,
    normalise_phone,
)
from guanxi.staff import access
from guanxi.staff.models import Team, User

PartyT = TypeVar("PartyT", Account, Person)

ACCOUNT_FIELDS = (
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
    "reclaim_exempt",
)
PERSON_FIELDS = (
    "family_name",
    "given_name",
    "grade",
    "birthday",
    "preferred_language",
    "preferred_channel",
    "preferences",
    "buying_motives",
    "source",
    "owner",
    "notes",
    "reclaim_exempt",
)
ATTRIBUTE_TARGETS = {"account": Account, "person": Person}


# ---------------------------------------------------------------------------------------------
# Permission helpers


def _require_edit(actor: User, instance: Account | Person) -> None:
    model = type(instance)
    team_field = "team" if model is Account else None
    if not model.objects.filter(access.editable_q(actor, team_field=team_field), pk=instance.pk).exists():
        raise PermissionDenied(_("You may not change this record."))


def _require_visible(actor: User, instance: Account | Person) -> None:
    model = type(instance)
    team_field = "team" if model is Account else None
    if not model.objects.filter(access.visible_q(actor, team_field=team_field), pk=instance.pk).exists():
        raise PermissionDenied(_("You may not see this record."))


def _check_owner(actor: User, owner: User | None, current: User | None = None) -> None:
    if owner == current:
        return
    if owner is not None and not owner.is_active:
        raise ValidationError({"owner": [_("This user is deactivated.")]})
    if not access.can_assign_to(actor, owner):
        raise ValidationError({"owner": [_("You may not assign records to this user.")]})


def _check_lock(actor: User, party: Account | Person, before: bool) -> None:
    """Locking a customer (锁定) exempts it from the reclaim rules, so only a manager or an admin
    may set or clear it; a rep could otherwise keep every customer out of the pool forever."""
    if party.reclaim_exempt != before and not access.can_lock(actor):
        raise ValidationError(
            {"reclaim_exempt": [_("Only a sales manager or an admin may lock or unlock a customer.")]}
        )


def _require_settings(actor: User) -> None:
    if not access.can_manage_settings(actor):
        raise PermissionDenied(_("Only an admin may change this setting."))


# ---------------------------------------------------------------------------------------------
# Search keys


def account_search_terms(name: str, domain: str, registration_number: str, phone: str) -> set[str]:
    """An account's search keys from its stored values; the demo-data loader builds them with this too."""
    terms = search.name_terms(name)
    terms |= search.domain_terms(domain)
    if registration_number:
        terms.add(search.normalise_text(registration_number))
    if phone:
        terms |= search.phone_terms(phone)
        terms.add(search.national_phone_term(national_digits(phone)))
    return search.clip(terms)


def person_search_terms(family_name: str, given_name: str, emails: Iterable[str], phones: Iterable[str]) -> set[str]:
    """A person's search keys from names and normalised contacts; the demo-data loader uses it too."""
    terms = search.name_terms(family_name, given_name)
    for address in emails:
        terms |= search.email_terms(address)
    for number in phones:
        terms |= search.phone_terms(number)
        national = national_digits(number)
        if national:
            terms.add(search.national_phone_term(national))
    return search.clip(terms)


def _account_terms(account: Account) -> set[str]:
    return account_search_terms(account.name, account.domain, account.registration_number, account.phone)


def _person_terms(person: Person, emails: Iterable[str], phones: Iterable[str]) -> set[str]:
    return person_search_terms(person.family_name, person.given_name, emails, phones)


def _reindex_account(account: Account) -> None:
    SearchTerm.objects.filter(account=account).delete()
    SearchTerm.objects.bulk_create([SearchTerm(term=t, account=account) for t in sorted(_account_terms(account))])


def _reindex_person(person: Person, emails: Iterable[str], phones: Iterable[str]) -> None:
    SearchTerm.objects.filter(person=person).delete()
    SearchTerm.objects.bulk_create(
        [SearchTerm(term=t, person=person) for t in sorted(_person_terms(person, emails, phones))]
    )


# ---------------------------------------------------------------------------------------------
# Shared pieces


def _full_clean(instance: Model, exclude: Sequence[str] = ()) -> None:
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc


def _resolve_tags(names_or_tags: Iterable[str | Tag]) -> list[Tag]:
    tags: list[Tag] = []
    for item in names_or_tags:
        if isinstance(item, Tag):
            tags.append(item)
            continue
        name = item.strip()
        if not name:
            continue
        if len(name) > 64:
            raise ValidationError({"tags": [_("A tag has at most 64 characters: %(name)s") % {"name": name[:70]}]})
        tag, _created = Tag.objects.get_or_create(name=name)
        tags.append(tag)
    return tags


def _record_stage(
    party: Account | Person, from_stage: str, to_stage: str, actor: User | None, reason: str = ""
) -> None:
    LifecycleChange.objects.create(
        account=party if isinstance(party, Account) else None,
        person=party if isinstance(party, Person) else None,
        from_stage=from_stage,
        to_stage=to_stage,
        changed_by=actor if actor is not None and actor.pk else None,
        reason=reason[:255],
    )


def record_stage_moves(
    model: type[Account] | type[Person], moves: Iterable[tuple[int, str, str]], *, actor: User | None, reason: str
) -> None:
    """One `LifecycleChange` per (record id, from stage, to stage), in one INSERT: the bulk stage
    action and the analytics runs move many records at once."""
    is_account = model is Account
    LifecycleChange.objects.bulk_create(
        [
            LifecycleChange(
                account_id=pk if is_account else None,
                person_id=None if is_account else pk,
                from_stage=old,
                to_stage=new,
                changed_by=actor,
                reason=reason[:255],
            )
            for pk, old, new in moves
        ]
    )


def _check_stage(stage: str) -> None:
    if stage not in LifecycleStage.values:
        raise ValidationError({"lifecycle_stage": [_("Unknown lifecycle stage: %(stage)s") % {"stage": stage}]})


def _assign(instance: Model, data: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    for name, value in data.items():
        setattr(instance, name, value)


# ---------------------------------------------------------------------------------------------
# Accounts


def _account_snapshot(account: Account) -> dict[str, Any]:
    tags = sorted(t.name for t in account.tags.all()) if account.pk else []
    return snapshot(account, (*ACCOUNT_FIELDS, "lifecycle_stage"), {"attributes": account.attributes, "tags": tags})


def _check_parent(account: Account) -> None:
    """A parent chain must not loop back: a group of companies is a tree."""
    seen = {account.pk} if account.pk else set()
    parent = account.parent
    depth = 0
    while parent is not None:
        if parent.pk in seen:
            raise ValidationError({"parent": [_("An account cannot be its own ancestor.")]})
        seen.add(parent.pk)
        parent = parent.parent
        depth += 1
        if depth > 50:
            raise ValidationError({"parent": [_("The account tree is too deep (more than 50 levels).")]})


def _clean_addresses(addresses: Iterable[Mapping[str, Any]]) -> list[Address]:
    result: list[Address] = []
    errors: dict[str, list[str]] = {}
    for index, data in enumerate(addresses):
        address = Address(
            **{
                k: v
                for k, v in data.items()
                if k in {"kind", "line1", "line2", "city", "region", "postal_code", "country"}
            }
        )
        address.country = address.country.upper()
        try:
            address.full_clean(exclude=["account"])
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors[f"addresses.{index}.{field}"] = messages
        result.append(address)
    if errors:
        raise ValidationError(errors)
    return result


@transaction.atomic
def create_account(
    actor: User,
    data: Mapping[str, Any],
    *,
    tags: Iterable[str | Tag] = (),
    attributes: Mapping[str, Any] | None = None,
    addresses: Iterable[Mapping[str, Any]] = (),
    lifecycle_stage: str = LifecycleStage.PROSPECT,
) -> Account:
    account = Account(created_by=actor if actor.pk else None)
    fields = dict(data)
    if "owner" not in fields and not actor.is_admin:
        fields["owner"] = actor
    _assign(account, fields, ACCOUNT_FIELDS)
    _check_owner(actor, account.owner)
    _check_lock(actor, account, False)
    _check_stage(lifecycle_stage)
    account.lifecycle_stage = lifecycle_stage
    account.domain = domain_of(account.website)
    if account.phone:
        try:
            account.phone = normalise_phone(account.phone)
        except InvalidValueError as exc:
            raise ValidationError({"phone": [str(exc)]}) from exc
    account.attributes = clean_attributes("account", attributes or {})
    _full_clean(account, exclude=["owner", "team", "parent", "created_by", "tags"])
    _check_parent(account)
    clean_addresses = _clean_addresses(addresses)
    if account.owner is not None:
        _check_capacity(Account, account.owner, 1)
        account.owned_since = timezone.now()
    account.save()
    for address in clean_addresses:
        address.account = account
    Address.objects.bulk_create(clean_addresses)
    account.tags.set(_resolve_tags(tags))
    _record_stage(account, "", account.lifecycle_stage, actor)
    _reindex_account(account)
    record_change(account, actor=actor, action=ChangeAction.CREATE, changes=diff({}, _account_snapshot(account)))
    return account


@transaction.atomic
def update_account(
    actor: User,
    account: Account,
    data: Mapping[str, Any],
    *,
    tags: Iterable[str | Tag] | None = None,
    attributes: Mapping[str, Any] | None = None,
    addresses: Iterable[Mapping[str, Any]] | None = None,
) -> Account:
    account = Account.objects.select_for_update(of=("self",)).get(pk=account.pk)
    _require_edit(actor, account)
    before = _account_snapshot(account)
    before_owner = account.owner
    before_lock = account.reclaim_exempt
    _assign(account, data, ACCOUNT_FIELDS)
    _check_owner(actor, account.owner, before_owner)
    _check_lock(actor, account, before_lock)
    account.domain = domain_of(account.website)
    if "phone" in data and account.phone:
        try:
            account.phone = normalise_phone(account.phone)
        except InvalidValueError as exc:
            raise ValidationError({"phone": [str(exc)]}) from exc
    if attributes is not None:
        account.attributes = clean_attributes("account", attributes, current=account.attributes)
    _full_clean(account, exclude=["owner", "team", "parent", "created_by", "tags"])
    _check_parent(account)
    _note_owner_change(account, before_owner)
    account.save()
    if addresses is not None:
        clean_addresses = _clean_addresses(addresses)
        account.addresses.all().delete()
        for address in clean_addresses:
            address.account = account
        Address.objects.bulk_create(clean_addresses)
    if tags is not None:
        account.tags.set(_resolve_tags(tags))
    _reindex_account(account)
    record_change(account, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, _account_snapshot(account)))
    return account


@transaction.atomic
def delete_account(actor: User, account: Account) -> None:
    _require_edit(actor, account)
    record_change(account, actor=actor, action=ChangeAction.DELETE, changes={}, note=account.name)
    account.delete()


# ---------------------------------------------------------------------------------------------
# People


def _clean_contact_list(
    items: Iterable[str | Mapping[str, Any]], field: str, normalise: Any, value_key: str
) -> list[dict[str, Any]]:
    """Normalise a list of emails or phones; errors are named `emails.1` etc.; duplicates folded."""
    cleaned: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    for index, item in enumerate(items):
        data = {value_key: item} if isinstance(item, str) else dict(item)
        raw = str(data.get(value_key, "") or "")
        try:
            value = normalise(raw)
        except InvalidValueError as exc:
            errors[f"{field}.{index}"] = [str(exc)]
            continue
        if value in seen:
            continue
        seen.add(value)
        cleaned.append({value_key: value, "kind": data.get("kind") or "", "is_primary": bool(data.get("is_primary"))})
    if errors:
        raise ValidationError(errors)
    if cleaned and not any(c["is_primary"] for c in cleaned):
        cleaned[0]["is_primary"] = True
    first_primary = next(i for i, c in enumerate(cleaned) if c["is_primary"]) if cleaned else -1
    for index, c in enumerate(cleaned):
        c["is_primary"] = index == first_primary
    return cleaned


_PERSON_CLEAN_EXCLUDE = ("owner", "created_by", "tags", "full_name")


def _collect[T](errors: dict[str, list[str]], check: Callable[[], T]) -> T | None:
    """Run one validation step, adding its field errors to `errors`, so a form shows every
    problem at once instead of one per submit."""
    try:
        return check()
    except ValidationError as exc:
        errors.update(exc.message_dict)
        return None


def _person_snapshot(person: Person) -> dict[str, Any]:
    if person.pk:
        emails = [e.address for e in person.emails.all()]
        phones = [p.number for p in person.phones.all()]
        tags = sorted(t.name for t in person.tags.all())
    else:
        emails, phones, tags = [], [], []
    return snapshot(
        person,
        (*PERSON_FIELDS, "lifecycle_stage"),
        {"attributes": person.attributes, "emails": emails, "phones": phones, "tags": tags},
    )


def _prepare_person(person: Person) -> None:
    person.family_name = person.family_name.strip()
    person.given_name = person.given_name.strip()
    person.full_name = full_name(person.family_name, person.given_name)
    if not person.full_name:
        raise ValidationError({"family_name": [_("Enter a family name or a given name.")]})


def _write_contacts(person: Person, emails: list[dict[str, Any]] | None, phones: list[dict[str, Any]] | None) -> None:
    if emails is not None:
        person.emails.all().delete()
        EmailAddress.objects.bulk_create(
            [
                EmailAddress(
                    person=person,
                    address=e["address"],
                    kind=e["kind"] or EmailAddress.Kind.WORK,
                    is_primary=e["is_primary"],
                )
                for e in emails
            ]
        )
    if phones is not None:
        person.phones.all().delete()
        PhoneNumber.objects.bulk_create(
            [
                PhoneNumber(
                    person=person,
                    number=p["number"],
                    kind=p["kind"] or PhoneNumber.Kind.MOBILE,
                    is_primary=p["is_primary"],
                )
                for p in phones
            ]
        )


@transaction.atomic
def create_person(
    actor: User,
    data: Mapping[str, Any],
    *,
    emails: Iterable[str | Mapping[str, Any]] = (),
    phones: Iterable[str | Mapping[str, Any]] = (),
    tags: Iterable[str | Tag] = (),
    attributes: Mapping[str, Any] | None = None,
    lifecycle_stage: str = LifecycleStage.PROSPECT,
) -> Person:
    person = Person(created_by=actor if actor.pk else None)
    fields = dict(data)
    if "owner" not in fields and not actor.is_admin:
        fields["owner"] = actor
    _assign(person, fields, PERSON_FIELDS)
    errors: dict[str, list[str]] = {}
    _collect(errors, lambda: _prepare_person(person))
    clean_emails = _collect(errors, lambda: _clean_contact_list(emails, "emails", normalise_email, "address"))
    clean_phones = _collect(errors, lambda: _clean_contact_list(phones, "phones", normalise_phone, "number"))
    _collect(errors, lambda: setattr(person, "attributes", clean_attributes("person", attributes or {})))
    _collect(errors, lambda: _check_owner(actor, person.owner))
    _collect(errors, lambda: _check_lock(actor, person, False))
    _collect(errors, lambda: _check_stage(lifecycle_stage))
    _collect(errors, lambda: _full_clean(person, exclude=[*_PERSON_CLEAN_EXCLUDE, *errors]))
    if errors:
        raise ValidationError(errors)
    person.lifecycle_stage = lifecycle_stage
    if person.owner is not None:
        _check_capacity(Person, person.owner, 1)
        person.owned_since = timezone.now()
    person.save()
    _write_contacts(person, clean_emails, clean_phones)
    person.tags.set(_resolve_tags(tags))
    _record_stage(person, "", person.lifecycle_stage, actor)
    _reindex_person(person, [e["address"] for e in clean_emails or []], [p["number"] for p in clean_phones or []])
    record_change(person, actor=actor, action=ChangeAction.CREATE, changes=diff({}, _person_snapshot(person)))
    return person


@transaction.atomic
def update_person(
    actor: User,
    person: Person,
    data: Mapping[str, Any],
    *,
    emails: Iterable[str | Mapping[str, Any]] | None = None,
    phones: Iterable[str | Mapping[str, Any]] | None = None,
    tags: Iterable[str | Tag] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Person:
    person = Person.objects.select_for_update(of=("self",)).get(pk=person.pk)
    _require_edit(actor, person)
    before = _person_snapshot(person)
    before_owner = person.owner
    before_lock = person.reclaim_exempt
    _assign(person, data, PERSON_FIELDS)
    errors: dict[str, list[str]] = {}
    clean_emails = clean_phones = None
    _collect(errors, lambda: _prepare_person(person))
    if emails is not None:
        clean_emails = _collect(errors, lambda: _clean_contact_list(emails, "emails", normalise_email, "address"))
    if phones is not None:
        clean_phones = _collect(errors, lambda: _clean_contact_list(phones, "phones", normalise_phone, "number"))
    if attributes is not None:
        current = person.attributes
        _collect(errors, lambda: setattr(person, "attributes", clean_attributes("person", attributes, current=current)))
    _collect(errors, lambda: _check_owner(actor, person.owner, before_owner))
    _collect(errors, lambda: _check_lock(actor, person, before_lock))
    _collect(errors, lambda: _full_clean(person, exclude=[*_PERSON_CLEAN_EXCLUDE, *errors]))
    if errors:
        raise ValidationError(errors)
    _note_owner_change(person, before_owner)
    person.save()
    _write_contacts(person, clean_emails, clean_phones)
    if tags is not None:
        person.tags.set(_resolve_tags(tags))
    _reindex_person(
        person, person.emails.values_list("address", flat=True), person.phones.values_list("number", flat=True)
    )
    record_change(person, actor=actor, action=ChangeAction.UPDATE, changes=diff(before, _person_snapshot(person)))
    return person


@transaction.atomic
def delete_person(actor: User, person: Person) -> None:
    _require_edit(actor, person)
    record_change(person, actor=actor, action=ChangeAction.DELETE, changes={}, note=person.full_name)
    person.delete()


# ---------------------------------------------------------------------------------------------
# Lifecycle


@transaction.atomic
def set_lifecycle_stage[PartyT: (Account, Person)](
    actor: User | None, party: PartyT, stage: str, *, reason: str = "", lost_reason: str = ""
) -> PartyT:
    """Move a record to a stage and keep the move. `actor=None` is the system (analytics runs).

    A lost customer keeps why (`lost_reason`) so losses can be counted by cause; the forms and the
    API ask for it, an import or a scoring run may not know it."""
    _check_stage(stage)
    _check_lost_reason(stage, lost_reason)
    model = type(party)
    party = model.objects.select_for_update(of=("self",)).get(pk=party.pk)
    if actor is not None:
        _require_edit(actor, party)
    new_lost_reason = lost_reason if stage == LifecycleStage.LOST else ""
    if party.lifecycle_stage == stage and party.lost_reason == new_lost_reason:
        return party
    old, old_lost_reason = party.lifecycle_stage, party.lost_reason
    model.objects.filter(pk=party.pk).update(lifecycle_stage=stage, lost_reason=new_lost_reason)
    party.lifecycle_stage, party.lost_reason = stage, new_lost_reason
    changes: dict[str, list[Any]] = {}
    if old != stage:
        _record_stage(party, old, stage, actor, reason or _lost_label(new_lost_reason))
        changes["lifecycle_stage"] = [old, stage]
    if old_lost_reason != new_lost_reason:
        changes["lost_reason"] = [old_lost_reason, new_lost_reason]
    record_change(party, actor=actor, action=ChangeAction.UPDATE, changes=changes, note=reason)
    return party


def _check_lost_reason(stage: str, lost_reason: str) -> None:
    if lost_reason and lost_reason not in LostReason.values:
        raise ValidationError({"lost_reason": [_("Choose one of the listed reasons.")]})
    if lost_reason and stage != LifecycleStage.LOST:
        raise ValidationError({"lost_reason": [_("Only a lost customer has a lost reason.")]})


def _lost_label(lost_reason: str) -> str:
    return str(LostReason(lost_reason).label) if lost_reason else ""


# ---------------------------------------------------------------------------------------------
# Bulk actions and the shared pool


def _note_owner_change(party: Account | Person, before_owner: User | None) -> None:
    """A new owner starts the reclaim clock afresh; the pool has no clock."""
    if party.owner_id == (before_owner.pk if before_owner else None):
        return
    if party.owner is not None:
        _check_capacity(type(party), party.owner, 1)
    party.owned_since = timezone.now() if party.owner_id is not None else None


def _check_capacity(model: type[Account] | type[Person], owner: User, adding: int) -> None:
    """Hold a rep to their team's "at most K customers" (counted per record type: accounts for
    B2B, people for B2C), locking the rep's row so two claims at once cannot both squeeze in."""
    if adding <= 0 or owner.team_id is None:
        return
    limit = Team.objects.filter(pk=owner.team_id).values_list("max_customers_per_rep", flat=True).first()
    if limit is None:
        return
    User.objects.select_for_update().filter(pk=owner.pk).first()
    held = model.objects.filter(owner=owner).count()
    if held + adding > limit:
        raise ValidationError(
            {
                "owner": [
                    _("%(owner)s may hold at most %(limit)d %(kind)s; they hold %(held)d.")
                    % {"owner": owner, "limit": limit, "kind": model._meta.verbose_name_plural, "held": held}
                ]
            }
        )


def _editable[PartyT: (Account, Person)](actor: User, model: type[PartyT], ids: Iterable[int]) -> QuerySet[PartyT]:
    team_field = "team" if model is Account else None
    return model.objects.filter(access.editable_q(actor, team_field=team_field), pk__in=list(ids))


@transaction.atomic
def bulk_assign_owner[PartyT: (Account, Person)](
    actor: User, model: type[PartyT], ids: Iterable[int], owner: User | None
) -> int:
    _check_owner(actor, owner, current=actor if owner is None else None)
    rows = list(_editable(actor, model, ids).select_for_update(of=("self",)).select_related("owner"))
    label = str(owner) if owner else None
    entries = [
        (r.pk, {"owner": [str(r.owner) if r.owner else None, label]})
        for r in rows
        if r.owner_id != (owner.pk if owner else None)
    ]
    changed_ids = [pk for pk, _changes in entries]
    if owner is not None:
        _check_capacity(model, owner, len(changed_ids))
    model.objects.filter(pk__in=changed_ids).update(owner=owner, owned_since=timezone.now() if owner else None)
    bulk_record_changes(model, entries, actor=actor, note="bulk assign")
    return len(changed_ids)


@transaction.atomic
def bulk_release_to_pool[PartyT: (Account, Person)](actor: User, model: type[PartyT], ids: Iterable[int]) -> int:
    rows = list(
        _editable(actor, model, ids).filter(owner__isnull=False).select_for_update(of=("self",)).select_related("owner")
    )
    entries = [(r.pk, {"owner": [str(r.owner), None]}) for r in rows]
    model.objects.filter(pk__in=[r.pk for r in rows]).update(owner=None, owned_since=None)
    bulk_record_changes(model, entries, actor=actor, note="released to shared pool")
    return len(rows)


@transaction.atomic
def claim_from_pool[PartyT: (Account, Person)](actor: User, model: type[PartyT], ids: Iterable[int]) -> int:
    """Take pool records as owner. The UPDATE re-checks `owner IS NULL`, so two reps racing for the
    same record cannot both get it."""
    if not access.can_claim(actor):
        raise PermissionDenied(_("Only sales staff may claim from the shared pool."))
    wanted = list(ids)
    claimable = list(model.objects.filter(pk__in=wanted, owner__isnull=True).values_list("pk", flat=True))
    _check_capacity(model, actor, len(claimable))
    claimed = model.objects.filter(pk__in=claimable, owner__isnull=True).update(owner=actor, owned_since=timezone.now())
    if claimed != len(claimable):
        claimable = list(model.objects.filter(pk__in=claimable, owner=actor).values_list("pk", flat=True))
    bulk_record_changes(
        model, [(pk, {"owner": [None, str(actor)]}) for pk in claimable], actor=actor, note="claimed from shared pool"
    )
    return len(claimable)


@transaction.atomic
def bulk_add_tag[PartyT: (Account, Person)](actor: User, model: type[PartyT], ids: Iterable[int], tag_name: str) -> int:
    resolved = _resolve_tags([tag_name])
    if not resolved:
        raise ValidationError({"tag": [_("Enter a tag.")]})
    tag = resolved[0]
    through = model.tags.through
    fk = "account_id" if model is Account else "person_id"
    target_ids = list(_editable(actor, model, ids).exclude(tags=tag).values_list("pk", flat=True))
    through.objects.bulk_create([through(**{fk: pk, "tag_id": tag.pk}) for pk in target_ids], ignore_conflicts=True)
    bulk_record_changes(
        model, [(pk, {"tags": [None, f"+{tag.name}"]}) for pk in target_ids], actor=actor, note="bulk tag"
    )
    return len(target_ids)


@transaction.atomic
def bulk_remove_tag[PartyT: (Account, Person)](
    actor: User, model: type[PartyT], ids: Iterable[int], tag_name: str
) -> int:
    tag = Tag.objects.filter(name=tag_name.strip()).first()
    if tag is None:
        return 0
    through = model.tags.through
    fk = "account_id" if model is Account else "person_id"
    target_ids = list(_editable(actor, model, ids).filter(tags=tag).values_list("pk", flat=True))
    through.objects.filter(**{f"{fk}__in": target_ids, "tag_id": tag.pk}).delete()
    bulk_record_changes(
        model, [(pk, {"tags": [f"-{tag.name}", None]}) for pk in target_ids], actor=actor, note="bulk untag"
    )
    return len(target_ids)


@transaction.atomic
def bulk_set_stage[PartyT: (Account, Person)](
    actor: User, model: type[PartyT], ids: Iterable[int], stage: str, reason: str = "", lost_reason: str = ""
) -> int:
    _check_stage(stage)
    _check_lost_reason(stage, lost_reason)
    reason = reason or _lost_label(lost_reason)
    rows = list(
        _editable(actor, model, ids)
        .exclude(lifecycle_stage=stage)
        .select_for_update(of=("self",))
        .only("pk", "lifecycle_stage")
    )
    model.objects.filter(pk__in=[r.pk for r in rows]).update(lifecycle_stage=stage, lost_reason=lost_reason)
    record_stage_moves(model, [(r.pk, r.lifecycle_stage, stage) for r in rows], actor=actor, reason=reason)
    bulk_record_changes(
        model,
        [(r.pk, {"lifecycle_stage": [r.lifecycle_stage, stage]}) for r in rows],
        actor=actor,
        note=reason or "bulk stage change",
    )
    return len(rows)


# ---------------------------------------------------------------------------------------------
# Roles and relationships


@transaction.atomic
def add_role(
    actor: User,
    person: Person,
    account: Account,
    kind: str,
    *,
    job_title: str = "",
    is_primary_contact: bool = False,
    note: str = "",
) -> Role:
    _require_visible(actor, person)
    _require_visible(actor, account)
    try:
        _require_edit(actor, account)
    except PermissionDenied:
        _require_edit(actor, person)
    if kind not in RoleKind.values:
        raise ValidationError({"kind": [_("Unknown role: %(kind)s") % {"kind": kind}]})
    role = Role(
        person=person,
        account=account,
        kind=kind,
        job_title=job_title.strip(),
        is_primary_contact=is_primary_contact,
        note=note,
    )
    _full_clean(role)
    if is_primary_contact:
        Role.objects.filter(account=account, is_primary_contact=True).update(is_primary_contact=False)
    try:
        with transaction.atomic():
            role.save()
    except IntegrityError as exc:
        raise ValidationError({"kind": [_("This person already has this role at this account.")]}) from exc
    change = {"roles": [None, f"{role.get_kind_display()} @ {account.name}"]}
    record_change(person, actor=actor, action=ChangeAction.UPDATE, changes=change)
    record_change(
        account,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes={"roles": [None, f"{person.full_name}: {role.get_kind_display()}"]},
    )
    return role


@transaction.atomic
def update_role(actor: User, role: Role, data: Mapping[str, Any]) -> Role:
    role = Role.objects.select_for_update(of=("self",)).select_related("person", "account").get(pk=role.pk)
    try:
        _require_edit(actor, role.account)
    except PermissionDenied:
        _require_edit(actor, role.person)
    before = snapshot(role, ("kind", "job_title", "is_primary_contact", "note"))
    _assign(role, data, ("kind", "job_title", "is_primary_contact", "note"))
    _full_clean(role)
    if role.is_primary_contact:
        Role.objects.filter(account=role.account, is_primary_contact=True).exclude(pk=role.pk).update(
            is_primary_contact=False
        )
    try:
        with transaction.atomic():
            role.save()
    except IntegrityError as exc:
        raise ValidationError({"kind": [_("This person already has this role at this account.")]}) from exc
    changes = {
        f"role.{k}": v
        for k, v in diff(before, snapshot(role, ("kind", "job_title", "is_primary_contact", "note"))).items()
    }
    record_change(role.person, actor=actor, action=ChangeAction.UPDATE, changes=changes, note=role.account.name)
    return role


@transaction.atomic
def remove_role(actor: User, role: Role) -> None:
    try:
        _require_edit(actor, role.account)
    except PermissionDenied:
        _require_edit(actor, role.person)
    record_change(
        role.person,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes={"roles": [f"{role.get_kind_display()} @ {role.account.name}", None]},
    )
    record_change(
        role.account,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes={"roles": [f"{role.person.full_name}: {role.get_kind_display()}", None]},
    )
    role.delete()


def _sides(party: Account | Person, prefix: str) -> dict[str, Any]:
    if isinstance(party, Account):
        return {f"{prefix}_account": party, f"{prefix}_person": None}
    return {f"{prefix}_account": None, f"{prefix}_person": party}


@transaction.atomic
def add_relationship(
    actor: User, source: Account | Person, kind: str, target: Account | Person, *, note: str = ""
) -> Relationship:
    """ "<source> <kind> <target>": e.g. add_relationship(rep, li_na, "referred_by", wang_fang)."""
    if kind not in RelationshipKind.values:
        raise ValidationError({"kind": [_("Unknown relationship: %(kind)s") % {"kind": kind}]})
    if type(source) is type(target) and source.pk == target.pk:
        raise ValidationError({"target": [_("A record cannot be related to itself.")]})
    _require_visible(actor, target)
    _require_edit(actor, source)
    relationship = Relationship(
        kind=kind, note=note.strip(), created_by=actor, **_sides(source, "from"), **_sides(target, "to")
    )
    _full_clean(relationship)
    if Relationship.objects.filter(kind=kind, **_sides(source, "from"), **_sides(target, "to")).exists():
        raise ValidationError({"target": [_("This relationship is already recorded.")]})
    relationship.save()
    label = f"{relationship.get_kind_display()} {target}"
    record_change(source, actor=actor, action=ChangeAction.UPDATE, changes={"relationships": [None, label]})
    return relationship


@transaction.atomic
def remove_relationship(actor: User, relationship: Relationship) -> None:
    _require_edit(actor, relationship.source_party)
    label = f"{relationship.get_kind_display()} {relationship.target_party}"
    record_change(
        relationship.source_party, actor=actor, action=ChangeAction.UPDATE, changes={"relationships": [label, None]}
    )
    relationship.delete()


# ---------------------------------------------------------------------------------------------
# Consent


@transaction.atomic
def record_consent(
    actor: User | None,
    person: Person,
    *,
    purpose: str,
    channel: str,
    granted: bool,
    source: str,
    wording: str,
) -> ConsentRecord:
    """Append one grant or withdrawal. `actor=None` means the customer acted themself (a form, a link)."""
    if actor is not None:
        _require_visible(actor, person)
    errors: dict[str, list[str]] = {}
    if purpose not in ConsentPurpose.values:
        errors["purpose"] = [_("Choose one of: %(values)s.") % {"values": ", ".join(ConsentPurpose.values)}]
    if channel not in Channel.values:
        errors["channel"] = [_("Choose one of: %(values)s.") % {"values": ", ".join(Channel.values)}]
    if not source.strip():
        errors["source"] = [_("Say where consent was given or withdrawn.")]
    if not wording.strip():
        errors["wording"] = [_("Keep the exact wording shown to the customer.")]
    if errors:
        raise ValidationError(errors)
    record = ConsentRecord.objects.create(
        person=person,
        purpose=purpose,
        channel=channel,
        granted=granted,
        source=source.strip()[:100],
        wording=wording.strip(),
        recorded_by=actor if actor is not None and actor.pk else None,
    )
    state = "granted" if granted else "withdrawn"
    record_change(
        person,
        actor=actor,
        action=ChangeAction.UPDATE,
        changes={f"consent.{purpose}.{channel}": [None, state]},
        note=source,
    )
    return record


# ---------------------------------------------------------------------------------------------
# Settings: tags and custom attribute definitions (admins)


@transaction.atomic
def create_tag(actor: User, name: str, color: str = "#6b7280") -> Tag:
    _require_settings(actor)
    tag = Tag(name=name.strip(), color=color)
    _full_clean(tag)
    if Tag.objects.filter(name=tag.name).exists():
        raise ValidationError({"name": [_("A tag with this name exists.")]})
    tag.save()
    return tag


@transaction.atomic
def update_tag(actor: User, tag: Tag, data: Mapping[str, Any]) -> Tag:
    _require_settings(actor)
    _assign(tag, data, ("name", "color"))
    tag.name = tag.name.strip()
    _full_clean(tag)
    if Tag.objects.filter(name=tag.name).exclude(pk=tag.pk).exists():
        raise ValidationError({"name": [_("A tag with this name exists.")]})
    tag.save()
    return tag


@transaction.atomic
def delete_tag(actor: User, tag: Tag) -> None:
    _require_settings(actor)
    tag.delete()


def _check_definition(definition: AttributeDefinition) -> None:
    errors: dict[str, list[str]] = {}
    if definition.target not in ATTRIBUTE_TARGETS:
        errors["target"] = [_("Choose one of: %(values)s.") % {"values": ", ".join(ATTRIBUTE_TARGETS)}]
    if definition.data_type == AttributeType.CHOICE:
        choices = definition.choices
        if not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c.strip() for c in choices):
            errors["choices"] = [_("A choice attribute needs a list of non-empty choices.")]
        elif len(set(choices)) != len(choices):
            errors["choices"] = [_("Choices must be different from each other.")]
    elif definition.choices:
        errors["choices"] = [_("Only choice attributes have choices.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_attribute_definition(actor: User, data: Mapping[str, Any]) -> AttributeDefinition:
    _require_settings(actor)
    definition = AttributeDefinition()
    _assign(definition, data, ("target", "key", "label", "data_type", "choices", "required", "position"))
    _full_clean(definition)
    _check_definition(definition)
    if AttributeDefinition.objects.filter(target=definition.target, key=definition.key).exists():
        raise ValidationError({"key": [_("This record type already has an attribute with this key.")]})
    definition.save()
    return definition


@transaction.atomic
def update_attribute_definition(
    actor: User, definition: AttributeDefinition, data: Mapping[str, Any]
) -> AttributeDefinition:
    """Label, choices, required and position may change; key, target and type are fixed once
    values exist, because stored values were validated against them."""
    _require_settings(actor)
    fixed = {k for k in ("target", "key", "data_type") if k in data and data[k] != getattr(definition, k)}
    if fixed:
        raise ValidationError({k: [_("Cannot be changed; create a new attribute instead.")] for k in sorted(fixed)})
    _assign(definition, data, ("target", "key", "label", "data_type", "choices", "required", "position"))
    _full_clean(definition)
    _check_definition(definition)
    definition.save()
    return definition


@transaction.atomic
def delete_attribute_definition(actor: User, definition: AttributeDefinition) -> None:
    """Removes the definition; stored values stay in the records' JSON until next edited."""
    _require_settings(actor)
    definition.delete()


# ---------------------------------------------------------------------------------------------
# Maintenance


def rebuild_search_index(batch_size: int = 2000) -> dict[str, int]:
    """Recompute search keys batch by batch; each batch is one transaction, so a rerun after a
    crash simply redoes the batches (the keys of a record are replaced, never appended)."""
    counts = {"accounts": 0, "people": 0}
    last = 0
    while True:
        with transaction.atomic():
            accounts = list(Account.objects.filter(pk__gt=last).order_by("pk")[:batch_size])
            if not accounts:
                break
            SearchTerm.objects.filter(account__in=accounts).delete()
            SearchTerm.objects.bulk_create(
                [SearchTerm(term=t, account=a) for a in accounts for t in sorted(_account_terms(a))], batch_size=5000
            )
        counts["accounts"] += len(accounts)
        last = accounts[-1].pk
    last = 0
    while True:
        with transaction.atomic():
            people = list(
                Person.objects.filter(pk__gt=last).order_by("pk").prefetch_related("emails", "phones")[:batch_size]
            )
            if not people:
                break
            SearchTerm.objects.filter(person__in=people).delete()
            SearchTerm.objects.bulk_create(
                [
                    SearchTerm(term=t, person=p)
                    for p in people
                    for t in sorted(
                        _person_terms(p, [e.address for e in p.emails.all()], [n.number for n in p.phones.all()])
                    )
                ],
                batch_size=5000,
            )
        counts["people"] += len(people)
        last = people[-1].pk
    return counts


# ---------------------------------------------------------------------------------------------
# Facts other apps report about a customer


def _advance[PartyT: (Account, Person)](model: type[PartyT], ids: Iterable[int], field: str, at: datetime) -> int:
    """Move a timestamp forward only: a follow-up logged late for last week must not undo today's."""
    return model.objects.filter(Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": at}), pk__in=list(ids)).update(
        **{field: at}
    )


def record_follow_up[PartyT: (Account, Person)](model: type[PartyT], ids: Iterable[int], at: datetime) -> int:
    """A follow-up (call, visit, email…) with these customers happened at `at`; the reclaim rules read it."""
    return _advance(model, ids, "last_follow_up_at", at)


def record_won_deal[PartyT: (Account, Person)](model: type[PartyT], ids: Iterable[int], at: datetime) -> int:
    """A deal with these customers was won at `at`; the reclaim rules read it."""
    return _advance(model, ids, "last_won_at", at)


# ---------------------------------------------------------------------------------------------
# Service level


@transaction.atomic
def set_service_level[PartyT: (Account, Person)](actor: User, party: PartyT, level: str, *, reason: str = "") -> PartyT:
    """Give a customer another service level and keep the change in its history.

    The level decides how much service time a customer gets, so it is a manager's call: an admin,
    or a sales manager for the customers they may change (their teams' and the pool's). A rep may
    not raise their own customers to premium, nor lower them to dodge work.
    """
    if level not in ServiceLevel.values:
        raise ValidationError({"service_level": [_("Choose one of the listed service levels.")]})
    if not access.can_lock(actor):
        raise PermissionDenied(_("Only a sales manager or an admin may change a customer's service level."))
    model = type(party)
    locked = model.objects.select_for_update(of=("self",)).get(pk=party.pk)
    _require_edit(actor, locked)
    old = locked.service_level
    if old != level:
        model.objects.filter(pk=locked.pk).update(service_level=level)
        locked.service_level = level
        record_change(
            locked, actor=actor, action=ChangeAction.UPDATE, changes={"service_level": [old, level]}, note=reason
        )
    party.service_level = level
    return locked
