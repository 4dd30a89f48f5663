"""Lead services: activity counts, assignment, scoring, status and conversion."""

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from guanxi.core.history import history_for
from guanxi.customers.models import Account, Person, Role
from guanxi.customers.tests.factories import AccountFactory
from guanxi.leads import queries, scoring, services
from guanxi.leads.models import AssignmentRule, Lead, LeadStatus
from guanxi.leads.tests.factories import AssignmentRuleFactory, LeadFactory, ScoringRuleFactory
from guanxi.staff.models import StaffRole, Team, User
from guanxi.staff.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# record_lead_activity: the entry point the follow-up records call


def test_record_lead_activity_counts_advances_and_rescores(rep: User) -> None:
    ScoringRuleFactory.create(label="Two follow-ups", kind="activity_count", threshold=2, points=15, field="")
    ScoringRuleFactory.create(label="Talked this week", kind="recency", threshold=7, points=20, field="")
    lead = LeadFactory.create(actor=rep, owner=rep)
    assert (lead.activity_count, lead.last_activity_at, lead.score) == (0, None, 0)
    now = timezone.now()

    services.record_lead_activity(lead.pk, now - timedelta(days=1))
    lead.refresh_from_db()
    assert lead.activity_count == 1
    assert lead.last_activity_at == now - timedelta(days=1)
    assert lead.score == 20
    assert [r["label"] for r in lead.score_reasons] == ["Talked this week"]

    # A follow-up logged late (older) counts but does not move the date back.
    services.record_lead_activity(lead.pk, now - timedelta(days=30))
    lead.refresh_from_db()
    assert lead.activity_count == 2
    assert lead.last_activity_at == now - timedelta(days=1)
    assert lead.score == 35
    assert {r["label"]: r["points"] for r in lead.score_reasons} == {"Two follow-ups": 15, "Talked this week": 20}


def test_record_lead_activity_on_missing_lead_does_nothing() -> None:
    services.record_lead_activity(999_999, timezone.now())
    assert not Lead.objects.exists()


# ---------------------------------------------------------------------------------------------
# Creating and editing


def test_create_lead_normalises_contacts_and_keeps_history(rep: User) -> None:
    lead = services.create_lead(
        rep, {"family_name": " 王 ", "given_name": "芳", "email": " Wang.Fang@Example.COM ", "phone": "138 1234 5678"}
    )
    assert (lead.full_name, lead.email, lead.phone) == ("王芳", "wang.fang@example.com", "+8613812345678")
    assert lead.status == LeadStatus.NEW
    entry = history_for(lead).get()
    assert entry.action == "create"
    assert entry.changes["email"] == [None, "wang.fang@example.com"]


def test_create_lead_reports_each_bad_field(rep: User) -> None:
    with pytest.raises(ValidationError) as info:
        services.create_lead(rep, {"family_name": "Li", "email": "not-an-address", "phone": "12"})
    assert set(info.value.message_dict) == {"email", "phone"}
    with pytest.raises(ValidationError) as info:
        services.create_lead(rep, {"message": "hello"})
    assert set(info.value.message_dict) == {"family_name"}


def test_rep_may_not_give_a_lead_to_someone_else(rep: User, other_rep: User) -> None:
    with pytest.raises(ValidationError) as info:
        services.create_lead(rep, {"family_name": "Li", "owner": other_rep})
    assert "owner" in info.value.message_dict


def test_update_lead_requires_edit_rights(rep: User, other_rep: User) -> None:
    lead = LeadFactory.create(actor=rep, owner=rep)
    with pytest.raises(PermissionDenied):
        services.update_lead(other_rep, lead, {"industry": "Retail"})
    services.update_lead(rep, lead, {"industry": "Retail"})
    lead.refresh_from_db()
    assert lead.industry == "Retail"
    assert history_for(lead).first().changes == {"industry": ["", "Retail"]}  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Assignment rules


@pytest.fixture
def sales_team(team: Team) -> list[User]:
    return [UserFactory.create(username=f"rr{i}", role=StaffRole.SALES_REP, team=team) for i in range(3)]


def test_first_matching_rule_wins_and_is_recorded(admin_user: User, rep: User, other_rep: User) -> None:
    AssignmentRuleFactory.create(name="Off", is_active=False, assign_to=other_rep)
    trade = AssignmentRuleFactory.create(name="Trade shows", sources=["trade_show"], assign_to=rep)
    AssignmentRuleFactory.create(name="Everything else", assign_to=other_rep)
    lead = services.create_lead(admin_user, {"family_name": "Li", "source": "trade_show"})
    assert (lead.owner, lead.assigned_by_rule) == (rep, trade)
    assert lead.team_id == rep.team_id
    assert history_for(lead).get().note == "assigned by rule: Trade shows"
    other = services.create_lead(admin_user, {"family_name": "Zhao", "source": "cold_call"})
    assert other.owner == other_rep


def test_rules_match_territory_and_industry_case_insensitively(admin_user: User, rep: User) -> None:
    AssignmentRuleFactory.create(name="South", regions=["广东", "Fujian"], industries=["retail"], assign_to=rep)
    assert services.create_lead(admin_user, {"family_name": "A", "region": "fujian", "industry": "Retail"}).owner == rep
    assert (
        services.create_lead(admin_user, {"family_name": "B", "region": "fujian", "industry": "Banking"}).owner is None
    )
    assert (
        services.create_lead(admin_user, {"family_name": "C", "region": "Beijing", "industry": "Retail"}).owner is None
    )


def test_explicit_owner_skips_the_rules(admin_user: User, rep: User, other_rep: User) -> None:
    AssignmentRuleFactory.create(name="All", assign_to=other_rep)
    lead = services.create_lead(admin_user, {"family_name": "Li", "owner": rep})
    assert (lead.owner, lead.assigned_by_rule) == (rep, None)
    pool = services.create_lead(admin_user, {"family_name": "Wu", "owner": None})
    assert pool.owner is None


def test_round_robin_takes_turns_fairly_and_keeps_its_pointer(
    admin_user: User, team: Team, rep: User, other_rep: User, sales_team: list[User]
) -> None:
    rule = AssignmentRuleFactory.create(name="Round", action="round_robin", team=team)
    members = list(User.objects.filter(team=team).order_by("pk"))
    assert len(members) == 6
    assert {rep, other_rep, *sales_team} < set(members)
    owners = [services.create_lead(admin_user, {"family_name": f"L{i}"}).owner for i in range(12)]
    assert owners == [members[i % 6] for i in range(12)]
    # The pointer lives in the database: a fresh copy of the rule continues the turn.
    assert AssignmentRule.objects.get(pk=rule.pk).last_assigned == members[5]
    # A deactivated member is skipped, not given leads.
    members[0].is_active = False
    members[0].save()
    assert services.create_lead(admin_user, {"family_name": "next"}).owner == members[1]


def test_round_robin_reads_the_pointer_it_locks_not_a_stale_copy(
    admin_user: User, team: Team, rep: User, other_rep: User
) -> None:
    rule = AssignmentRuleFactory.create(name="Round", action="round_robin", team=team)
    stale = AssignmentRule.objects.get(pk=rule.pk)  # loaded before anybody moved the pointer
    first = services._round_robin_next(stale)
    second = services._round_robin_next(stale)  # a second request holding the same stale copy
    assert first is not None
    assert second is not None
    assert first != second


def test_round_robin_with_empty_team_falls_through(admin_user: User, rep: User) -> None:
    empty = Team.objects.create(name="Nobody")
    AssignmentRuleFactory.create(name="Empty", action="round_robin", team=empty)
    AssignmentRuleFactory.create(name="Fallback", assign_to=rep)
    assert services.create_lead(admin_user, {"family_name": "Li"}).owner == rep


def test_rule_settings_are_admin_only_and_validated(rep: User, admin_user: User, team: Team) -> None:
    with pytest.raises(PermissionDenied):
        services.create_assignment_rule(rep, {"name": "x", "assign_to": rep})
    with pytest.raises(ValidationError) as info:
        services.create_assignment_rule(admin_user, {"name": "x", "action": "round_robin", "sources": ["fax"]})
    assert set(info.value.message_dict) == {"team", "sources"}


def test_move_rule_changes_which_wins(admin_user: User, rep: User, other_rep: User) -> None:
    AssignmentRuleFactory.create(name="First", assign_to=rep)
    second = AssignmentRuleFactory.create(name="Second", assign_to=other_rep)
    services.move_assignment_rule(admin_user, second, "up")
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["Second", "First"]
    assert services.create_lead(admin_user, {"family_name": "Li"}).owner == other_rep


# ---------------------------------------------------------------------------------------------
# Scoring and grades


def test_score_sums_matching_rules_and_says_why(rep: User) -> None:
    ScoringRuleFactory.create(label="Has phone", kind="field_filled", field="phone", points=10)
    ScoringRuleFactory.create(label="Retail", kind="field_equals", field="industry", value="retail", points=30)
    ScoringRuleFactory.create(
        label="Big company",
        kind="field_equals",
        field="attribute",
        attribute_key="company_size",
        value="500+",
        points=25,
    )
    ScoringRuleFactory.create(label="Cold call", kind="field_equals", field="source", value="cold_call", points=-5)
    lead = LeadFactory.create(
        actor=rep, phone="13812345678", industry="Retail", source="trade_show", attributes={"company_size": "500+"}
    )
    assert lead.score == 65
    assert lead.score_reasons == [
        {"rule": r.pk, "label": r.label, "points": r.points}
        for r in scoring.active_rules()
        if r.label in ("Has phone", "Retail", "Big company")
    ]
    assert lead.grade == "B"  # 50 ≤ 65 < 80


def test_grade_bands_and_manual_grade(admin_user: User, rep: User, django_capture_on_commit_callbacks: Any) -> None:
    ScoringRuleFactory.create(label="Has phone", kind="field_filled", field="phone", points=30)
    lead = LeadFactory.create(actor=rep, owner=rep, phone="13812345678")
    assert (lead.score, lead.grade, lead.grade_is_manual) == (30, "C", False)
    with django_capture_on_commit_callbacks(execute=True):
        services.set_grade_bands(admin_user, a_from=60, b_from=25, c_from=10)
    lead.refresh_from_db()
    assert lead.grade == "B"  # the rescore job ran after the commit
    services.update_lead(rep, lead, {"grade": "A"})
    lead.refresh_from_db()
    assert (lead.grade, lead.grade_is_manual) == ("A", True)
    services.rescore_leads()
    lead.refresh_from_db()
    assert lead.grade == "A"  # the rep's grade wins over the suggestion
    services.update_lead(rep, lead, {"grade": ""})
    lead.refresh_from_db()
    assert (lead.grade, lead.grade_is_manual) == ("B", False)
    with pytest.raises(ValidationError):
        services.set_grade_bands(admin_user, a_from=10, b_from=20, c_from=5)


def test_changing_a_rule_rescores_every_lead(
    admin_user: User, rep: User, django_capture_on_commit_callbacks: Any
) -> None:
    rule = ScoringRuleFactory.create(label="Has phone", kind="field_filled", field="phone", points=10)
    leads = [LeadFactory.create(actor=rep, phone="13812345678") for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        services.update_scoring_rule(admin_user, rule, {"points": 90})
    assert set(Lead.objects.filter(pk__in=[x.pk for x in leads]).values_list("score", "grade")) == {(90, "A")}
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_scoring_rule(admin_user, rule)
    assert list(Lead.objects.values_list("score", "score_reasons", "grade")) == [(0, [], "D")] * 3


def test_rescore_in_small_batches_changes_only_what_differs(rep: User) -> None:
    for _ in range(5):
        LeadFactory.create(actor=rep, phone="13812345678")
    rule = ScoringRuleFactory.create(label="Has phone", kind="field_filled", field="phone", points=10)
    first = Lead.objects.order_by("pk").values_list("pk", flat=True)[0]
    Lead.objects.filter(pk=first).update(
        score=10, score_reasons=[{"rule": rule.pk, "label": "Has phone", "points": 10}]
    )
    assert services.rescore_leads(batch_size=2) == 4
    assert services.rescore_leads(batch_size=2) == 0


def test_scoring_rule_validation(admin_user: User) -> None:
    with pytest.raises(ValidationError) as info:
        services.create_scoring_rule(admin_user, {"label": "x", "kind": "field_equals", "field": "attribute"})
    assert set(info.value.message_dict) == {"attribute_key", "value"}
    with pytest.raises(ValidationError) as info:
        services.create_scoring_rule(admin_user, {"label": "x", "kind": "recency", "threshold": 0})
    assert set(info.value.message_dict) == {"threshold"}


# ---------------------------------------------------------------------------------------------
# Status


def test_disqualify_needs_a_reason(rep: User) -> None:
    lead = LeadFactory.create(actor=rep, owner=rep)
    with pytest.raises(ValidationError) as info:
        services.set_lead_status(rep, lead, "disqualified")
    assert "disqualified_reason" in info.value.message_dict
    services.set_lead_status(rep, lead, "disqualified", reason="student project")
    lead.refresh_from_db()
    assert (lead.status, lead.disqualified_reason) == ("disqualified", "student project")
    services.set_lead_status(rep, lead, "working")
    lead.refresh_from_db()
    assert (lead.status, lead.disqualified_reason) == ("working", "")
    with pytest.raises(ValidationError):
        services.set_lead_status(rep, lead, "converted")


def test_bulk_actions_skip_what_the_actor_may_not_change(rep: User, other_rep: User, manager: User) -> None:
    mine = [LeadFactory.create(actor=rep, owner=rep) for _ in range(2)]
    theirs = LeadFactory.create(actor=other_rep, owner=other_rep)
    ids = [x.pk for x in [*mine, theirs]]
    assert services.bulk_set_lead_status(rep, ids, "working") == 2
    assert services.bulk_set_lead_status(rep, ids, "working") == 0
    assert services.bulk_assign_leads(manager, ids, rep) == 1
    assert set(Lead.objects.filter(pk__in=ids).values_list("owner", flat=True)) == {rep.pk}
    with pytest.raises(ValidationError):
        services.bulk_assign_leads(rep, ids, other_rep)


def test_claim_from_pool(rep: User, other_rep: User) -> None:
    pool = LeadFactory.create(actor=rep, owner=None)
    assert services.claim_leads(rep, [pool.pk]) == 1
    assert services.claim_leads(other_rep, [pool.pk]) == 0
    pool.refresh_from_db()
    assert pool.owner == rep


# ---------------------------------------------------------------------------------------------
# Conversion


def _qualified(rep: User, **kwargs: Any) -> Lead:
    defaults: dict[str, Any] = {
        "family_name": "陈",
        "given_name": "静",
        "company_name": "蓝海科技有限公司",
        "email": "chen.jing@lanhai.example.com",
        "phone": "13812345678",
        "job_title": "采购经理",
        "industry": "Manufacturing",
        "source": "trade_show",
    }
    return LeadFactory.create(actor=rep, owner=rep, status="qualified", **{**defaults, **kwargs})


def test_convert_creates_account_person_and_role_with_history(rep: User) -> None:
    lead = _qualified(rep)
    result = services.convert_lead(rep, lead)
    assert result.account is not None
    assert result.account_created
    assert result.person_created
    assert (result.account.name, result.account.owner, result.account.source) == ("蓝海科技有限公司", rep, "trade_show")
    assert result.person.full_name == "陈静"
    assert list(result.person.emails.values_list("address", flat=True)) == ["chen.jing@lanhai.example.com"]
    assert list(result.person.phones.values_list("number", flat=True)) == ["+8613812345678"]
    role = Role.objects.get(person=result.person, account=result.account)
    assert (role.kind, role.job_title, role.is_primary_contact) == ("decision_maker", "采购经理", True)
    lead.refresh_from_db()
    assert lead.status == "converted"
    assert (lead.converted_account, lead.converted_person, lead.converted_by) == (result.account, result.person, rep)
    for record in (result.account, result.person):
        assert history_for(record).filter(note=f"converted from lead #{lead.pk}").exists()
    assert history_for(lead).first().changes["status"] == ["qualified", "converted"]  # type: ignore[union-attr]


def test_convert_links_an_existing_account_found_by_the_duplicate_check(rep: User) -> None:
    existing = AccountFactory.create(actor=rep, name="Lanhai Technology", website="https://www.lanhai.example.com")
    lead = _qualified(rep)
    candidates = queries.account_candidates(rep, lead)
    assert [m.record for m in candidates] == [existing]
    result = services.convert_lead(rep, lead, account=candidates[0].record)
    assert result.account == existing
    assert not result.account_created
    assert Account.objects.count() == 1
    assert Role.objects.get(person=result.person).account == existing


def test_same_name_account_is_a_candidate(rep: User) -> None:
    existing = AccountFactory.create(actor=rep, name="蓝海科技有限公司")
    lead = _qualified(rep, email="cj@qq.com")
    assert [m.record for m in queries.account_candidates(rep, lead)] == [existing]


def test_convert_is_all_or_nothing(rep: User, monkeypatch: pytest.MonkeyPatch) -> None:
    lead = _qualified(rep)

    def failing(actor: User, data: dict[str, Any], **kwargs: Any) -> Any:
        assert data["account"] is not None
        assert data["owner"] == rep
        raise ValidationError({"amount": ["Enter an amount."]})

    monkeypatch.setattr(services, "opportunity_service", lambda: failing)
    with pytest.raises(ValidationError):
        services.convert_lead(rep, lead, create_opportunity=True, opportunity_data={"amount": "x"})
    assert (Account.objects.count(), Person.objects.count(), Role.objects.count()) == (0, 0, 0)
    lead.refresh_from_db()
    assert lead.status == "qualified"
    assert lead.converted_account is None


def test_convert_with_an_opportunity_when_sales_offers_one(rep: User) -> None:
    lead = _qualified(rep)
    result = services.convert_lead(rep, lead, create_opportunity=True, opportunity_data={"name": "First order"})
    assert result.opportunity is not None
    assert (result.opportunity.name, result.opportunity.account, result.opportunity.owner) == (
        "First order",
        result.account,
        rep,
    )
    assert list(result.opportunity.contacts.values_list("person", flat=True)) == [result.person.pk]
    assert history_for(result.opportunity).filter(note=f"converted from lead #{lead.pk}").exists()
    lead.refresh_from_db()
    assert lead.converted_opportunity == result.opportunity


def test_convert_needs_a_qualified_visible_lead(rep: User, other_rep: User) -> None:
    lead = LeadFactory.create(actor=rep, owner=rep)
    with pytest.raises(ValidationError) as info:
        services.convert_lead(rep, lead)
    assert "status" in info.value.message_dict
    qualified = _qualified(rep)
    with pytest.raises(PermissionDenied):
        services.convert_lead(other_rep, qualified)
    with pytest.raises(ValidationError) as info:
        services.convert_lead(rep, _qualified(rep, company_name=""))
    assert "company_name" in info.value.message_dict
