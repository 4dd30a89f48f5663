"""The leads demo: believable, deterministic, scored by the rules, some converted, and a second
run adds nothing."""

import pytest

from guanxi.leads import demo
from guanxi.leads.models import AssignmentRule, Lead, LeadStatus, ScoringRule, WebForm
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_staff() -> None:
    east = TeamFactory.create(name="East China")
    UserFactory.create(username="admin", role=StaffRole.ADMIN)
    UserFactory.create(username="rep1", role=StaffRole.SALES_REP, team=east)
    UserFactory.create(username="rep2", role=StaffRole.SALES_REP, team=east)


def test_demo_builds_rules_form_and_leads(demo_staff: None) -> None:
    result = demo.load_demo("small", seed=3)
    assert result["leads"] == 300
    assert result["web_forms"] == 1
    assert result["converted"] >= 5
    assert ScoringRule.objects.count() == len(demo.SCORING_DEFAULTS)
    assert AssignmentRule.objects.count() == 2
    statuses = set(Lead.objects.values_list("status", flat=True))
    assert statuses == {s.value for s in LeadStatus}
    assert len(set(Lead.objects.values_list("source", flat=True))) == 7
    converted = Lead.objects.filter(status=LeadStatus.CONVERTED)
    assert converted.count() == result["converted"]
    assert not converted.filter(converted_account__isnull=True).exists()
    # Scores are the rules' sums, reasons included.
    for lead in Lead.objects.exclude(score=0)[:20]:
        assert lead.score == sum(r["points"] for r in lead.score_reasons)
    assert Lead.objects.filter(disqualified_reason="", status=LeadStatus.DISQUALIFIED).count() == 0
    # Creation dates are spread, not all "now".
    assert Lead.objects.dates("created_at", "day").count() > 30


def test_demo_is_deterministic_and_idempotent(demo_staff: None) -> None:
    demo.load_demo("small", seed=3)
    first = list(Lead.objects.order_by("pk").values_list("full_name", "company_name", "score")[:50])
    again = demo.load_demo("small", seed=3)
    assert again == {"rules": 0, "web_forms": 0, "leads": 0, "converted": 0}
    assert Lead.objects.count() == 300
    assert WebForm.objects.count() == 1
    Lead.objects.all().delete()
    demo.load_demo("small", seed=3)
    assert list(Lead.objects.order_by("pk").values_list("full_name", "company_name", "score")[:50]) == first


def test_demo_without_staff_does_nothing() -> None:
    assert demo.load_demo() == {"rules": 0, "web_forms": 0, "leads": 0, "converted": 0}
    assert not User.objects.exists()
