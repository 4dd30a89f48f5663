"""Demo data for sales: the default pipeline and a second one, and opportunities across stages and
owners with a believable stage history, on top of the demo customers and staff.

Rows are built in Python and written with `bulk_create` (one INSERT per batch), not one service
call per deal: the benchmark loads 200,000 deals with the same generator. What the services would
write is written too: each deal's `StageChange` rows with the time spent in the stage left, its
status, probability and closed date from its stage, the customer's "last won" date. Field-level
history (`ChangeRecord`) is not written: demo rows have no "created" event.
"""

import datetime
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from guanxi.customers import services as customer_services
from guanxi.customers.models import Account, AccountKind, Address, Person, Source
from guanxi.sales import rollups, services
from guanxi.sales.models import (
    CompetitorOffer,
    LostReason,
    Opportunity,
    Pipeline,
    Stage,
    StageChange,
    StageKind,
)
from guanxi.staff.models import StaffRole, User

SIZES = {"small": 300, "large": 20_000}
BATCH = 2_000
DEAL_WORDS = (
    ("ERP rollout", "ERP 实施"),
    ("CRM licences", "CRM 许可"),
    ("Annual maintenance", "年度维保"),
    ("Cloud migration", "云迁移"),
    ("Training package", "培训套餐"),
    ("Hardware refresh", "硬件更新"),
    ("Data platform", "数据平台"),
    ("Security audit", "安全审计"),
)
SECOND_PIPELINE = gettext_noop("Renewals")
SECOND_STAGES = (
    (gettext_noop("Renewal due"), 60, StageKind.OPEN),
    (gettext_noop("Quoted"), 80, StageKind.OPEN),
    (gettext_noop("Renewed"), 100, StageKind.WON),
    (gettext_noop("Churned"), 0, StageKind.LOST),
)


@contextmanager
def keep_timestamps() -> Iterator[None]:
    """Let bulk_create store the generated dates instead of "now" for auto_now(_add) fields."""
    fields: list[Any] = [Opportunity._meta.get_field(name) for name in ("created_at", "updated_at", "stage_changed_at")]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for f, _now, _add in saved:
        f.auto_now = False
        f.auto_now_add = False
    try:
        yield
    finally:
        for f, now, add in saved:
            f.auto_now = now
            f.auto_now_add = add


def ensure_pipelines() -> list[Pipeline]:
    """The default pipeline and a "Renewals" one, created once."""
    default = services.ensure_default_pipeline()
    second = Pipeline.objects.filter(name__in=[SECOND_PIPELINE, _(SECOND_PIPELINE)]).first()
    if second is None:
        position = (Pipeline.objects.aggregate(m=Max("position"))["m"] or 0) + 1
        second = Pipeline.objects.create(name=_(SECOND_PIPELINE), position=position)
        Stage.objects.bulk_create(
            [
                Stage(pipeline=second, name=_(name), probability=probability, kind=kind, position=index)
                for index, (name, probability, kind) in enumerate(SECOND_STAGES)
            ]
        )
    return [default, second]


@dataclass
class Generated:
    opportunities: int = 0
    stage_changes: int = 0
    competitors: int = 0


def generate(
    count: int,
    *,
    pipelines: Sequence[Pipeline],
    owners: Sequence[User | None],
    account_ids: Sequence[int],
    person_ids: Sequence[int],
    seed: int = 7,
    now: datetime.datetime | None = None,
    competitor_ids: Sequence[int] = (),
) -> Generated:
    """Insert `count` deals with their stage history, in batches; returns what was written."""
    rng = random.Random(seed)  # noqa: S311  -- demo data, not secrets
    now = now or timezone.now()
    stage_lists = {p.pk: list(p.stages.order_by("position", "id")) for p in pipelines}
    sources = [value for value in Source.values if value not in ("tracking", "import")]
    reasons = list(LostReason.values)
    result = Generated()
    won_accounts: dict[int, datetime.datetime] = {}
    won_people: dict[int, datetime.datetime] = {}
    regions = _first_regions(account_ids)
    with keep_timestamps():
        for start in range(0, count, BATCH):
            size = min(BATCH, count - start)
            deals: list[Opportunity] = []
            paths: list[list[tuple[Stage, datetime.datetime]]] = []
            for index in range(start, start + size):
                pipeline = pipelines[0] if rng.random() < 0.8 or len(pipelines) == 1 else pipelines[1]
                stages = stage_lists[pipeline.pk]
                open_stages = [s for s in stages if s.kind == StageKind.OPEN]
                won = next(s for s in stages if s.kind == StageKind.WON)
                lost = next(s for s in stages if s.kind == StageKind.LOST)
                created = now - datetime.timedelta(days=rng.uniform(1, 540), minutes=rng.randint(0, 1440))
                roll = rng.random()
                reached = rng.randint(1, len(open_stages))
                path_stages = open_stages[:reached]
                final: Stage = path_stages[-1]
                if roll < 0.30:
                    final = won
                elif roll < 0.50:
                    final = lost
                if final.kind != StageKind.OPEN:
                    path_stages = [*path_stages, final]
                moment = created
                path = []
                for stage in path_stages:
                    path.append((stage, moment))
                    moment = moment + datetime.timedelta(days=rng.uniform(2, 30))
                if path[-1][1] > now:  # a deal is never moved in the future
                    path = [
                        (stage, min(at, now - datetime.timedelta(minutes=len(path) - i)))
                        for i, (stage, at) in enumerate(path)
                    ]
                    path = sorted(path, key=lambda item: item[1])
                closed_at = path[-1][1] if final.kind != StageKind.OPEN else None
                amount = Decimal(rng.choice((5, 8, 12, 20, 35, 50, 80, 120, 200, 500))) * 1000 + Decimal(
                    rng.randint(0, 99) * 100
                )
                close_date = (
                    closed_at.date() if closed_at else (now + datetime.timedelta(days=rng.randint(-20, 180))).date()
                )
                owner = owners[rng.randrange(len(owners))] if owners else None
                use_person = not account_ids or (person_ids and rng.random() < 0.15)
                words = DEAL_WORDS[rng.randrange(len(DEAL_WORDS))]
                name = words[index % 2]
                deals.append(
                    Opportunity(
                        name=f"{name} #{index + 1}",
                        account_id=(account_id := None if use_person else account_ids[rng.randrange(len(account_ids))]),
                        region=regions.get(account_id, "") if account_id else "",
                        person_id=person_ids[rng.randrange(len(person_ids))] if use_person else None,
                        pipeline=pipeline,
                        stage=final,
                        status=final.kind,
                        amount=amount,
                        currency="CNY",
                        probability=final.probability,
                        is_committed=final.kind == StageKind.OPEN and final.probability >= 50 and rng.random() < 0.6,
                        expected_close_date=close_date,
                        owner=owner,
                        source=rng.choice(sources),
                        next_step="" if closed_at else rng.choice(("Call back", "Send proposal", "Demo", "Visit")),
                        lost_reason=rng.choice(reasons) if final.kind == StageKind.LOST else "",
                        stage_changed_at=path[-1][1],
                        closed_at=closed_at,
                        created_at=created,
                        updated_at=path[-1][1],
                    )
                )
                paths.append(path)
            Opportunity.objects.bulk_create(deals, batch_size=BATCH)
            changes: list[StageChange] = []
            competitors: list[CompetitorOffer] = []
            for deal, path in zip(deals, paths, strict=True):
                previous: tuple[Stage, datetime.datetime] | None = None
                for stage, at in path:
                    changes.append(
                        StageChange(
                            opportunity=deal,
                            from_stage=previous[0] if previous else None,
                            to_stage=stage,
                            changed_at=at,
                            changed_by=deal.owner,
                            seconds_in_from_stage=int((at - previous[1]).total_seconds()) if previous else None,
                        )
                    )
                    previous = (stage, at)
                if deal.status == StageKind.WON and deal.closed_at is not None:
                    if deal.account_id:
                        won_accounts[deal.account_id] = max(
                            deal.closed_at, won_accounts.get(deal.account_id, deal.closed_at)
                        )
                    if deal.person_id:
                        won_people[deal.person_id] = max(deal.closed_at, won_people.get(deal.person_id, deal.closed_at))
                if competitor_ids and rng.random() < 0.1:
                    competitors.append(
                        CompetitorOffer(
                            opportunity=deal,
                            competitor_id=competitor_ids[rng.randrange(len(competitor_ids))],
                            offer=rng.choice(("Lower price", "Bundled support", "Faster delivery")),
                            amount=(deal.amount * Decimal("0.9")).quantize(Decimal("0.01")),
                        )
                    )
            StageChange.objects.bulk_create(changes, batch_size=BATCH)
            CompetitorOffer.objects.bulk_create(competitors, batch_size=BATCH)
            result.opportunities += len(deals)
            result.stage_changes += len(changes)
            result.competitors += len(competitors)
    _record_wins(Account, won_accounts)
    _record_wins(Person, won_people)
    rollups.rebuild()
    return result


def _first_regions(account_ids: Sequence[int]) -> dict[int, str]:
    """Each account's first address's region, as `create_opportunity` sets a deal's region."""
    regions: dict[int, str] = {}
    for account_id, region in (
        Address.objects.filter(account_id__in=list(account_ids)).order_by("-id").values_list("account_id", "region")
    ):
        regions[account_id] = region
    return regions


def _record_wins(model: type[Account] | type[Person], wins: dict[int, datetime.datetime]) -> None:
    """The customers' "last won" dates, one UPDATE per distinct day rather than per deal."""
    by_day: dict[datetime.date, list[tuple[int, datetime.datetime]]] = {}
    for pk, at in wins.items():
        by_day.setdefault(at.date(), []).append((pk, at))
    for items in by_day.values():
        latest = max(at for _pk, at in items)
        if model is Account:
            customer_services.record_won_deal(Account, [pk for pk, _at in items], latest)
        else:
            customer_services.record_won_deal(Person, [pk for pk, _at in items], latest)


def demo_owners() -> list[User | None]:
    """Sales staff own most deals; a few sit in the shared pool."""
    staff: list[User | None] = list(
        User.objects.filter(is_active=True, role__in=[StaffRole.SALES_REP, StaffRole.SALES_MANAGER]).order_by("id")
    )
    return [*staff, *staff, None] if staff else [None]


@transaction.atomic
def load_demo(size: str = "small", seed: int = 7) -> dict[str, int]:
    """Pipelines and deals for the demo; does nothing but report zeros when deals exist already."""
    pipelines = ensure_pipelines()
    if Opportunity.objects.exists():
        return {"pipelines": len(pipelines), "opportunities": 0, "stage_changes": 0, "competitors": 0}
    account_ids = list(
        Account.objects.exclude(kind=AccountKind.COMPETITOR).order_by("id").values_list("pk", flat=True)[:5_000]
    )
    person_ids = list(Person.objects.order_by("id").values_list("pk", flat=True)[:5_000])
    competitor_ids = list(
        Account.objects.filter(kind=AccountKind.COMPETITOR).order_by("id").values_list("pk", flat=True)[:50]
    )
    if not account_ids and not person_ids:
        return {"pipelines": len(pipelines), "opportunities": 0, "stage_changes": 0, "competitors": 0}
    result = generate(
        SIZES.get(size, SIZES["small"]),
        pipelines=pipelines,
        owners=demo_owners(),
        account_ids=account_ids,
        person_ids=person_ids,
        seed=seed,
        competitor_ids=competitor_ids,
    )
    return {
        "pipelines": len(pipelines),
        "opportunities": result.opportunities,
        "stage_changes": result.stage_changes,
        "competitors": result.competitors,
    }
