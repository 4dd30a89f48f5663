"""The board's and forecast's running sums stay equal to the deals through every service write,
and reading them gives the same figures as summing the deals themselves."""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from guanxi.customers.tests.factories import AccountFactory
from guanxi.sales import queries, rollups, services
from guanxi.sales.models import Opportunity, OpportunityRollup, Stage, StageKind
from guanxi.sales.tests.factories import OpportunityFactory, PipelineFactory
from guanxi.staff import access
from guanxi.staff.models import Team, User

pytestmark = pytest.mark.django_db

MONTHS = [datetime.date(2026, 1, 15), datetime.date(2026, 2, 1), datetime.date(2026, 2, 28), datetime.date(2026, 3, 31)]


def _stage(pipeline_stages: list[Stage], kind: str, index: int = 0) -> Stage:
    return [stage for stage in pipeline_stages if stage.kind == kind][index]


@pytest.fixture
def deals(rep: User, other_rep: User, outside_rep: User, manager: User, admin_user: User) -> list[Opportunity]:
    """Deals of several owners, months, sources and regions, moved, edited, reassigned and deleted."""
    pipeline = services.ensure_default_pipeline()
    second = PipelineFactory.create(actor=admin_user, name="Renewals")
    stages = list(pipeline.stages.order_by("position"))
    zhejiang = AccountFactory.create(owner=rep, addresses=[{"region": "浙江", "line1": "1 Road", "city": "杭州"}])
    made = []
    owners = [rep, other_rep, outside_rep, None]
    for i in range(12):
        owner = owners[i % 4]
        made.append(
            OpportunityFactory.create(
                actor=admin_user,
                name=f"Deal {i}",
                owner=owner,
                account=zhejiang if i % 3 == 0 else AccountFactory.create(owner=owner),
                amount=Decimal(100 * (i + 1)),
                expected_close_date=MONTHS[i % 4] if i % 5 else None,
                is_committed=i % 2 == 0,
                source=["referral", "web_form", ""][i % 3],
            )
        )
    with_lines = OpportunityFactory.create(
        actor=admin_user,
        name="Deal with lines",
        owner=rep,
        expected_close_date=MONTHS[1],
        lines=[{"description": "Seats", "quantity": Decimal("3"), "unit_price": Decimal("70")}],
    )
    made.append(with_lines)
    services.move_opportunity(admin_user, made[0], _stage(stages, StageKind.WON))
    services.move_opportunity(admin_user, made[1], _stage(stages, StageKind.LOST), lost_reason="price")
    services.move_opportunity(admin_user, made[2], _stage(stages, StageKind.OPEN, 2))
    services.move_opportunity(admin_user, made[3], second.stages.order_by("position").first())  # type: ignore[arg-type]  # the new pipeline has stages
    services.update_opportunity(
        admin_user, made[4], {"amount": Decimal("999.50"), "expected_close_date": MONTHS[3], "region": "上海"}
    )
    services.update_opportunity(admin_user, made[5], {"owner": outside_rep, "is_committed": True, "probability": 80})
    line = services.add_line(admin_user, with_lines, {"description": "Setup", "unit_price": Decimal("50")})
    services.update_line(admin_user, line, {"quantity": Decimal("2")})
    services.bulk_assign_owner(admin_user, [made[6].pk, made[7].pk], rep)
    services.delete_opportunity(admin_user, made[8])
    return [deal for deal in made if deal.pk != made[8].pk]


def test_every_service_write_keeps_the_sums_equal_to_the_deals(deals: list[Opportunity], admin_user: User) -> None:
    assert OpportunityRollup.objects.filter(dimension="deals").exists()
    assert rollups.drift() == []
    remove = services.add_line(admin_user, deals[0], {"description": "Extra", "unit_price": Decimal("5")})
    services.remove_line(admin_user, remove)
    assert rollups.drift() == []


def test_stored_sums_are_what_a_rebuild_finds(deals: list[Opportunity]) -> None:
    before = rollups.stored()
    rollups.rebuild()
    after = rollups.stored()
    assert set(after) == {key for key, sums in before.items() if sums.deals}
    for key, sums in after.items():
        assert (before[key].deals, before[key].amount, before[key].duration_us) == (
            sums.deals,
            sums.amount,
            sums.duration_us,
        )


def test_a_stage_that_changes_kind_carries_its_deals_sums(deals: list[Opportunity], admin_user: User) -> None:
    pipeline = services.ensure_default_pipeline()
    open_stage = pipeline.stages.filter(kind=StageKind.OPEN, opportunities__isnull=False).first()
    assert open_stage is not None
    services.update_stage(admin_user, open_stage, {"kind": StageKind.WON})
    assert rollups.drift() == []


def test_the_check_command_names_drift_and_the_rebuild_mends_it(deals: list[Opportunity]) -> None:
    call_command("sales_rollups")
    OpportunityRollup.objects.filter(dimension="deals").update(deals=99)
    with pytest.raises(CommandError, match="sums differ"):
        call_command("sales_rollups")
    call_command("sales_rollups", "--rebuild")
    call_command("sales_rollups")


PERIODS = [
    (None, None),
    (datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)),
    (datetime.date(2026, 1, 20), datetime.date(2026, 2, 28)),
    (datetime.date(2026, 2, 1), datetime.date(2026, 2, 27)),
    (datetime.date(2026, 2, 15), None),
    (None, datetime.date(2026, 2, 1)),
]


@pytest.mark.parametrize("who", ["rep", "manager", "admin_user", "outside_rep"])
def test_board_and_forecast_from_the_sums_match_summing_the_deals(
    deals: list[Opportunity], request: pytest.FixtureRequest, who: str
) -> None:
    """Every deal's name has "Deal" in it, so the search filter selects all of them and the page
    sums the deals themselves: the reference the rollup must agree with."""
    user: User = request.getfixturevalue(who)
    pipeline = services.ensure_default_pipeline()
    for (close_from, close_to), owner in itertools.product(PERIODS, ("", "me", "pool")):
        plain = queries.OpportunityFilters(owner=owner, close_from=close_from, close_to=close_to)
        searched = queries.OpportunityFilters(q="Deal", owner=owner, close_from=close_from, close_to=close_to)
        board = [(c.stage.pk, c.count, c.total, c.weighted) for c in queries.board_columns(pipeline, user, plain)]
        expected = [(c.stage.pk, c.count, c.total, c.weighted) for c in queries.board_columns(pipeline, user, searched)]
        assert board == expected
        assert queries.forecast(user, plain) == queries.forecast(user, searched)


def test_the_board_counts_what_the_user_sees(deals: list[Opportunity], rep: User, admin_user: User) -> None:
    pipeline = services.ensure_default_pipeline()
    everyone = sum(c.count for c in queries.board_columns(pipeline, admin_user, queries.OpportunityFilters()))
    own_and_pool = sum(c.count for c in queries.board_columns(pipeline, rep, queries.OpportunityFilters()))
    visible = queries.visible_opportunities(rep).filter(pipeline=pipeline).count()
    assert own_and_pool == visible
    assert everyone == Opportunity.objects.filter(pipeline=pipeline).count()
    assert own_and_pool < everyone


def test_team_filter(deals: list[Opportunity], manager: User, team: Team) -> None:
    pipeline = services.ensure_default_pipeline()
    filters = queries.OpportunityFilters(team=team.pk)
    counted = sum(c.count for c in queries.board_columns(pipeline, manager, filters))
    assert counted == Opportunity.objects.filter(pipeline=pipeline, owner__team=team).count()
    assert counted > 0


def test_visible_owner_keys_follow_the_visibility_rule(
    rep: User, other_rep: User, manager: User, admin_user: User, outside_rep: User
) -> None:
    assert access.visible_owner_keys(rep) == [rep.pk, 0]
    assert sorted(access.visible_owner_keys(manager) or []) == sorted([manager.pk, 0, rep.pk, other_rep.pk])
    assert access.visible_owner_keys(admin_user) is None
    rep.is_active = False
    assert access.visible_owner_keys(rep) == []


@pytest.mark.parametrize(
    ("start", "end", "months", "edges"),
    [
        (None, None, None, ()),
        (datetime.date(2026, 1, 1), datetime.date(2026, 12, 31), ("2026-01-01", "2026-12-01"), ()),
        (
            datetime.date(2026, 1, 20),
            datetime.date(2026, 3, 10),
            ("2026-02-01", "2026-02-01"),
            (("2026-01-20", "2026-01-31"), ("2026-03-01", "2026-03-10")),
        ),
        (datetime.date(2026, 2, 3), datetime.date(2026, 2, 20), None, (("2026-02-03", "2026-02-20"),)),
        (datetime.date(2026, 12, 5), None, ("2027-01-01", "9999-12-01"), (("2026-12-05", "2026-12-31"),)),
        (None, datetime.date(2026, 2, 27), ("0001-02-01", "2026-01-01"), (("2026-02-01", "2026-02-27"),)),
        (datetime.date(2026, 3, 1), datetime.date(2026, 2, 1), None, ()),
    ],
)
def test_split_period(
    start: datetime.date | None,
    end: datetime.date | None,
    months: tuple[str, str] | None,
    edges: tuple[tuple[str, str], ...],
) -> None:
    period = rollups.split_period(start, end)
    as_text = (str(period.months[0]), str(period.months[1])) if period.months else None
    assert as_text == months
    assert tuple((str(low), str(high)) for low, high in period.edges) == edges
    assert period.unbounded == (start is None and end is None)


def test_a_new_deal_takes_its_accounts_region_unless_given(rep: User, admin_user: User) -> None:
    account = AccountFactory.create(owner=rep, addresses=[{"region": "广东", "line1": "2 Road", "city": "深圳"}])
    assert OpportunityFactory.create(actor=rep, account=account).region == "广东"
    assert OpportunityFactory.create(actor=rep, account=account, region="香港").region == "香港"
    assert OpportunityFactory.create(actor=rep).region == ""


def test_a_deal_closed_without_a_close_date_closes_today_and_enters_this_months_forecast(rep: User) -> None:
    deal = OpportunityFactory.create(actor=rep, amount=Decimal("700"))
    dated = OpportunityFactory.create(actor=rep, amount=Decimal("50"), expected_close_date=datetime.date(2020, 5, 1))
    won = deal.pipeline.stages.get(kind=StageKind.WON)
    services.move_opportunity(rep, deal, won)
    services.move_opportunity(rep, dated, won)
    deal.refresh_from_db()
    dated.refresh_from_db()
    today = timezone.localdate()
    assert deal.expected_close_date == today
    assert dated.expected_close_date == datetime.date(2020, 5, 1)
    month = queries.OpportunityFilters(close_from=today.replace(day=1), close_to=today)
    assert queries.forecast(rep, month).won_amount == Decimal("700.00")
