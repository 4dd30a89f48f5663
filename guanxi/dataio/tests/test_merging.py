"""Merging people and accounts, undoing merges, and dismissing pairs (the service)."""

import datetime
from typing import Any
from unittest import mock

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from guanxi.core.models import ChangeRecord
from guanxi.customers import queries, services
from guanxi.customers.models import (
    Account,
    ConsentRecord,
    EmailAddress,
    LifecycleChange,
    Person,
    PhoneNumber,
    Relationship,
    Role,
    SearchTerm,
)
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.dataio.models import DismissedPair, DuplicateCandidate, MergeRecord
from guanxi.dataio.services import merging
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _person_rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a person merge touches, as plain tuples (ids included)."""
    through = Person.tags.through
    person_ct = ContentType.objects.get_for_model(Person)
    return {
        "people": sorted(
            Person.objects.values_list(
                "pk", "family_name", "given_name", "full_name", "birthday", "owner_id", "notes", "attributes"
            )
        ),
        "emails": sorted(EmailAddress.objects.values_list("pk", "person_id", "address", "kind", "is_primary")),
        "phones": sorted(PhoneNumber.objects.values_list("pk", "person_id", "number", "kind", "is_primary")),
        "roles": sorted(Role.objects.values_list("pk", "person_id", "account_id", "kind", "job_title")),
        "relationships": sorted(
            Relationship.objects.values_list("pk", "kind", "from_person_id", "to_person_id", "to_account_id")
        ),
        "consents": sorted(ConsentRecord.objects.values_list("pk", "person_id", "purpose", "channel", "granted")),
        "stages": sorted(LifecycleChange.objects.values_list("pk", "person_id", "account_id", "to_stage")),
        "tags": sorted(through.objects.values_list("pk", "person_id", "tag_id")),
        "history": sorted(ChangeRecord.objects.filter(content_type=person_ct).values_list("pk", "object_id", "action")),
        "search": sorted(SearchTerm.objects.filter(person__isnull=False).values_list("person_id", "term")),
    }


@pytest.fixture
def pair(admin_user: User) -> dict[str, Any]:
    """Li Na entered twice, with overlapping and separate details, links and history."""
    acme = AccountFactory.create(name="Acme Ltd", actor=admin_user)
    globex = AccountFactory.create(name="Globex Ltd", actor=admin_user)
    referrer = PersonFactory.create(family_name="王", given_name="芳", actor=admin_user)
    survivor = PersonFactory.create(
        family_name="李",
        given_name="娜",
        emails=["li.na@acme.example"],
        phones=["+8613812345678"],
        tags=["VIP"],
        birthday=datetime.date(1990, 5, 1),
        attributes={},
        actor=admin_user,
    )
    merged = PersonFactory.create(
        family_name="Li",
        given_name="Na",
        emails=["lina@qq.example", "li.na@acme.example"],
        phones=["+8613900001111"],
        tags=["VIP", "Newsletter"],
        notes="met at the trade show",
        actor=admin_user,
    )
    services.add_role(admin_user, survivor, acme, "purchaser")
    services.add_role(admin_user, merged, acme, "purchaser")  # the same role twice
    services.add_role(admin_user, merged, globex, "finance")
    services.add_relationship(admin_user, merged, "referred_by", referrer)
    services.add_relationship(admin_user, survivor, "family", merged)  # a link between the two
    services.record_consent(
        admin_user, merged, purpose="marketing", channel="email", granted=True, source="signup", wording="ok"
    )
    services.update_person(admin_user, merged, {"notes": "met at the trade show in Shanghai"})
    return {"survivor": survivor, "merged": merged, "acme": acme, "globex": globex, "referrer": referrer}


def test_merge_moves_every_related_row_and_drops_clashes(admin_user: User, pair: dict[str, Any]) -> None:
    survivor, merged = pair["survivor"], pair["merged"]
    merged_id = merged.pk
    merged_email = EmailAddress.objects.get(person=merged, address="lina@qq.example")
    shared_email = EmailAddress.objects.get(person=merged, address="li.na@acme.example")
    merged_history = list(
        ChangeRecord.objects.filter(
            content_type=ContentType.objects.get_for_model(Person), object_id=merged_id
        ).values_list("pk", flat=True)
    )
    assert len(merged_history) == 6  # created, two roles, a relationship, consent, the new note
    record = merging.merge_people(admin_user, survivor, merged, ["notes"])

    assert not Person.objects.filter(pk=merged_id).exists()
    survivor.refresh_from_db()
    assert survivor.notes == "met at the trade show in Shanghai"
    assert survivor.full_name == "李娜"
    assert sorted(survivor.emails.values_list("address", "is_primary")) == [
        ("li.na@acme.example", True),
        ("lina@qq.example", False),
    ]
    assert sorted(survivor.phones.values_list("number", "is_primary")) == [
        ("+8613812345678", True),
        ("+8613900001111", False),
    ]
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["Newsletter", "VIP"]
    assert sorted(survivor.roles.values_list("account__name", "kind")) == [
        ("Acme Ltd", "purchaser"),
        ("Globex Ltd", "finance"),
    ]
    assert list(Relationship.objects.values_list("kind", "from_person_id", "to_person_id")) == [
        ("referred_by", survivor.pk, pair["referrer"].pk)
    ]
    assert list(ConsentRecord.objects.filter(person=survivor).values_list("channel", "granted")) == [("email", True)]
    assert sorted(LifecycleChange.objects.filter(person=survivor).values_list("to_stage", flat=True)) == [
        "prospect",
        "prospect",
    ]
    history = ChangeRecord.objects.filter(content_type=ContentType.objects.get_for_model(Person), object_id=survivor.pk)
    assert set(merged_history) <= set(history.values_list("pk", flat=True))
    entry = history.order_by("-pk").first()
    assert entry is not None
    assert entry.note == "merge"
    assert entry.changes["merged"] == [None, f"Na Li (#{merged_id})"]
    assert entry.changes["notes"] == ["", "met at the trade show in Shanghai"]
    assert entry.changes["emails"] == [
        ["li.na@acme.example"],
        ["li.na@acme.example", "lina@qq.example"],
    ]
    # Search keys: the survivor is found by the merged record's e-mail.
    assert survivor in queries.search_people(Person.objects.all(), "lina@qq")
    # The record of the merge.
    assert (record.target, record.survivor_id, record.merged_id, record.merged_label) == (
        "person",
        survivor.pk,
        merged_id,
        "Na Li",
    )
    assert record.merged_by == admin_user
    assert record.survivor_before == {"notes": ""}
    assert ["customers.emailaddress", merged_email.pk, "person"] in record.moved
    assert ["customers.emailaddress", shared_email.pk, "person"] not in record.moved
    stored = {(row["model"], row["pk"]) for row in record.merged_snapshot}
    assert ("customers.person", merged_id) in stored
    assert ("customers.emailaddress", shared_email.pk) in stored  # dropped: the survivor has it
    assert sum(1 for row in record.merged_snapshot if row["model"] == "customers.role") == 1
    assert sum(1 for row in record.merged_snapshot if row["model"] == "customers.relationship") == 1
    assert sum(1 for row in record.merged_snapshot if row["model"] == "customers.person_tags") == 1


def test_undo_restores_ids_rows_and_fields_exactly(admin_user: User, pair: dict[str, Any]) -> None:
    survivor, merged = pair["survivor"], pair["merged"]
    before = _person_rows()
    record = merging.merge_people(admin_user, survivor, merged, ["notes", "family_name", "given_name"])
    survivor.refresh_from_db()
    assert survivor.full_name == "Na Li"
    report = merging.undo_merge(admin_user, record)
    after = _person_rows()
    new_history = set(after["history"]) - set(before["history"])
    assert sorted((object_id, action) for _pk, object_id, action in new_history) == sorted(
        [(survivor.pk, "update"), (survivor.pk, "update"), (merged.pk, "update")]
    )
    after["history"] = [row for row in after["history"] if row not in new_history]
    assert after == before
    assert report.fields_kept == []
    assert report.not_moved_back == 0
    record.refresh_from_db()
    assert record.undone_by == admin_user
    assert record.undone_at is not None
    with pytest.raises(ValidationError):
        merging.undo_merge(admin_user, record)


def test_undo_keeps_fields_edited_since_the_merge(admin_user: User, pair: dict[str, Any]) -> None:
    survivor, merged = pair["survivor"], pair["merged"]
    record = merging.merge_people(admin_user, survivor, merged, ["notes", "given_name"])
    survivor.refresh_from_db()
    services.update_person(admin_user, survivor, {"notes": "called again"})
    report = merging.undo_merge(admin_user, record)
    survivor.refresh_from_db()
    assert report.fields_kept == ["notes"]
    assert (survivor.notes, survivor.given_name) == ("called again", "娜")


def test_merge_takes_chosen_custom_attributes_and_undo_puts_them_back(admin_user: User) -> None:
    from guanxi.core.models import AttributeDefinition

    AttributeDefinition.objects.create(target="person", key="wechat_id", label="WeChat", data_type="text")
    AttributeDefinition.objects.create(target="person", key="size", label="Size", data_type="text")
    survivor = PersonFactory.create(attributes={"wechat_id": "old"}, actor=admin_user)
    merged = PersonFactory.create(attributes={"wechat_id": "new", "size": "L"}, actor=admin_user)
    record = merging.merge_people(admin_user, survivor, merged, ["attributes.wechat_id", "attributes.size"])
    survivor.refresh_from_db()
    assert survivor.attributes == {"wechat_id": "new", "size": "L"}
    assert record.survivor_before == {"attributes.wechat_id": ["old"], "attributes.size": []}
    merging.undo_merge(admin_user, record)
    survivor.refresh_from_db()
    assert survivor.attributes == {"wechat_id": "old"}
    assert Person.objects.get(pk=merged.pk).attributes == {"wechat_id": "new", "size": "L"}


def test_a_rep_cannot_merge_someone_elses_record(rep: User, other_rep: User) -> None:
    mine = PersonFactory.create(owner=rep, actor=rep)
    theirs = PersonFactory.create(owner=other_rep, actor=other_rep)
    pool = PersonFactory.create(owner=None, actor=UserFactory.create(role=StaffRole.ADMIN))
    for merged in (theirs, pool):
        with pytest.raises(PermissionDenied):
            merging.merge_people(rep, mine, merged)
        with pytest.raises(PermissionDenied):
            merging.merge_people(rep, merged, mine)
    assert Person.objects.count() == 3
    assert MergeRecord.objects.count() == 0


def test_a_rep_merges_and_undoes_their_own_records(rep: User, other_rep: User) -> None:
    first = PersonFactory.create(family_name="Smith", given_name="Jon", owner=rep, actor=rep)
    second = PersonFactory.create(family_name="Smith", given_name="John", owner=rep, actor=rep)
    record = merging.merge_people(rep, first, second, ["given_name"])
    assert Person.objects.get(pk=first.pk).full_name == "John Smith"
    assert not merging.can_undo(other_rep, record)
    with pytest.raises(PermissionDenied):
        merging.undo_merge(other_rep, record)
    assert merging.can_undo(rep, record)
    merging.undo_merge(rep, record)
    assert sorted(Person.objects.values_list("full_name", flat=True)) == ["John Smith", "Jon Smith"]


def test_a_failure_mid_merge_leaves_both_records_as_they_were(admin_user: User, pair: dict[str, Any]) -> None:
    before = _person_rows()
    with (
        mock.patch.object(merging, "_reindex", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        merging.merge_people(admin_user, pair["survivor"], pair["merged"], ["notes"])
    assert _person_rows() == before
    assert MergeRecord.objects.count() == 0


def test_unknown_fields_and_self_merge_are_refused(admin_user: User, pair: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as error:
        merging.merge_people(admin_user, pair["survivor"], pair["merged"], ["password"])
    assert error.value.message_dict == {"fields": ["Unknown field: password"]}
    with pytest.raises(ValidationError):
        merging.merge_people(admin_user, pair["survivor"], pair["survivor"])


def test_merge_accounts_moves_people_addresses_children_and_relationships(admin_user: User) -> None:
    survivor = AccountFactory.create(
        name="Northwind Systems Ltd", website="https://northwind.example", actor=admin_user, tags=["VIP"]
    )
    merged = AccountFactory.create(
        name="Northwind Systems",
        website="https://www.northwind.example/about",
        registration_number="12345678",
        addresses=[{"line1": "1 High Street", "city": "London", "country": "GB"}],
        tags=["VIP", "Wholesale"],
        actor=admin_user,
    )
    branch = AccountFactory.create(name="Northwind (Leeds)", parent=merged, actor=admin_user)
    supplier = AccountFactory.create(name="Supplier Co", actor=admin_user)
    services.add_relationship(admin_user, supplier, "supplies", merged)
    person = PersonFactory.create(actor=admin_user)
    services.add_role(admin_user, person, merged, "purchaser")
    services.add_role(admin_user, person, survivor, "purchaser")
    record = merging.merge_accounts(admin_user, survivor, merged, ["registration_number"])
    survivor.refresh_from_db()
    assert survivor.registration_number == "12345678"
    assert list(survivor.addresses.values_list("line1", flat=True)) == ["1 High Street"]
    assert Account.objects.get(pk=branch.pk).parent_id == survivor.pk
    assert list(Relationship.objects.values_list("from_account_id", "to_account_id")) == [(supplier.pk, survivor.pk)]
    assert list(Role.objects.values_list("person_id", "account_id")) == [(person.pk, survivor.pk)]
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["VIP", "Wholesale"]
    merging.undo_merge(admin_user, record)
    assert Account.objects.get(pk=branch.pk).parent_id == merged.pk
    assert sorted(Role.objects.values_list("account_id", flat=True)) == sorted([survivor.pk, merged.pk])
    assert Account.objects.get(pk=merged.pk).addresses.count() == 1
    assert Account.objects.get(pk=survivor.pk).registration_number == ""


def test_an_account_is_not_merged_into_its_own_branch(admin_user: User) -> None:
    parent = AccountFactory.create(name="Group", actor=admin_user)
    branch = AccountFactory.create(name="Group (Leeds)", parent=parent, actor=admin_user)
    with pytest.raises(ValidationError):
        merging.merge_accounts(admin_user, branch, parent)
    merging.merge_accounts(admin_user, parent, branch)
    assert list(Account.objects.values_list("name", flat=True)) == ["Group"]


def test_undo_needs_the_survivor_and_a_later_merge_undone_first(admin_user: User) -> None:
    a, b, c = (PersonFactory.create(actor=admin_user) for _ in range(3))
    first = merging.merge_people(admin_user, a, b)
    second = merging.merge_people(admin_user, c, a)
    with pytest.raises(ValidationError):
        merging.undo_merge(admin_user, first)
    merging.undo_merge(admin_user, second)
    merging.undo_merge(admin_user, first)
    assert Person.objects.count() == 3


def test_dismiss_pair_orders_ids_and_needs_both_visible(rep: User, other_rep: User) -> None:
    a = PersonFactory.create(owner=rep, actor=rep)
    b = PersonFactory.create(owner=rep, actor=rep)
    hidden = PersonFactory.create(owner=other_rep, actor=other_rep)
    pair = merging.dismiss_pair(rep, "person", b.pk, a.pk)
    assert (pair.low_id, pair.high_id, pair.target, pair.dismissed_by) == (a.pk, b.pk, "person", rep)
    assert merging.dismiss_pair(rep, "person", a.pk, b.pk) == pair
    with pytest.raises(PermissionDenied):
        merging.dismiss_pair(rep, "person", a.pk, hidden.pk)
    assert DismissedPair.objects.count() == 1


def test_merge_and_dismissal_take_their_pairs_off_the_list(admin_user: User) -> None:
    a, b, c, d = (PersonFactory.create(actor=admin_user).pk for _ in range(4))
    now = timezone.now()
    DuplicateCandidate.objects.bulk_create(
        DuplicateCandidate(target=target, low_id=low, high_id=high, score=80, found_at=now)
        for target, low, high in [
            ("person", a, b),
            ("person", b, c),
            ("person", c, d),
            ("person", a, d),
            ("account", a, b),  # an account pair with the same ids is another pair
        ]
    )
    merging.merge(admin_user, "person", a, b)  # b is gone: its pairs with a and with c go
    assert set(DuplicateCandidate.objects.values_list("target", "low_id", "high_id")) == {
        ("person", c, d),
        ("person", a, d),
        ("account", a, b),
    }
    merging.dismiss_pair(admin_user, "person", d, c)
    assert set(DuplicateCandidate.objects.values_list("target", "low_id", "high_id")) == {
        ("person", a, d),
        ("account", a, b),
    }


def test_a_failed_merge_keeps_its_pairs(admin_user: User) -> None:
    a, b = (PersonFactory.create(actor=admin_user).pk for _ in range(2))
    DuplicateCandidate.objects.create(target="person", low_id=a, high_id=b, score=80, found_at=timezone.now())
    with pytest.raises(ValidationError):
        merging.merge(admin_user, "person", a, b, ["password"])
    assert DuplicateCandidate.objects.count() == 1


def test_preview_lists_what_moves(admin_user: User, pair: dict[str, Any]) -> None:
    with translation.override("en"):
        rows = merging.merge_preview(pair["survivor"], pair["merged"])
    preview = {name: (moved, dropped) for name, moved, dropped in rows}
    assert preview["roles"] == (1, 1)
    assert preview["tags"] == (1, 1)
    assert preview["history entries"] == (6, 0)
