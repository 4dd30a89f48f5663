"""The shared pool's reclaim rules: exactly the neglected rows move, each with a history row."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from guanxi.core.models import ChangeRecord
from guanxi.customers import pool
from guanxi.customers.models import Account, Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import Team, User

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.get_fixed_timezone(0))


def _aged(record: Account | Person, **days_ago: int | None) -> None:
    """Set created_at / owned_since / last_follow_up_at / last_won_at to that many days before NOW."""
    values: dict[str, Any] = {"created_at": NOW - timedelta(days=400)}
    for name, days in days_ago.items():
        values[name] = None if days is None else NOW - timedelta(days=days)
    type(record).objects.filter(pk=record.pk).update(**values)


@pytest.fixture
def rules(team: Team) -> Team:
    Team.objects.filter(pk=team.pk).update(
        reclaim_after_days_without_follow_up=30, reclaim_after_days_without_win=90, reclaim_warning_days=3
    )
    team.refresh_from_db()
    return team


def _history(record: Account | Person) -> list[tuple[str, dict[str, Any], str, int | None]]:
    rows = ChangeRecord.objects.filter(
        content_type=ContentType.objects.get_for_model(record), object_id=record.pk, note__startswith="reclaimed"
    )
    return [(r.action, r.changes, r.note, r.actor_id) for r in rows]


def test_reclaim_moves_exactly_the_neglected_customers(rules: Team, rep: User, outside_rep: User) -> None:
    no_follow_up = PersonFactory.create(actor=rep, owner=rep)
    _aged(no_follow_up, owned_since=40, last_follow_up_at=35, last_won_at=10)
    never_contacted = PersonFactory.create(actor=rep, owner=rep)
    _aged(never_contacted, owned_since=31, last_follow_up_at=None, last_won_at=None)
    no_win = PersonFactory.create(actor=rep, owner=rep)
    _aged(no_win, owned_since=100, last_follow_up_at=1, last_won_at=None)
    fresh = PersonFactory.create(actor=rep, owner=rep)
    _aged(fresh, owned_since=40, last_follow_up_at=5, last_won_at=20)
    recently_claimed = PersonFactory.create(actor=rep, owner=rep)
    _aged(recently_claimed, owned_since=2, last_follow_up_at=None, last_won_at=None)
    locked = PersonFactory.create(actor=rep, owner=rep)
    Person.objects.filter(pk=locked.pk).update(reclaim_exempt=True)
    _aged(locked, owned_since=200, last_follow_up_at=None)
    outside = PersonFactory.create(actor=outside_rep, owner=outside_rep)
    _aged(outside, owned_since=200, last_follow_up_at=None)
    account = AccountFactory.create(actor=rep, owner=rep)
    _aged(account, owned_since=50, last_follow_up_at=45, last_won_at=None)

    result = pool.reclaim_neglected(NOW)

    assert (result.accounts, result.people, result.by_rule) == (1, 3, {"follow_up": 3, "win": 1})
    moved = set(Person.objects.filter(owner__isnull=True).values_list("pk", flat=True))
    assert moved == {no_follow_up.pk, never_contacted.pk, no_win.pk}
    assert Account.objects.get(pk=account.pk).owner_id is None
    assert Person.objects.get(pk=no_follow_up.pk).owned_since is None
    assert _history(no_follow_up) == [
        ("update", {"owner": ["rep", None]}, "reclaimed to the shared pool: no follow-up in 30 days", None)
    ]
    assert _history(no_win) == [
        ("update", {"owner": ["rep", None]}, "reclaimed to the shared pool: no deal won in 90 days", None)
    ]
    assert _history(account) == [
        ("update", {"owner": ["rep", None]}, "reclaimed to the shared pool: no follow-up in 30 days", None)
    ]
    for kept in (fresh, recently_claimed, locked, outside):
        assert _history(kept) == []
    assert Person.objects.get(pk=locked.pk).owner_id == rep.pk
    assert Person.objects.get(pk=outside.pk).owner_id == outside_rep.pk

    again = pool.reclaim_neglected(NOW)
    assert again.total == 0
    assert ChangeRecord.objects.filter(note__startswith="reclaimed").count() == 4


def test_teams_without_rules_and_other_teams_keep_their_customers(rules: Team, rep: User) -> None:
    quiet = Team.objects.create(name="West")
    west_rep = User.objects.create_user("west_rep", team=quiet)
    theirs = PersonFactory.create(actor=west_rep, owner=west_rep)
    _aged(theirs, owned_since=300, last_follow_up_at=None)
    assert pool.reclaim_neglected(NOW).total == 0
    assert Person.objects.get(pk=theirs.pk).owner_id == west_rep.pk


def test_owner_names_in_history_are_display_names(rules: Team, rep: User) -> None:
    User.objects.filter(pk=rep.pk).update(last_name="王", first_name="芳")
    person = PersonFactory.create(actor=rep, owner=rep)
    _aged(person, owned_since=60, last_follow_up_at=None)
    pool.reclaim_neglected(NOW)
    assert _history(person)[0][1] == {"owner": ["王芳", None]}


def test_warnings_count_each_owners_customers_due_within_the_warning_days(
    rules: Team, rep: User, other_rep: User
) -> None:
    soon = PersonFactory.create(actor=rep, owner=rep)
    _aged(soon, owned_since=60, last_follow_up_at=28, last_won_at=10)
    soon_account = AccountFactory.create(actor=rep, owner=rep)
    _aged(soon_account, owned_since=88, last_follow_up_at=1, last_won_at=None)
    later = PersonFactory.create(actor=rep, owner=rep)
    _aged(later, owned_since=60, last_follow_up_at=20, last_won_at=10)
    theirs = PersonFactory.create(actor=other_rep, owner=other_rep)
    _aged(theirs, owned_since=60, last_follow_up_at=29, last_won_at=10)
    locked = PersonFactory.create(actor=rep, owner=rep)
    Person.objects.filter(pk=locked.pk).update(reclaim_exempt=True)
    _aged(locked, owned_since=60, last_follow_up_at=29, last_won_at=10)

    assert pool.due_for_reclaim(NOW) == [
        pool.ReclaimWarning(owner_id=rep.pk, accounts=1, people=1, days=3),
        pool.ReclaimWarning(owner_id=other_rep.pk, accounts=0, people=1, days=3),
    ]
    seen: list[pool.ReclaimWarning] = []

    def notify(now: datetime, warnings: list[pool.ReclaimWarning]) -> int:
        seen.extend(warnings)
        return len(warnings)

    assert pool.warn_before_reclaim(NOW, notify) == 2
    assert {w.owner_id for w in seen} == {rep.pk, other_rep.pk}
    assert pool.reclaim_neglected(NOW).total == 0  # warned, not yet reclaimed
