"""Scoring and rules runs end to end on small orders with answers worked out by hand."""

import datetime as dt

import numpy as np
import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError

from guanxi.analytics import services
from guanxi.analytics.lifecycle import DEFAULT_RULES, RuleConditions, assign_stages
from guanxi.analytics.models import AnalyticsRun, AssociationRuleResult, LifecycleRule, OfferSuggestion, RunStatus
from guanxi.analytics.tests.factories import order, product
from guanxi.commerce.models import OrderStatus
from guanxi.core.models import ChangeRecord
from guanxi.customers.models import Account, LifecycleChange, Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.engine import __version__ as engine_version
from guanxi.engine.rfm import rfm
from guanxi.staff.models import User

END = dt.datetime(2026, 6, 30, 23, 59, tzinfo=dt.UTC)


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.UTC)


@pytest.fixture
def shop(db: None) -> dict[str, Account | Person]:
    alice = PersonFactory.create(family_name="Alice")
    bob = PersonFactory.create(family_name="Bob")
    carol = PersonFactory.create(family_name="Carol")
    dave = PersonFactory.create(family_name="Dave", lifecycle_stage="lost")
    erin = PersonFactory.create(family_name="Erin")
    acme = AccountFactory.create(name="Acme")
    for day in ("2026-01-10", "2026-02-10", "2026-03-10", "2026-06-20"):
        order(alice, at(day), 100)
    order(bob, at("2025-05-01"), 50)
    order(carol, at("2026-06-01"), 80)
    order(carol, at("2026-06-25"), 999, status=OrderStatus.CANCELLED)
    order(acme, at("2026-01-05"), 500)
    order(acme, at("2026-04-05"), 300)
    order(dave, at("2024-01-01"), 40)
    order(dave, at("2026-06-15"), 40)
    order(alice, at("2026-07-02"), 100)  # after the end of observation
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "erin": erin, "acme": acme}


def test_scoring_writes_rfm_scores_segments_and_stages(shop: dict[str, Account | Person], analyst: User) -> None:
    run = services.run_scoring(analyst, end=END, seed=7)
    assert run.status == RunStatus.SUCCEEDED
    assert run.engine_version == engine_version
    assert run.seed == 7
    assert run.parameters["end"] == END.isoformat()
    assert len(run.parameters["lifecycle_rules"]) == 7
    assert (run.processed, run.total) == (5, 5)
    for party in shop.values():
        party.refresh_from_db()
    assert {name: p.rfm_score for name, p in shop.items()} == {
        "alice": "554",
        "bob": "111",
        "carol": "312",
        "dave": "432",
        "erin": "",
        "acme": "235",
    }
    assert {name: p.rfm_segment for name, p in shop.items()} == {
        "alice": "champions",
        "bob": "lost",
        "carol": "need_attention",
        "dave": "loyal",
        "erin": "",
        "acme": "at_risk",
    }
    assert shop["erin"].scored_at is None
    assert shop["alice"].scored_at is not None
    acme = shop["acme"]
    assert acme.p_alive is not None
    expected_acme = "at_risk" if acme.p_alive <= 0.3 else "active"
    assert {name: p.lifecycle_stage for name, p in shop.items()} == {
        "alice": "loyal",
        "bob": "lost",
        "carol": "new",
        "dave": "won_back",
        "erin": "prospect",
        "acme": expected_acme,
    }
    # Without repeat purchases a customer cannot have dropped out in the BG/NBD model.
    assert shop["carol"].p_alive == 1.0
    assert shop["bob"].p_alive == 1.0
    assert run.quality["bgnbd"]["fitted"] is True
    assert set(run.quality["bgnbd"]["params"]) == {"r", "alpha", "a", "b"}
    assert run.quality["customers_scored"] == 5
    kpis = run.results["kpis"]
    assert kpis["customers"] == 5
    assert kpis["orders"] == 10
    assert kpis["revenue"] == 1410.0
    assert kpis["average_order_value"] == 141.0
    assert kpis["repeat_rate"] == 0.6
    assert kpis["active"] == 4  # last order within 90 days: alice, carol, dave, acme (86 days)
    assert kpis["churned"] == 1
    assert kpis["new"] == 1  # carol: first order 29 days before the end
    assert sum(sum(row) for row in run.results["rfm_grid"]) == 5
    assert run.results["rfm_grid"][4][4] == 1  # alice: R5, FM5
    assert run.results["cohorts"]["sizes"][0] == 1  # the 2024-01 cohort: dave


def test_scores_match_the_numpy_engine(shop: dict[str, Account | Person]) -> None:
    services.run_scoring(None, end=END)
    names = ["acme", "alice", "bob", "carol", "dave"]
    days = [86, 10, 425, 29, 15]
    counts = [2, 4, 1, 1, 2]
    revenue = [800, 400, 50, 80, 80]
    expected = rfm(days, counts, revenue)
    for i, name in enumerate(names):
        party = shop[name]
        party.refresh_from_db()
        r, f, m = expected.recency_score[i], expected.frequency_score[i], expected.monetary_score[i]
        assert party.rfm_score == f"{r}{f}{m}"
        assert party.rfm_segment == expected.segment_keys()[i]


def test_each_stage_move_has_history_with_the_run_as_reason(shop: dict[str, Account | Person]) -> None:
    run = services.run_scoring(None, end=END)
    reason = f"analytics run #{run.pk}"
    moves = {
        (c.person_id, c.from_stage, c.to_stage)
        for c in LifecycleChange.objects.filter(reason=reason, person__isnull=False)
    }
    assert (shop["dave"].pk, "lost", "won_back") in moves
    assert (shop["bob"].pk, "prospect", "lost") in moves
    assert (shop["carol"].pk, "prospect", "new") in moves
    assert (shop["alice"].pk, "prospect", "loyal") in moves
    assert not LifecycleChange.objects.filter(reason=reason, person_id=shop["erin"].pk).exists()
    history = ChangeRecord.objects.filter(
        content_type=ContentType.objects.get_for_model(Person), object_id=shop["dave"].pk, note=reason
    ).get()
    assert history.changes == {"lifecycle_stage": ["lost", "won_back"]}
    # A second run on the same data moves nobody.
    again = services.run_scoring(None, end=END)
    assert not LifecycleChange.objects.filter(reason=f"analytics run #{again.pk}").exists()
    assert again.results["moves"] == []


def test_rules_respect_the_admins_edits(shop: dict[str, Account | Person], admin_user: User) -> None:
    LifecycleRule.objects.all().delete()
    services.create_rule(admin_user, {"position": 1, "stage": "active", "min_orders": 1})
    services.run_scoring(admin_user, end=END)
    assert set(Person.objects.exclude(family_name="Erin").values_list("lifecycle_stage", flat=True)) == {"active"}


def test_scoring_with_no_orders_succeeds_and_scores_nobody(admin_user: User) -> None:
    run = services.run_scoring(admin_user, end=END)
    assert run.status == RunStatus.SUCCEEDED
    assert run.results["kpis"]["customers"] == 0
    assert run.quality["customers_scored"] == 0


def test_only_admins_and_analysts_start_runs(rep: User, manager: User, marketer: User) -> None:
    for user in (rep, manager, marketer):
        with pytest.raises(PermissionDenied):
            services.run_scoring(user, end=END)
        with pytest.raises(PermissionDenied):
            services.run_rules(user)
    assert not AnalyticsRun.objects.exists()


def test_unknown_parameters_are_refused(admin_user: User) -> None:
    with pytest.raises(ValidationError) as error:
        services.run_scoring(admin_user, end=END, horizon=3)
    assert error.value.message_dict == {"horizon": ["Unknown parameter."]}


def test_a_failing_run_is_recorded_as_failed(
    shop: dict[str, Account | Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "_score", broken)
    with pytest.raises(RuntimeError):
        services.run_scoring(None, end=END)
    run = AnalyticsRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert run.error == "RuntimeError: database went away"
    assert run.finished_at is not None


def test_rules_run_stores_rules_and_next_offers(db: None) -> None:
    people = [PersonFactory.create(family_name=f"P{i}") for i in range(5)]
    baskets = [("tea", "cups"), ("tea", "cups"), ("tea", "cups", "honey"), ("tea", "honey"), ("cups",)]
    for person, basket in zip(people, baskets, strict=True):
        order(person, at("2026-05-01"), 10, products=basket)
    newcomer = PersonFactory.create(family_name="New")
    order(newcomer, at("2026-05-02"), 10, products=("tea",))
    run = services.run_rules(None, min_support=0.3, min_confidence=0.5)
    assert run.status == RunStatus.SUCCEEDED
    assert run.quality["baskets"] == 6
    assert run.quality["min_support_count"] == 2
    tea, cups, honey = product("tea"), product("cups"), product("honey")
    rules = {
        (tuple(r.antecedent), r.consequent_id): (r.baskets, round(r.confidence, 4), round(r.lift, 4))
        for r in AssociationRuleResult.objects.filter(run=run)
    }
    # tea in 5 baskets, cups in 4, both in 3, honey in 2 (both with tea).
    assert rules[((tea.pk,), cups.pk)] == (3, 0.6, 0.9)
    assert rules[((cups.pk,), tea.pk)] == (3, 0.75, 0.9)
    assert rules[((honey.pk,), tea.pk)] == (2, 1.0, 1.2)
    offers = list(OfferSuggestion.objects.filter(person=newcomer).order_by("rank"))
    assert [(o.product_id, o.because, round(o.confidence, 2)) for o in offers] == [(cups.pk, [tea.pk], 0.6)]
    assert offers[0].because_names == ["tea"]
    # A new run replaces the offers rather than adding to them.
    services.run_rules(None, min_support=0.3, min_confidence=0.5)
    assert OfferSuggestion.objects.filter(person=newcomer).count() == 1


def test_assign_stages_takes_the_first_matching_rule() -> None:
    stages = assign_stages(
        DEFAULT_RULES,
        order_count=np.array([1, 1, 5, 3, 2, 2], dtype=np.int64),
        days_since_last=np.array([10, 400, 20, 20, 200, 30], dtype=np.int64),
        p_alive=np.array([1.0, 0.9, 0.95, np.nan, 0.8, 0.1]),
        segment=["new", "lost", "champions", "loyal", "hibernating", "loyal"],
        current=["prospect", "active", "active", "lost", "active", "active"],
    )
    assert stages == ["new", "lost", "loyal", "won_back", "at_risk", "at_risk"]


def test_no_matching_rule_keeps_the_current_stage() -> None:
    stages = assign_stages(
        [RuleConditions("loyal", min_orders=10)],
        order_count=np.array([1], dtype=np.int64),
        days_since_last=np.array([1], dtype=np.int64),
        p_alive=np.array([0.5]),
        segment=["new"],
        current=["active"],
    )
    assert stages == ["active"]


def test_the_shipped_rules_are_the_default_rules(db: None) -> None:
    shipped = [RuleConditions.of(rule) for rule in LifecycleRule.objects.all()]
    assert shipped == list(DEFAULT_RULES)


def test_rule_services_check_admin_and_values(admin_user: User, analyst: User) -> None:
    with pytest.raises(PermissionDenied):
        services.create_rule(analyst, {"stage": "active"})
    with pytest.raises(ValidationError) as error:
        services.create_rule(admin_user, {"stage": "active", "min_orders": 5, "max_orders": 2, "max_p_alive": 1.5})
    assert set(error.value.message_dict) == {"max_orders", "max_p_alive"}
    rule = services.create_rule(admin_user, {"stage": "active", "rfm_segments": ["champions"]})
    services.update_rule(admin_user, rule, {"max_days_since_last": 30})
    history = ChangeRecord.objects.filter(
        content_type=ContentType.objects.get_for_model(LifecycleRule), object_id=rule.pk
    ).order_by("id")
    assert [h.action for h in history] == ["create", "update"]
    assert history[1].changes == {"max_days_since_last": [None, 30]}
    services.delete_rule(admin_user, rule)
    assert not LifecycleRule.objects.filter(pk=rule.pk).exists()


@pytest.mark.django_db
def test_current_stages_find_each_record_or_none() -> None:
    lost = PersonFactory.create(lifecycle_stage="lost")
    new = PersonFactory.create(lifecycle_stage="new")
    account = AccountFactory.create(lifecycle_stage="active")
    gone = max(Person.objects.values_list("pk", flat=True)) + 1
    kinds = np.array([ord("p"), ord("a"), ord("p"), ord("p")], dtype=np.int64)
    ids = np.array([new.pk, account.pk, gone, lost.pk], dtype=np.int64)
    assert services._current_stages(kinds, ids).tolist() == ["new", "active", None, "lost"]


@pytest.mark.parametrize(
    ("table_ids", "looked_up", "expected"),
    [
        ([5, 3, 9], [9, 4, 3, 12, 5], [2, -1, 1, -1, 0]),  # dense: an array indexed by id
        ([5, 3, 10**12], [10**12, 4, 3, 10**13], [2, -1, 1, -1]),  # sparse: binary search
        ([5, 3], [], []),
        ([], [1], [-1]),
    ],
    ids=["dense", "sparse", "nothing looked up", "empty table"],
)
def test_rows_are_found_by_id_or_minus_one(table_ids: list[int], looked_up: list[int], expected: list[int]) -> None:
    rows = services._rows_of(np.array(table_ids, dtype=np.int64), np.array(looked_up, dtype=np.int64))
    assert rows.tolist() == expected
