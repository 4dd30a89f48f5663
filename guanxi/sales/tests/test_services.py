from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from guanxi.commerce.models import Product
from guanxi.core.history import history_for
from guanxi.core.models import ChangeAction
from guanxi.customers.models import Account, AccountKind
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.sales import services
from guanxi.sales.models import (
    ContactRole,
    Opportunity,
    OpportunityContact,
    Pipeline,
    Stage,
    StageChange,
    StageKind,
)
from guanxi.sales.tests.factories import OpportunityFactory, PipelineFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


def _stage(pipeline: Pipeline, kind: str, position: int | None = None) -> Stage:
    stages = pipeline.stages.filter(kind=kind).order_by("position")
    return stages[position or 0]


def test_default_pipeline_is_created_once_with_ordered_stages() -> None:
    first = services.ensure_default_pipeline()
    again = services.ensure_default_pipeline()
    assert first.pk == again.pk
    assert first.is_default
    assert [(s.name, s.probability, s.kind) for s in first.stages.order_by("position")] == [
        ("Qualification", 10, "open"),
        ("Needs analysis", 20, "open"),
        ("Proposal", 50, "open"),
        ("Negotiation", 80, "open"),
        ("Won", 100, "won"),
        ("Lost", 0, "lost"),
    ]
    assert Pipeline.objects.count() == 1


def test_create_defaults_pipeline_stage_probability_owner(rep: User) -> None:
    account = AccountFactory.create(owner=rep)
    opportunity = services.create_opportunity(
        rep, {"name": "ERP rollout", "account": account, "amount": Decimal("1000")}
    )
    pipeline = Pipeline.objects.get(is_default=True)
    assert opportunity.pipeline == pipeline
    assert opportunity.stage.name == "Qualification"
    assert (opportunity.status, opportunity.probability, opportunity.owner) == ("open", 10, rep)
    assert opportunity.closed_at is None
    change = StageChange.objects.get(opportunity=opportunity)
    assert (change.from_stage, change.to_stage, change.changed_by) == (None, opportunity.stage, rep)
    record = history_for(opportunity).get()
    assert record.action == ChangeAction.CREATE
    assert record.changes["name"] == [None, "ERP rollout"]


def test_create_with_contacts_and_lines_sums_the_amount(rep: User) -> None:
    account = AccountFactory.create(owner=rep)
    person = PersonFactory.create(owner=rep)
    product = Product.objects.create(sku="P-1", name="Licence", unit_price=Decimal("200.00"))
    opportunity = services.create_opportunity(
        rep,
        {"name": "Licences", "account": account},
        contacts=[{"person": person, "role": ContactRole.DECISION_MAKER, "is_primary": True}],
        lines=[
            {"product": product, "quantity": Decimal("3"), "discount_percent": Decimal("10")},
            {"description": "Setup", "unit_price": Decimal("99.99")},
        ],
    )
    assert [(line.description, line.unit_price, line.line_total) for line in opportunity.lines.all()] == [
        ("Licence", Decimal("200.00"), Decimal("540.00")),
        ("Setup", Decimal("99.99"), Decimal("99.99")),
    ]
    opportunity.refresh_from_db()
    assert opportunity.amount == Decimal("639.99")
    contact = OpportunityContact.objects.get(opportunity=opportunity)
    assert (contact.person, contact.role, contact.is_primary) == (person, "decision_maker", True)


def test_create_refuses_missing_customer_competitor_and_invisible_account(rep: User, outside_rep: User) -> None:
    with pytest.raises(ValidationError) as caught:
        services.create_opportunity(rep, {"name": "Nobody"})
    assert set(caught.value.message_dict) == {"account"}
    rival = AccountFactory.create(name="Rival", kind=AccountKind.COMPETITOR)
    with pytest.raises(ValidationError) as caught:
        services.create_opportunity(rep, {"name": "X", "account": rival})
    assert "competitor" in caught.value.message_dict["account"][0]
    hidden = AccountFactory.create(owner=outside_rep)
    with pytest.raises(ValidationError) as caught:
        services.create_opportunity(rep, {"name": "X", "account": hidden})
    assert set(caught.value.message_dict) == {"account"}
    assert Opportunity.objects.count() == 0


def test_create_refuses_stage_of_other_pipeline_and_foreign_owner(rep: User, outside_rep: User) -> None:
    account = AccountFactory.create(owner=rep)
    default = services.ensure_default_pipeline()
    other = PipelineFactory.create(name="Renewals")
    with pytest.raises(ValidationError) as caught:
        services.create_opportunity(
            rep, {"name": "X", "account": account, "pipeline": default, "stage": _stage(other, "open")}
        )
    assert set(caught.value.message_dict) == {"stage"}
    with pytest.raises(ValidationError) as caught:
        services.create_opportunity(rep, {"name": "X", "account": account, "owner": outside_rep})
    assert set(caught.value.message_dict) == {"owner"}


def test_move_sets_status_probability_and_history(rep: User) -> None:
    opportunity = OpportunityFactory.create(actor=rep, amount=Decimal("500"))
    proposal = opportunity.pipeline.stages.get(name="Proposal")
    moved = services.move_opportunity(rep, opportunity, proposal)
    assert (moved.stage, moved.status, moved.probability, moved.closed_at) == (proposal, "open", 50, None)
    changes = list(
        StageChange.objects.filter(opportunity=opportunity).values_list("from_stage__name", "to_stage__name")
    )
    assert changes == [(None, "Qualification"), ("Qualification", "Proposal")]
    record = history_for(opportunity).filter(note="stage").get()
    assert record.changes["stage"] == ["Qualification", "Proposal"]
    assert record.changes["probability"] == [10, 50]


def test_moving_to_lost_needs_a_known_reason(rep: User) -> None:
    opportunity = OpportunityFactory.create(actor=rep)
    lost = _stage(opportunity.pipeline, StageKind.LOST)
    with pytest.raises(ValidationError) as caught:
        services.move_opportunity(rep, opportunity, lost)
    assert set(caught.value.message_dict) == {"lost_reason"}
    with pytest.raises(ValidationError):
        services.move_opportunity(rep, opportunity, lost, lost_reason="bad luck")
    opportunity.refresh_from_db()
    assert opportunity.status == "open"
    moved = services.move_opportunity(rep, opportunity, lost, lost_reason="price", lost_note="20% cheaper")
    assert (moved.status, moved.lost_reason, moved.lost_note, moved.probability) == ("lost", "price", "20% cheaper", 0)
    assert moved.closed_at is not None
    reopened = services.move_opportunity(rep, moved, _stage(opportunity.pipeline, StageKind.OPEN))
    assert (reopened.status, reopened.lost_reason, reopened.closed_at) == ("open", "", None)


def test_winning_updates_the_customers_last_won_at(rep: User) -> None:
    account = AccountFactory.create(owner=rep)
    person = PersonFactory.create(owner=rep)
    opportunity = OpportunityFactory.create(actor=rep, account=account, person=person)
    assert Account.objects.get(pk=account.pk).last_won_at is None
    won = services.move_opportunity(rep, opportunity, _stage(opportunity.pipeline, StageKind.WON))
    assert (won.status, won.probability) == ("won", 100)
    account.refresh_from_db()
    person.refresh_from_db()
    assert account.last_won_at == won.closed_at
    assert person.last_won_at == won.closed_at


def test_only_editors_move_or_update(rep: User, other_rep: User, manager: User) -> None:
    opportunity = OpportunityFactory.create(actor=rep)
    with pytest.raises(PermissionDenied):
        services.move_opportunity(other_rep, opportunity, _stage(opportunity.pipeline, StageKind.WON))
    with pytest.raises(PermissionDenied):
        services.update_opportunity(other_rep, opportunity, {"name": "Mine now"})
    updated = services.update_opportunity(
        manager, opportunity, {"next_step": "Call CFO", "expected_close_date": date(2027, 3, 1)}
    )
    assert updated.next_step == "Call CFO"
    record = history_for(opportunity).filter(action=ChangeAction.UPDATE).get()
    assert record.changes == {"expected_close_date": [None, "2027-03-01"], "next_step": ["", "Call CFO"]}


def test_update_refuses_stage_field(rep: User) -> None:
    opportunity = OpportunityFactory.create(actor=rep)
    with pytest.raises(ValidationError) as caught:
        services.update_opportunity(rep, opportunity, {"stage": _stage(opportunity.pipeline, StageKind.WON)})
    assert set(caught.value.message_dict) == {"stage"}


def test_bulk_assign_only_touches_editable_rows(rep: User, other_rep: User, manager: User, outside_rep: User) -> None:
    mine = OpportunityFactory.create(actor=rep)
    theirs = OpportunityFactory.create(actor=outside_rep)
    with pytest.raises(ValidationError):
        services.bulk_assign_owner(rep, [mine.pk], other_rep)
    assert services.bulk_assign_owner(manager, [mine.pk, theirs.pk], other_rep) == 1
    assert Opportunity.objects.get(pk=mine.pk).owner == other_rep
    assert Opportunity.objects.get(pk=theirs.pk).owner == outside_rep
    assert history_for(mine).filter(note="bulk assign").get().changes == {"owner": ["rep", "other_rep"]}


def test_lines_keep_the_amount_in_step(rep: User) -> None:
    opportunity = OpportunityFactory.create(actor=rep, amount=Decimal("10"))
    line = services.add_line(rep, opportunity, {"description": "Service", "quantity": 2, "unit_price": Decimal("150")})
    opportunity.refresh_from_db()
    assert opportunity.amount == Decimal("300.00")
    services.update_line(rep, line, {"discount_percent": Decimal("50")})
    opportunity.refresh_from_db()
    assert opportunity.amount == Decimal("150.00")
    with pytest.raises(ValidationError) as caught:
        services.update_line(rep, line, {"discount_percent": Decimal("120")})
    assert set(caught.value.message_dict) == {"discount_percent"}
    services.remove_line(rep, line)
    opportunity.refresh_from_db()
    assert opportunity.amount == Decimal("150.00")  # without lines the last amount stays
    assert opportunity.lines.count() == 0


def test_contacts_keep_one_primary(rep: User) -> None:
    opportunity = OpportunityFactory.create(actor=rep)
    a, b = PersonFactory.create(owner=rep), PersonFactory.create(owner=rep)
    first = services.add_contact(rep, opportunity, a, role=ContactRole.BUYER, is_primary=True)
    second = services.add_contact(rep, opportunity, b, role=ContactRole.CHAMPION, is_primary=True)
    first.refresh_from_db()
    assert (first.is_primary, second.is_primary) == (False, True)
    with pytest.raises(ValidationError):
        services.add_contact(rep, opportunity, a)
    services.update_contact(rep, first, {"role": ContactRole.DECISION_MAKER})
    services.remove_contact(rep, second)
    assert list(opportunity.contacts.values_list("role", flat=True)) == ["decision_maker"]


def test_competitors_must_be_competitor_accounts(rep: User) -> None:
    opportunity = OpportunityFactory.create(actor=rep)
    customer = AccountFactory.create(owner=rep)
    with pytest.raises(ValidationError) as caught:
        services.add_competitor(rep, opportunity, customer)
    assert set(caught.value.message_dict) == {"competitor"}
    rival = AccountFactory.create(name="Rival Co", kind=AccountKind.COMPETITOR)
    row = services.add_competitor(rep, opportunity, rival, offer="Cheaper licence", amount=Decimal("900"))
    services.update_competitor(rep, row, {"amount": Decimal("850")})
    row.refresh_from_db()
    assert row.amount == Decimal("850.00")
    with pytest.raises(ValidationError):
        services.add_competitor(rep, opportunity, rival)
    services.remove_competitor(rep, row)
    assert opportunity.competitors.count() == 0


def test_pipeline_admin_only_and_stage_rules(admin_user: User, rep: User) -> None:
    with pytest.raises(PermissionDenied):
        services.create_pipeline(rep, {"name": "Mine"})
    pipeline = services.create_pipeline(admin_user, {"name": "Renewals"})
    assert pipeline.is_default  # the first pipeline is the default
    second = services.create_pipeline(admin_user, {"name": "Projects", "is_default": True})
    pipeline.refresh_from_db()
    assert (pipeline.is_default, second.is_default) == (False, True)
    stage = services.create_stage(admin_user, pipeline, {"name": "Demo", "probability": 30})
    assert stage.position == 6
    with pytest.raises(ValidationError):
        services.create_stage(admin_user, pipeline, {"name": "Demo"})
    with pytest.raises(ValidationError):
        services.create_stage(admin_user, pipeline, {"name": "Sure", "probability": 101})
    ids = list(pipeline.stages.order_by("-position").values_list("pk", flat=True))
    services.reorder_stages(admin_user, pipeline, ids)
    assert list(pipeline.stages.order_by("position").values_list("pk", flat=True)) == ids
    with pytest.raises(ValidationError):
        services.reorder_stages(admin_user, pipeline, ids[:-1])
    won = _stage(pipeline, StageKind.WON)
    with pytest.raises(ValidationError) as caught:
        services.update_stage(admin_user, won, {"kind": StageKind.OPEN})
    assert set(caught.value.message_dict) == {"kind"}


def test_stage_with_deals_cannot_be_deleted(admin_user: User, rep: User) -> None:
    opportunity = OpportunityFactory.create(actor=rep)
    with pytest.raises(ValidationError):
        services.delete_stage(admin_user, opportunity.stage)
    with pytest.raises(ValidationError):
        services.delete_pipeline(admin_user, opportunity.pipeline)
    demo = services.create_stage(admin_user, opportunity.pipeline, {"name": "Demo"})
    services.delete_stage(admin_user, demo)
    assert not Stage.objects.filter(pk=demo.pk).exists()
