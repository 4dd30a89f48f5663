"""Writing many new, already validated accounts and people at once, with everything the services
write for one: contacts, tags, roles, the first lifecycle record, search keys and a "created"
history entry.

Imports of a few hundred thousand rows cannot afford one service call (a dozen queries) per
record, so rows are built as plain tuples and written with the driver's `executemany`, through
the demo loader's `Table`/`Chunk`/`write_chunk` machinery. What is written matches what
`services.create_person`/`create_account` write: the search keys come from the same
`person_search_terms`/`account_search_terms`, and the history entry holds the same field diff.

The caller validates (normalised e-mail and E.164 phone, typed attributes, field lengths) and
checks permission (owner assignable, see `dataio.services.importing`), and calls these functions
inside its own transaction: ids are reserved in it, so concurrent imports never collide.
"""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connections, transaction
from django.utils import timezone

from guanxi.core.history import diff
from guanxi.core.models import ChangeAction, ChangeRecord, Tag
from guanxi.customers.demo import Chunk, Row, Table, Tables, next_id, write_chunk
from guanxi.customers.models import Account, LifecycleStage, Person
from guanxi.customers.services import account_search_terms, person_search_terms
from guanxi.staff.models import User


@dataclass
class NewPerson:
    family_name: str
    given_name: str
    full_name: str
    birthday: datetime.date | None = None
    preferred_language: str = ""
    preferred_channel: str = ""
    preferences: str = ""
    buying_motives: str = ""
    source: str = ""
    owner: User | None = None
    lifecycle_stage: str = LifecycleStage.PROSPECT
    attributes: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    emails: list[tuple[str, str]] = field(default_factory=list)  # (address, kind); the first is primary
    phones: list[tuple[str, str]] = field(default_factory=list)  # (E.164 number, kind)
    tags: list[str] = field(default_factory=list)
    roles: list[tuple[int, str, str]] = field(default_factory=list)  # (account id, role kind, job title)


@dataclass
class NewAccount:
    name: str
    kind: str = "customer"
    organisation_type: str = "company"
    industry: str = ""
    market_segment: str = ""
    grade: str = ""
    website: str = ""
    domain: str = ""
    registration_number: str = ""
    phone: str = ""
    status: str = "active"
    source: str = ""
    owner: User | None = None
    lifecycle_stage: str = LifecycleStage.PROSPECT
    attributes: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    tags: list[str] = field(default_factory=list)
    addresses: list[dict[str, str]] = field(default_factory=list)  # Address fields: kind, line1, city, ...


class _HistoryTable:
    def __init__(self, using: str) -> None:
        self.table = Table(ChangeRecord, ("content_type", "object_id", "action", "actor", "at", "changes", "note"),
                           connections[using])  # fmt: skip


def reserve_ids(model: type[Account] | type[Person], count: int, using: str = "default") -> list[int]:
    """`count` fresh primary keys for `model`, safe beside concurrent writers.

    PostgreSQL hands them out from the table's own sequence; SQLite runs write transactions
    IMMEDIATE (one writer at a time), so the next ids after the highest are free until commit.
    """
    if count <= 0:
        return []
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [model._meta.db_table, model._meta.pk.column, count],
            )
            return sorted(int(row[0]) for row in cursor.fetchall())
    if not connection.in_atomic_block:
        raise RuntimeError("reserve_ids must run inside the transaction that writes the rows")
    first = next_id(model, using)
    return list(range(first, first + count))


def tag_ids(names: Iterable[str], using: str = "default") -> dict[str, int]:
    """Tag id by name, creating the missing tags (as `services` does for a tag typed on a form)."""
    wanted = {n for n in names if n}
    if not wanted:
        return {}
    found = dict(Tag.objects.using(using).filter(name__in=wanted).values_list("name", "pk"))
    missing = wanted - set(found)
    if missing:
        Tag.objects.using(using).bulk_create([Tag(name=n) for n in sorted(missing)], ignore_conflicts=True)
        found = dict(Tag.objects.using(using).filter(name__in=wanted).values_list("name", "pk"))
    return found


def _owner_label(owner: User | None) -> str | None:
    return str(owner) if owner is not None else None


def person_snapshot(person: NewPerson) -> dict[str, Any]:
    """The snapshot `services._person_snapshot` takes of the same person once saved."""
    return {
        "family_name": person.family_name,
        "given_name": person.given_name,
        "grade": "",
        "birthday": person.birthday.isoformat() if person.birthday else None,
        "preferred_language": person.preferred_language,
        "preferred_channel": person.preferred_channel,
        "preferences": person.preferences,
        "buying_motives": person.buying_motives,
        "source": person.source,
        "owner": _owner_label(person.owner),
        "notes": person.notes,
        "reclaim_exempt": False,
        "lifecycle_stage": person.lifecycle_stage,
        "attributes": dict(person.attributes),
        "emails": [address for address, _kind in person.emails],
        "phones": [number for number, _kind in person.phones],
        "tags": sorted(set(person.tags)),
    }


def account_snapshot(account: NewAccount) -> dict[str, Any]:
    """The snapshot `services._account_snapshot` takes of the same account once saved."""
    return {
        "name": account.name,
        "kind": account.kind,
        "organisation_type": account.organisation_type,
        "industry": account.industry,
        "market_segment": account.market_segment,
        "grade": account.grade,
        "parent": None,
        "website": account.website,
        "registration_number": account.registration_number,
        "phone": account.phone,
        "status": account.status,
        "source": account.source,
        "owner": _owner_label(account.owner),
        "team": None,
        "notes": account.notes,
        "reclaim_exempt": False,
        "lifecycle_stage": account.lifecycle_stage,
        "attributes": dict(account.attributes),
        "tags": sorted(set(account.tags)),
    }


@transaction.atomic
def create_people(actor: User, people: Sequence[NewPerson], *, note: str = "", using: str = "default") -> list[int]:
    """Insert validated people with all their rows; returns their new ids in input order."""
    if not people:
        return []
    connection = connections[using]
    ops = connection.ops
    tables = Tables(connection)
    history = _HistoryTable(using).table
    ids = reserve_ids(Person, len(people), using)
    tags = tag_ids((t for p in people for t in p.tags), using)
    now = timezone.now()
    now_sql = ops.adapt_datetimefield_value(now)
    actor_id = actor.pk
    empty_json = ops.adapt_json_value({}, None)
    content_type = ContentType.objects.db_manager(using).get_for_model(Person).pk
    reason = note[:255]
    out: dict[Table, list[Row]] = {
        t: []
        for t in (
            tables.person,
            tables.email,
            tables.phone,
            tables.role,
            tables.person_tag,
            tables.lifecycle,
            tables.search_term,
            history,
        )
    }
    for person_id, p in zip(ids, people, strict=True):
        owner_id = p.owner.pk if p.owner is not None else None
        out[tables.person].append(
            (
                person_id,
                p.family_name,
                p.given_name,
                p.full_name,
                ops.adapt_datefield_value(p.birthday),
                p.preferred_language,
                p.preferred_channel,
                p.preferences,
                p.buying_motives,
                owner_id,
                p.source,
                p.lifecycle_stage,
                ops.adapt_json_value(p.attributes, None) if p.attributes else empty_json,
                p.notes,
                now_sql,
                now_sql,
                actor_id,
                *tables.person.defaults,
            )
        )
        for index, (address, kind) in enumerate(p.emails):
            out[tables.email].append((person_id, address, kind or "work", index == 0, *tables.email.defaults))
        for index, (number, kind) in enumerate(p.phones):
            out[tables.phone].append((person_id, number, kind or "mobile", index == 0, *tables.phone.defaults))
        for account_id, kind, job_title in p.roles:
            out[tables.role].append((person_id, account_id, kind, job_title, False, "", now_sql, *tables.role.defaults))
        for tag in sorted({tags[t] for t in p.tags}):
            out[tables.person_tag].append((person_id, tag, *tables.person_tag.defaults))
        out[tables.lifecycle].append(
            (None, person_id, "", p.lifecycle_stage, now_sql, actor_id, reason, *tables.lifecycle.defaults)
        )
        terms = person_search_terms(p.family_name, p.given_name, [a for a, _k in p.emails], [n for n, _k in p.phones])
        out[tables.search_term].extend((term, None, person_id, *tables.search_term.defaults) for term in sorted(terms))
        changes = diff({}, person_snapshot(p))
        out[history].append(
            (
                content_type,
                person_id,
                ChangeAction.CREATE,
                actor_id,
                now_sql,
                ops.adapt_json_value(changes, None),
                reason,
                *history.defaults,
            )
        )
    write_chunk(Chunk("people", len(people), list(out.items())), using)
    return ids


@transaction.atomic
def create_accounts(
    actor: User, accounts: Sequence[NewAccount], *, note: str = "", using: str = "default"
) -> list[int]:
    """Insert validated accounts with all their rows; returns their new ids in input order."""
    if not accounts:
        return []
    connection = connections[using]
    ops = connection.ops
    tables = Tables(connection)
    history = _HistoryTable(using).table
    ids = reserve_ids(Account, len(accounts), using)
    tags = tag_ids((t for a in accounts for t in a.tags), using)
    now_sql = ops.adapt_datetimefield_value(timezone.now())
    actor_id = actor.pk
    empty_json = ops.adapt_json_value({}, None)
    content_type = ContentType.objects.db_manager(using).get_for_model(Account).pk
    reason = note[:255]
    out: dict[Table, list[Row]] = {
        t: []
        for t in (
            tables.account,
            tables.address,
            tables.account_tag,
            tables.lifecycle,
            tables.search_term,
            history,
        )
    }
    for account_id, a in zip(ids, accounts, strict=True):
        out[tables.account].append(
            (
                account_id,
                a.name,
                a.kind,
                a.organisation_type,
                a.industry,
                a.market_segment,
                a.grade,
                None,
                a.website,
                a.domain,
                a.registration_number,
                a.phone,
                a.status,
                None,
                a.owner.pk if a.owner is not None else None,
                a.source,
                a.lifecycle_stage,
                ops.adapt_json_value(a.attributes, None) if a.attributes else empty_json,
                a.notes,
                now_sql,
                now_sql,
                actor_id,
                *tables.account.defaults,
            )
        )
        for address in a.addresses:
            out[tables.address].append(
                (
                    account_id,
                    address.get("kind") or "office",
                    address.get("line1", ""),
                    address.get("line2", ""),
                    address.get("city", ""),
                    address.get("region", ""),
                    address.get("postal_code", ""),
                    address.get("country", ""),
                    *tables.address.defaults,
                )
            )
        for tag in sorted({tags[t] for t in a.tags}):
            out[tables.account_tag].append((account_id, tag, *tables.account_tag.defaults))
        out[tables.lifecycle].append(
            (account_id, None, "", a.lifecycle_stage, now_sql, actor_id, reason, *tables.lifecycle.defaults)
        )
        terms = account_search_terms(a.name, a.domain, a.registration_number, a.phone)
        out[tables.search_term].extend((term, account_id, None, *tables.search_term.defaults) for term in sorted(terms))
        changes = diff({}, account_snapshot(a))
        out[history].append(
            (
                content_type,
                account_id,
                ChangeAction.CREATE,
                actor_id,
                now_sql,
                ops.adapt_json_value(changes, None),
                reason,
                *history.defaults,
            )
        )
    write_chunk(Chunk("accounts", len(accounts), list(out.items())), using)
    return ids
