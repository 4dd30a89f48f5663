"""Churn classifier, 4 I's and account health as part of the scoring run."""

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from guanxi.activities.models import Task
from guanxi.analytics import services
from guanxi.analytics.customer_scores import current_definition
from guanxi.analytics.models import AccountHealth, ChurnModel, ChurnSource, CustomerScore, EngagementDefinition
from guanxi.analytics.tests.factories import activity, monthly_orders, order
from guanxi.commerce.models import Payment
from guanxi.core.models import ChangeRecord
from guanxi.customers.models import Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db

END = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)


@pytest.fixture
def contracts(db: None) -> dict[str, Any]:
    """24 monthly buyers: 12 stopped in 2025 (churned by the cutoff), 12 buy on; plus others.

    Cutoff = END − 90 days = 1 April 2026. Churned buyers ordered Sep–Dec 2025; retained ones
    ordered Dec 2025 to June 2026, so at the cutoff the days since the last order separate them.
    """
    churned = [PersonFactory.create(family_name=f"Gone{i}") for i in range(12)]
    retained = [PersonFactory.create(family_name=f"Kept{i}") for i in range(12)]
    for person in churned:
        monthly_orders(person, dt.date(2025, 9, 1), 4)
    for person in retained:
        monthly_orders(person, dt.date(2025, 12, 1), 7)
    one_off = PersonFactory.create(family_name="OneOff")
    order(one_off, dt.datetime(2026, 5, 1, tzinfo=dt.UTC), 50)
    # Occasional buyers, so the BG/NBD model has irregular purchases to fit.
    for i in range(30):
        buyer = PersonFactory.create(family_name=f"Now{i}")
        first = dt.datetime(2024, 7, 1, tzinfo=dt.UTC) + dt.timedelta(days=(i * 37) % 600)
        order(buyer, first, 40)
        if i % 3:
            order(buyer, first + dt.timedelta(days=20 + (i * 53) % 300), 40)
    talker = PersonFactory.create(family_name="Talker")
    activity(talker, END - dt.timedelta(days=5), by_customer=True, answered_after=dt.timedelta(hours=2))
    activity(talker, END - dt.timedelta(days=9), by_customer=True, answered_after=dt.timedelta(hours=50))
    account = AccountFactory.create(name="Contract Co")
    monthly_orders(account, dt.date(2026, 2, 1), 5)
    late = order(account, dt.datetime(2026, 6, 12, tzinfo=dt.UTC), 300)
    late.payment_due_date = dt.date(2026, 6, 20)
    late.save(update_fields=["payment_due_date"])
    Payment.objects.create(order=late, amount=100, paid_at=dt.datetime(2026, 6, 19, tzinfo=dt.UTC))
    Task.objects.create(account=account, title="Fix the invoice", due_at=END - dt.timedelta(days=3))
    return {"churned": churned, "retained": retained, "one_off": one_off, "talker": talker, "account": account}


def test_scoring_trains_the_churn_model_and_writes_risks(contracts: dict[str, Any]) -> None:
    run = services.run_scoring(None, end=END, seed=5)
    model = ChurnModel.objects.get(run=run)
    assert model.fitted, model.reason
    assert model.labelled == 24
    assert model.churned == 12
    assert (model.train_size, model.test_size) == (16, 8)
    assert model.auc == 1.0
    assert model.cutoff == END - dt.timedelta(days=90)
    assert model.features[0] == "days_since_last"
    assert sum(b["customers"] for b in model.calibration) == 8
    assert run.quality["churn"]["fitted"] is True
    # Contract customers now: the 24 (three or more months of the last 12) and the account.
    assert model.scored == 25
    kept = contracts["retained"][0]
    gone = contracts["churned"][0]
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert kept.churn_risk is not None
    assert gone.churn_risk is not None
    assert gone.churn_risk > 0.5 > kept.churn_risk
    row = CustomerScore.objects.get(person=gone)
    assert row.is_contract
    assert row.churn_source == ChurnSource.MODEL
    assert row.churn_risk == gone.churn_risk
    # A one-off buyer's risk is 1 − P(alive).
    one_off = Person.objects.get(pk=contracts["one_off"].pk)
    assert one_off.p_alive is not None
    assert one_off.churn_risk == pytest.approx(1 - one_off.p_alive)
    assert CustomerScore.objects.get(person=one_off).churn_source == ChurnSource.P_ALIVE


def test_same_seed_same_model(contracts: dict[str, Any]) -> None:
    first = ChurnModel.objects.get(run=services.run_scoring(None, end=END, seed=5))
    second = ChurnModel.objects.get(run=services.run_scoring(None, end=END, seed=5))
    assert (first.auc, first.brier, first.calibration) == (second.auc, second.brier, second.calibration)
    # Rows of the latest run replace the earlier ones.
    assert set(CustomerScore.objects.values_list("run_id", flat=True)) == {second.run_id}


def test_too_few_contract_customers_fall_back_to_p_alive(db: None) -> None:
    person = PersonFactory.create()
    monthly_orders(person, dt.date(2026, 1, 1), 6)
    for i, amount in enumerate((20, 75, 300)):
        other = PersonFactory.create()
        order(other, dt.datetime(2025, 3 + i, 2, tzinfo=dt.UTC), amount)
        order(other, dt.datetime(2025, 9 + i, 2, tzinfo=dt.UTC), amount * 2)
    run = services.run_scoring(None, end=END)
    model = ChurnModel.objects.get(run=run)
    assert not model.fitted
    assert model.reason.startswith("not enough data: 1 labelled customers, 0 churned and 1 retained")
    row = CustomerScore.objects.get(person=person)
    assert row.churn_source == ChurnSource.P_ALIVE
    assert row.is_contract


def test_engagement_names_its_definition_and_covers_non_buyers(contracts: dict[str, Any]) -> None:
    run = services.run_scoring(None, end=END)
    talker = CustomerScore.objects.get(person=contracts["talker"])
    assert talker.definition.version == 1
    assert talker.churn_risk is None
    # Two contacts started by the customer, one answered within a day: half answered promptly.
    # Intimacy: share 0.5 (weight 2) and no meeting (weight 1) → 100 × 1/3.
    assert talker.intimacy == pytest.approx(100 / 3)
    assert talker.interaction == 100.0
    assert talker.influence == 0.0
    assert talker.engagement is not None
    assert run.quality["engagement"]["definition_version"] == 1
    assert "satisfaction" in run.quality["engagement"]["unmeasured"]
    record = Person.objects.get(pk=contracts["talker"].pk)
    assert record.engagement_score == round(talker.engagement)
    assert record.scored_at is not None


def test_account_health_has_exact_reasons(contracts: dict[str, Any]) -> None:
    services.run_scoring(None, end=END)
    row = AccountHealth.objects.get(account=contracts["account"])
    assert row.components["payments"] == 0.0  # one due order, not paid on time and still overdue
    assert row.components["cases"] == 75.0  # one open task past its due date
    assert row.components["usage"] is None  # no tracked events
    codes = [r["code"] for r in row.reasons]
    assert codes[0] == "payments"
    assert set(codes) == {"payments", "cases", "engagement"}
    assert row.reasons[0]["figures"] == {"late": 1.0, "due": 1.0, "overdue": 1.0}
    assert sum(r["points"] for r in row.reasons) == pytest.approx(100 - row.health, abs=1)
    assert AccountHealth.objects.count() == 25
    assert not AccountHealth.objects.filter(person=contracts["one_off"]).exists()


def test_only_admins_save_a_definition_and_each_save_is_a_new_version(admin_user: User, analyst: User) -> None:
    first = current_definition()
    with pytest.raises(PermissionDenied):
        services.save_engagement_definition(analyst, {"involvement": [("orders_365", 1.0)]})
    items = {
        "involvement": [("orders_365", 3.0), ("tracked_events_90", 0.0)],
        "interaction": [("contacts_90", 1.0)],
        "intimacy": [("meetings_365", 1.0)],
        "influence": [("referrals", 1.0)],
    }
    saved = services.save_engagement_definition(admin_user, items, note="orders matter most")
    assert saved.version == first.version + 1
    assert saved.items["involvement"] == [["orders_365", 3.0]]
    assert current_definition() == saved
    assert EngagementDefinition.objects.get(version=first.version).items == first.items
    assert ChangeRecord.objects.filter(object_id=saved.pk, actor=admin_user).count() == 1
    with pytest.raises(ValidationError) as caught:
        services.save_engagement_definition(admin_user, {**items, "influence": [("referrals", 0.0)]})
    assert caught.value.message_dict == {"influence": ["Give at least one behaviour a weight above zero."]}
