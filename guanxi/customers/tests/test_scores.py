"""The set-based writer of scores and lifecycle stages."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from pytest_django import DjangoAssertNumQueries

from guanxi.core.models import ChangeRecord
from guanxi.customers import scores
from guanxi.customers.models import Account, LifecycleChange, Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory

WHEN = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_write_scores_stores_exact_values_and_leaves_others_alone() -> None:
    first, second, untouched = (PersonFactory.create() for _ in range(3))
    written = scores.write_scores(
        Person,
        [
            scores.Score(first.pk, "554", "champions", 0.875, Decimal("1234.56")),
            scores.Score(second.pk, "111", "lost", None, None, churn_risk=0.5),
        ],
        scored_at=WHEN,
    )
    assert written == 2
    first.refresh_from_db()
    second.refresh_from_db()
    untouched.refresh_from_db()
    assert (first.rfm_score, first.rfm_segment, first.p_alive, first.predicted_clv, first.scored_at) == (
        "554",
        "champions",
        0.875,
        Decimal("1234.56"),
        WHEN,
    )
    assert (second.p_alive, second.predicted_clv, second.churn_risk) == (None, None, 0.5)
    assert (untouched.rfm_score, untouched.scored_at) == ("", None)
    # Scores are recomputed figures, not edits: no field history.
    assert not ChangeRecord.objects.filter(note__startswith="analytics").exists()


@pytest.mark.django_db
def test_write_scores_is_one_update_per_batch(django_assert_num_queries: DjangoAssertNumQueries) -> None:
    people = [PersonFactory.create() for _ in range(5)]
    rows = [scores.Score(p.pk, "333", "loyal", 0.5, Decimal("10.00")) for p in people]
    # Per batch: SAVEPOINT, UPDATE, RELEASE; batches of 2 → 3 batches.
    with django_assert_num_queries(9):
        scores.write_scores(Person, rows, scored_at=WHEN, batch_size=2)
    assert set(Person.objects.values_list("rfm_score", flat=True)) == {"333"}


@pytest.mark.django_db
def test_apply_stages_moves_records_with_history() -> None:
    lost = AccountFactory.create(lifecycle_stage="lost")
    Account.objects.filter(pk=lost.pk).update(lost_reason="switched_supplier")
    active = AccountFactory.create(lifecycle_stage="active")
    prospect = AccountFactory.create()
    moves = scores.apply_stages(
        Account,
        {lost.pk: "won_back", active.pk: "active", prospect.pk: "new"},
        reason="analytics run #3",
    )
    assert moves == {("lost", "won_back"): 1, ("prospect", "new"): 1}
    lost.refresh_from_db()
    assert (lost.lifecycle_stage, lost.lost_reason) == ("won_back", "")
    changes = LifecycleChange.objects.filter(reason="analytics run #3").order_by("account_id")
    assert [(c.account_id, c.from_stage, c.to_stage, c.changed_by) for c in changes] == [
        (lost.pk, "lost", "won_back", None),
        (prospect.pk, "prospect", "new", None),
    ]
    history = ChangeRecord.objects.filter(
        content_type=ContentType.objects.get_for_model(Account), note="analytics run #3"
    ).order_by("object_id")
    assert [(h.object_id, h.changes) for h in history] == [
        (lost.pk, {"lifecycle_stage": ["lost", "won_back"], "lost_reason": ["switched_supplier", ""]}),
        (prospect.pk, {"lifecycle_stage": ["prospect", "new"]}),
    ]


@pytest.mark.django_db
def test_apply_stages_costs_the_same_queries_for_any_number_of_records(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    people = [PersonFactory.create() for _ in range(6)]
    ContentType.objects.get_for_model(Person)  # cached, as in any running process
    # SAVEPOINT, SELECT ... FOR UPDATE, UPDATE per target stage (2), INSERT changes,
    # INSERT history, RELEASE.
    with django_assert_num_queries(7):
        scores.apply_stages(Person, {p.pk: ("new" if i % 2 else "active") for i, p in enumerate(people)}, reason="run")
    assert LifecycleChange.objects.filter(reason="run").count() == 6


@pytest.mark.django_db
def test_apply_stages_refuses_an_unknown_stage() -> None:
    person = PersonFactory.create()
    with pytest.raises(ValueError, match="unknown lifecycle stage"):
        scores.apply_stages(Person, {person.pk: "champion"}, reason="run")
