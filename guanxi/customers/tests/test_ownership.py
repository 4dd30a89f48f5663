"""Ownership facts the shared pool's rules read: since when a record is owned, how many a rep may
hold, when it was last followed up or won, and why a lost customer was lost."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from guanxi.customers import services
from guanxi.customers.models import Account, LifecycleChange, Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.customers.tests.test_api import client_for
from guanxi.staff.models import Team, User


def test_owned_since_follows_the_owner(rep: User, other_rep: User, manager: User) -> None:
    before = timezone.now()
    person = PersonFactory.create(actor=rep, family_name="Li")
    assert person.owned_since is not None
    assert person.owned_since >= before

    services.bulk_release_to_pool(rep, Person, [person.pk])
    released = Person.objects.get(pk=person.pk)
    assert (released.owner_id, released.owned_since) == (None, None)

    services.claim_from_pool(other_rep, Person, [person.pk])
    person.refresh_from_db()
    assert person.owner_id == other_rep.pk
    assert person.owned_since is not None
    claimed_at = person.owned_since

    services.update_person(manager, person, {"owner": rep})
    person.refresh_from_db()
    assert person.owner_id == rep.pk
    assert person.owned_since is not None
    assert person.owned_since > claimed_at

    unchanged_since = person.owned_since
    services.update_person(rep, person, {"given_name": "Lei"})
    person.refresh_from_db()
    assert person.owned_since == unchanged_since


def test_a_rep_holds_at_most_the_teams_limit(team: Team, rep: User, admin_user: User) -> None:
    team.max_customers_per_rep = 2
    team.save()
    pool = [PersonFactory.create(actor=admin_user, family_name=f"P{i}").pk for i in range(3)]
    PersonFactory.create(actor=rep, family_name="Held")

    with pytest.raises(ValidationError) as error:
        services.claim_from_pool(rep, Person, pool[:2])
    assert error.value.message_dict["owner"] == ["rep may hold at most 2 people; they hold 1."]
    assert Person.objects.filter(owner=rep).count() == 1

    assert services.claim_from_pool(rep, Person, pool[:1]) == 1
    with pytest.raises(ValidationError):
        PersonFactory.create(actor=rep, family_name="One too many")
    with pytest.raises(ValidationError):
        services.bulk_assign_owner(admin_user, Person, pool[1:2], rep)
    # The limit counts each record type on its own: accounts are not people.
    assert AccountFactory.create(actor=rep, name="Acme").owner_id == rep.pk


def test_follow_up_and_won_times_only_move_forward(rep: User) -> None:
    person = PersonFactory.create(actor=rep, family_name="Zhao")
    now = timezone.now()
    assert services.record_follow_up(Person, [person.pk], now) == 1
    assert services.record_follow_up(Person, [person.pk], now - timedelta(days=3)) == 0
    assert services.record_won_deal(Person, [person.pk], now - timedelta(days=1)) == 1
    person.refresh_from_db()
    assert (person.last_follow_up_at, person.last_won_at) == (now, now - timedelta(days=1))


def test_lost_customers_keep_why(rep: User) -> None:
    account = AccountFactory.create(actor=rep, name="Gone Ltd")
    services.set_lifecycle_stage(rep, account, "lost", lost_reason="switched_supplier")
    account.refresh_from_db()
    assert (account.lifecycle_stage, account.lost_reason) == ("lost", "switched_supplier")
    change = LifecycleChange.objects.filter(account=account).latest("changed_at")
    assert (change.to_stage, change.reason) == ("lost", "Switched supplier")

    with pytest.raises(ValidationError) as error:
        services.set_lifecycle_stage(rep, account, "active", lost_reason="price")
    assert error.value.message_dict == {"lost_reason": ["Only a lost customer has a lost reason."]}

    services.set_lifecycle_stage(rep, account, "won_back")
    account.refresh_from_db()
    assert (account.lifecycle_stage, account.lost_reason) == ("won_back", "")
    assert Account.objects.filter(lost_reason="switched_supplier").count() == 0


def test_api_asks_why_a_customer_was_lost(rep: User) -> None:
    person = PersonFactory.create(actor=rep, family_name="Wu")
    client = client_for(rep)
    response = client.post(f"/api/people/{person.pk}/stage/", {"stage": "lost"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "lost_reason", "reason": "Required when the stage is lost: say why."}
    ]
    response = client.post(
        f"/api/people/{person.pk}/stage/", {"stage": "lost", "lost_reason": "moved_away"}, format="json"
    )
    assert response.status_code == 200
    person.refresh_from_db()
    assert person.lost_reason == "moved_away"


def test_only_managers_and_admins_lock_customers(rep: User, manager: User) -> None:
    person = PersonFactory.create(actor=rep, family_name="Sun", grade="A")
    assert person.grade == "A"
    with pytest.raises(ValidationError) as error:
        services.update_person(rep, person, {"reclaim_exempt": True})
    assert error.value.message_dict == {
        "reclaim_exempt": ["Only a sales manager or an admin may lock or unlock a customer."]
    }
    services.update_person(manager, person, {"reclaim_exempt": True})
    person.refresh_from_db()
    assert person.reclaim_exempt is True
    with pytest.raises(ValidationError):
        AccountFactory.create(actor=rep, name="Locked Ltd", reclaim_exempt=True)
