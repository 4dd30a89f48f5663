import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from guanxi.core.history import history_for
from guanxi.core.models import AttributeDefinition, ChangeRecord, Tag
from guanxi.customers import queries, services
from guanxi.customers.models import (
    Account,
    ConsentRecord,
    EmailAddress,
    LifecycleChange,
    Person,
    PhoneNumber,
    RelationshipKind,
    Role,
    SearchTerm,
)
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


def test_person_names_follow_their_script(rep: User) -> None:
    chinese = services.create_person(rep, {"family_name": "欧阳", "given_name": "娜娜"})
    western = services.create_person(rep, {"family_name": "Smith", "given_name": "Anna"})
    assert chinese.full_name == "欧阳娜娜"
    assert western.full_name == "Anna Smith"


def test_contacts_are_normalised_and_first_is_primary(rep: User) -> None:
    person = services.create_person(
        rep,
        {"family_name": "王", "given_name": "芳"},
        emails=["  Wang.Fang@Example.COM ", "wang.fang@example.com", "fang@home.cn"],
        phones=["138 1234 5678", {"number": "+44 20 7946 0958", "kind": "work"}],
    )
    assert [(e.address, e.is_primary) for e in person.emails.all()] == [
        ("wang.fang@example.com", True),
        ("fang@home.cn", False),
    ]
    assert [(p.number, p.kind) for p in person.phones.all()] == [
        ("+8613812345678", "mobile"),
        ("+442079460958", "work"),
    ]


def test_bad_contacts_name_each_field_and_write_nothing(rep: User) -> None:
    with pytest.raises(ValidationError) as caught:
        services.create_person(
            rep, {"family_name": "", "given_name": ""}, emails=["ok@example.com", "not-an-email"], phones=["12"]
        )
    errors = caught.value.message_dict
    assert set(errors) == {"family_name", "emails.1", "phones.0"}
    assert "not-an-email" in errors["emails.1"][0]
    assert Person.objects.count() == 0
    assert EmailAddress.objects.count() == 0
    assert ChangeRecord.objects.count() == 0


def test_update_keeps_field_level_history(rep: User) -> None:
    person = PersonFactory.create(actor=rep, family_name="Li", given_name="Na", emails=["li@example.com"])
    services.update_person(rep, person, {"given_name": "Nana"}, emails=["nana@example.com"], tags=["vip"])
    update, create = list(history_for(person))
    assert create.action == "create"
    assert update.action == "update"
    assert update.actor == rep
    assert update.changes == {
        "emails": [["li@example.com"], ["nana@example.com"]],
        "given_name": ["Na", "Nana"],
        "tags": [[], ["vip"]],
    }


def test_update_that_changes_nothing_leaves_no_history(rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    services.update_person(rep, person, {"given_name": person.given_name})
    assert history_for(person).count() == 1


def test_rep_cannot_edit_someone_elses_person(rep: User, other_rep: User) -> None:
    person = PersonFactory.create(actor=other_rep)
    with pytest.raises(PermissionDenied):
        services.update_person(rep, person, {"given_name": "X"})
    person.refresh_from_db()
    assert person.given_name == "Alex"


def test_visibility_rep_manager_admin(
    rep: User, other_rep: User, manager: User, outside_rep: User, admin_user: User
) -> None:
    mine = PersonFactory.create(actor=rep)
    teammate = PersonFactory.create(actor=other_rep)
    outsider = PersonFactory.create(actor=outside_rep)
    pool = PersonFactory.create(actor=admin_user)  # admins create without owner: the shared pool
    assert pool.owner is None
    assert set(queries.visible_people(rep)) == {mine, pool}
    assert set(queries.visible_people(manager)) == {mine, teammate, pool}
    assert set(queries.visible_people(admin_user)) == {mine, teammate, outsider, pool}
    assert set(queries.editable_people(rep)) == {mine}


def test_claim_from_pool_takes_only_unowned_records(rep: User, other_rep: User, admin_user: User) -> None:
    pool = PersonFactory.create(actor=admin_user)
    owned = PersonFactory.create(actor=other_rep)
    assert services.claim_from_pool(rep, Person, [pool.pk, owned.pk]) == 1
    assert services.claim_from_pool(other_rep, Person, [pool.pk]) == 0
    pool.refresh_from_db()
    owned.refresh_from_db()
    assert pool.owner == rep
    assert owned.owner == other_rep
    assert history_for(pool).first().changes == {"owner": [None, str(rep)]}  # type: ignore[union-attr]


def test_bulk_assign_respects_edit_rights_and_assignee(
    rep: User, other_rep: User, manager: User, outside_rep: User
) -> None:
    mine = PersonFactory.create(actor=rep)
    theirs = PersonFactory.create(actor=other_rep)
    assert services.bulk_assign_owner(manager, Person, [mine.pk, theirs.pk], other_rep) == 1
    with pytest.raises(ValidationError):
        services.bulk_assign_owner(manager, Person, [mine.pk], outside_rep)
    # A rep changes only their own records, whatever ids they send.
    assert services.bulk_release_to_pool(rep, Person, [theirs.pk, mine.pk]) == 0
    mine.refresh_from_db()
    assert mine.owner == other_rep


def test_bulk_tag_and_stage(rep: User) -> None:
    people = [PersonFactory.create(actor=rep) for _ in range(3)]
    ids = [p.pk for p in people]
    assert services.bulk_add_tag(rep, Person, ids, "trade-show") == 3
    assert services.bulk_add_tag(rep, Person, ids, "trade-show") == 0
    assert Person.objects.filter(tags__name="trade-show").count() == 3
    assert services.bulk_remove_tag(rep, Person, ids[:1], "trade-show") == 1
    assert services.bulk_set_stage(rep, Person, ids, "active", reason="first order") == 3
    assert LifecycleChange.objects.filter(to_stage="active", from_stage="prospect", reason="first order").count() == 3


def test_lifecycle_stage_keeps_its_history(rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    services.set_lifecycle_stage(rep, person, "new")
    services.set_lifecycle_stage(rep, person, "active", reason="second order")
    moves = [(c.from_stage, c.to_stage) for c in person.lifecycle_changes.order_by("id")]
    assert moves == [("", "prospect"), ("prospect", "new"), ("new", "active")]
    with pytest.raises(ValidationError):
        services.set_lifecycle_stage(rep, person, "sleeping")


def test_consent_is_append_only_and_latest_wins(rep: User) -> None:
    person = PersonFactory.create(actor=rep)
    first = services.record_consent(
        rep, person, purpose="marketing", channel="email", granted=True, source="signup form", wording="Send me news"
    )
    services.record_consent(
        None, person, purpose="marketing", channel="email", granted=False, source="unsubscribe link", wording="Stop"
    )
    assert not queries.has_consent(person, "marketing", "email")
    assert ConsentRecord.objects.filter(person=person).count() == 2
    first.granted = False
    with pytest.raises(ValueError, match="append-only"):
        first.save()
    with pytest.raises(ValueError, match="append-only"):
        first.delete()
    with pytest.raises(ValidationError) as caught:
        services.record_consent(rep, person, purpose="spam", channel="fax", granted=True, source="", wording="")
    assert set(caught.value.message_dict) == {"purpose", "channel", "source", "wording"}


def test_roles_tell_buyer_and_user_apart(rep: User) -> None:
    fleet = AccountFactory.create(actor=rep, name="Swift Logistics")
    owner = PersonFactory.create(actor=rep)
    driver = PersonFactory.create(actor=rep)
    services.add_role(rep, owner, fleet, "purchaser", is_primary_contact=True)
    services.add_role(rep, driver, fleet, "user", job_title="Driver")
    with pytest.raises(ValidationError):
        services.add_role(rep, driver, fleet, "user")
    assert {(r.person, r.kind) for r in Role.objects.filter(account=fleet)} == {(owner, "purchaser"), (driver, "user")}
    primary = services.add_role(rep, driver, fleet, "technical", is_primary_contact=True)
    assert list(Role.objects.filter(account=fleet, is_primary_contact=True)) == [primary]


def test_referral_chain_is_followed_and_stops_at_loops(rep: User) -> None:
    a, b, c = (PersonFactory.create(actor=rep) for _ in range(3))
    services.add_relationship(rep, a, RelationshipKind.REFERRED_BY, b)
    services.add_relationship(rep, b, RelationshipKind.REFERRED_BY, c)
    services.add_relationship(rep, c, RelationshipKind.REFERRED_BY, a)
    assert queries.referral_chain(a) == [b, c]
    with pytest.raises(ValidationError):
        services.add_relationship(rep, a, RelationshipKind.REFERRED_BY, a)
    with pytest.raises(ValidationError):
        services.add_relationship(rep, a, RelationshipKind.REFERRED_BY, b)


def test_account_tree_refuses_loops(rep: User) -> None:
    group = AccountFactory.create(actor=rep, name="Group")
    child = AccountFactory.create(actor=rep, name="Child", parent=group)
    grandchild = AccountFactory.create(actor=rep, name="Grandchild", parent=child)
    assert queries.account_descendants(group) == [child, grandchild]
    assert queries.account_ancestors(grandchild) == [group, child]
    with pytest.raises(ValidationError) as caught:
        services.update_account(rep, group, {"parent": grandchild})
    assert "parent" in caught.value.message_dict
    group.refresh_from_db()
    assert group.parent is None


def test_custom_attributes_are_typed(admin_user: User, rep: User) -> None:
    services.create_attribute_definition(
        admin_user, {"target": "person", "key": "shoe_size", "label": "Shoe size", "data_type": "number"}
    )
    services.create_attribute_definition(
        admin_user,
        {
            "target": "person",
            "key": "channel_pref",
            "label": "Pref",
            "data_type": "choice",
            "choices": ["store", "online"],
        },
    )
    person = PersonFactory.create(actor=rep, attributes={"shoe_size": "42", "channel_pref": "online"})
    assert person.attributes == {"shoe_size": 42, "channel_pref": "online"}
    with pytest.raises(ValidationError) as caught:
        services.update_person(rep, person, {}, attributes={"shoe_size": "big", "channel_pref": "fax", "nope": 1})
    assert set(caught.value.message_dict) == {"attributes.shoe_size", "attributes.channel_pref", "attributes.nope"}
    person.refresh_from_db()
    assert person.attributes == {"shoe_size": 42, "channel_pref": "online"}
    with pytest.raises(PermissionDenied):
        services.create_attribute_definition(rep, {"target": "person", "key": "x", "label": "X", "data_type": "text"})
    assert AttributeDefinition.objects.count() == 2


def test_search_finds_chinese_name_phone_suffix_and_email_part(rep: User) -> None:
    target = PersonFactory.create(
        actor=rep, family_name="诸葛", given_name="明亮", emails=["kongming.zhuge@shu.example"], phones=["13912345678"]
    )
    PersonFactory.create(
        actor=rep, family_name="诸", given_name="明", emails=["other@example.com"], phones=["13800000000"]
    )
    people = queries.visible_people(rep)
    for query in (
        "诸葛",
        "葛亮",
        "诸亮",
        "5678",
        "139123",
        "+86 139",
        "kongming",
        "zhuge",
        "shu.example",
        "kongming.zhuge@",
    ):
        assert list(queries.search_people(people, query)) == [target], query
    assert set(queries.search_people(people, "诸明")) == {target, Person.objects.get(full_name="诸明")}
    assert list(queries.search_people(people, "诸葛 5678")) == [target]
    assert list(queries.search_people(people, "诸葛 0000")) == []


def test_search_keys_follow_edits(rep: User) -> None:
    person = PersonFactory.create(actor=rep, family_name="Chen", given_name="Yu", phones=["13911112222"])
    services.update_person(rep, person, {"family_name": "Zhou"}, phones=["13933334444"])
    people = queries.visible_people(rep)
    assert list(queries.search_people(people, "zhou")) == [person]
    assert list(queries.search_people(people, "chen")) == []
    assert list(queries.search_people(people, "2222")) == []
    assert list(queries.search_people(people, "4444")) == [person]
    services.delete_person(rep, person)
    assert SearchTerm.objects.count() == 0


def test_accounts_search_by_name_domain_and_phone(rep: User) -> None:
    account = AccountFactory.create(
        actor=rep, name="上海明远科技有限公司", website="https://www.mingyuan.example/", phone="021 6123 4567"
    )
    accounts = queries.visible_accounts(rep)
    assert account.domain == "mingyuan.example"
    for query in ("明远", "mingyuan", "4567"):
        assert list(queries.search_accounts(accounts, query)) == [account], query


def test_tags_are_shared_across_record_types(rep: User) -> None:
    account = AccountFactory.create(actor=rep, tags=["vip"])
    person = PersonFactory.create(actor=rep, tags=["vip"])
    tag = Tag.objects.get(name="vip")
    assert list(tag.accounts.all()) == [account]
    assert list(tag.people.all()) == [person]


def test_phone_numbers_are_e164(rep: User) -> None:
    PersonFactory.create(actor=rep, phones=["(021) 6123-4567"])
    assert PhoneNumber.objects.get().number == "+862161234567"
    assert Account.objects.count() == 0


def test_manager_bulk_actions_lock_only_the_records(manager: User, rep: User, other_rep: User) -> None:
    """A manager's visibility filter joins the owner's team; row locks must still apply (PostgreSQL)."""
    people = [PersonFactory.create(actor=rep), PersonFactory.create(actor=other_rep)]
    ids = [p.pk for p in people]
    assert services.bulk_set_stage(manager, Person, ids, "active") == 2
    assert services.bulk_release_to_pool(manager, Person, ids) == 2
    assert services.bulk_assign_owner(manager, Person, ids, rep) == 2
    services.set_lifecycle_stage(manager, people[1], "loyal")
    assert Person.objects.filter(owner=rep, lifecycle_stage="active").count() == 1


@pytest.mark.parametrize("role", ["service_agent", "marketer", "analyst"])
def test_read_all_roles_see_every_record_but_change_only_their_own(role: str, rep: User, outside_rep: User) -> None:
    from guanxi.staff.tests.factories import UserFactory

    reader = UserFactory.create(role=role)
    theirs = PersonFactory.create(actor=rep)
    elsewhere = PersonFactory.create(actor=outside_rep)
    own = PersonFactory.create(actor=reader)
    assert set(queries.visible_people(reader)) == {theirs, elsewhere, own}
    assert set(queries.editable_people(reader)) == {own}
    with pytest.raises(PermissionDenied):
        services.update_person(reader, theirs, {"given_name": "Changed"})
    with pytest.raises(PermissionDenied):
        services.claim_from_pool(reader, Person, [theirs.pk])


def test_manager_sees_accounts_assigned_to_their_team(manager: User, team: object, outside_rep: User) -> None:
    account = AccountFactory.create(actor=outside_rep, name="Team account")
    assert list(queries.visible_accounts(manager)) == []
    services.update_account(outside_rep, account, {"team": team})
    assert list(queries.visible_accounts(manager)) == [account]
    assert list(queries.editable_accounts(manager)) == [account]
