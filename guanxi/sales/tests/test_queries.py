import datetime
from decimal import Decimal

import pytest

from guanxi.customers.tests.factories import AccountFactory
from guanxi.sales import queries, services
from guanxi.sales.models import StageKind
from guanxi.sales.tests.factories import OpportunityFactory
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


def test_visibility_follows_owner(rep: User, other_rep: User, manager: User, outside_rep: User) -> None:
    mine = OpportunityFactory.create(actor=rep)
    theirs = OpportunityFactory.create(actor=outside_rep)
    team_mate = OpportunityFactory.create(actor=other_rep)
    assert set(queries.visible_opportunities(rep)) == {mine}
    assert set(queries.visible_opportunities(manager)) == {mine, team_mate}
    assert theirs not in queries.visible_opportunities(manager)


def test_board_columns_count_and_sum_per_stage(rep: User) -> None:
    a = OpportunityFactory.create(actor=rep, amount=Decimal("100"))
    b = OpportunityFactory.create(actor=rep, amount=Decimal("300"), expected_close_date=datetime.date(2026, 1, 5))
    proposal = a.pipeline.stages.get(name="Proposal")
    services.move_opportunity(rep, a, proposal)
    columns = queries.board_columns(a.pipeline, rep, queries.OpportunityFilters())
    summary = [(c.stage.name, c.count, c.total, c.weighted) for c in columns]
    assert summary[0] == ("Qualification", 1, Decimal("300.00"), Decimal("30.00"))
    assert summary[2] == ("Proposal", 1, Decimal("100.00"), Decimal("50.00"))
    assert columns[0].cards == [b]
    limited = queries.board_columns(a.pipeline, rep, queries.OpportunityFilters(), cards_per_column=0)
    assert limited[0].more == 1


def test_forecast_figures(rep: User) -> None:
    account = AccountFactory.create(owner=rep, addresses=[{"region": "浙江", "line1": "1 Road", "city": "杭州"}])
    pipeline = services.ensure_default_pipeline()
    won = pipeline.stages.get(kind=StageKind.WON)
    lost = pipeline.stages.get(kind=StageKind.LOST)
    march = datetime.date(2026, 3, 10)
    one = OpportunityFactory.create(
        actor=rep, account=account, amount=Decimal("1000"), expected_close_date=march, source="referral"
    )
    two = OpportunityFactory.create(
        actor=rep, amount=Decimal("500"), expected_close_date=march, is_committed=True, source="referral"
    )
    three = OpportunityFactory.create(actor=rep, amount=Decimal("200"), expected_close_date=datetime.date(2026, 4, 1))
    services.move_opportunity(rep, one, won)
    services.move_opportunity(rep, three, lost, lost_reason="price")
    result = queries.forecast(rep, queries.OpportunityFilters())
    months = [(row["month"], row["pipeline"], row["weighted"], row["committed"], row["won"]) for row in result.by_month]
    assert [m[1:] for m in months] == [
        (Decimal("500.00"), Decimal("50.00"), Decimal("500.00"), Decimal("1000.00")),
        (Decimal("0"), Decimal("0"), Decimal("0"), Decimal("0")),
    ]
    assert (result.won_count, result.lost_count, result.win_rate) == (1, 1, 0.5)
    assert result.average_deal == Decimal("1000")
    assert result.cycle_days is not None
    assert result.cycle_days < 1
    assert [row["from_stage__name"] for row in result.stage_days] == ["Qualification"]
    assert result.stage_days[0]["moves"] == 2
    sources = {row["source"]: (row["total"], row["won"], row["win_rate"]) for row in result.by_source}
    assert sources == {"referral": (2, 1, 1.0), "": (1, 0, 0.0)}
    regions = {row["region"]: row["won"] for row in result.by_region}
    assert regions == {"浙江": 1, "": 0}
    assert two.status == "open"
