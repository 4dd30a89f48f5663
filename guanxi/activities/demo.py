"""Demo data for follow-ups: the default follow-up plans (A every 3 days, B weekly, C monthly, D
none), a few talk scripts, pool rules on the first demo team, and follow-up records and tasks over
the demo customers, so My day, the timelines and the task list have something to show.

Rows are built in Python and written with `bulk_create`; the customers' "last follow-up" dates are
then set from the records in one UPDATE per model. Deterministic for a seed; a second run adds
nothing (it finds the records there).
"""

import random
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from guanxi.activities.models import (
    Activity,
    ActivityKind,
    FollowUpPlan,
    Initiator,
    TalkScript,
    Task,
    TaskOrigin,
    TaskStatus,
)
from guanxi.customers.models import Account, Person
from guanxi.staff.models import Team, User

SIZES = {"small": 400, "large": 20_000}
DEFAULT_PLANS = (("A", 3), ("B", 7), ("C", 30))
SUBJECTS = {
    ActivityKind.CALL: ("电话沟通需求", "Follow-up call on the quote", "确认下次拜访时间", "Price question"),
    ActivityKind.MEETING: ("方案评审会", "Product demo", "季度业务回顾"),
    ActivityKind.VISIT: ("上门拜访", "Site visit", "拜访采购部"),
    ActivityKind.EMAIL: ("发送报价单", "Sent the brochure", "合同条款确认"),
    ActivityKind.NOTE: ("客户近期预算紧张", "Decision expected next month"),
}
OUTCOMES = ("有意向", "Interested", "需要再跟进", "Needs a second call", "暂无需求", "")
NEXT_STEPS = ("发送报价", "Send a quote", "安排演示", "Book a demo", "")
SCRIPTS = (
    (
        "电话开场白 / Call opener",
        ActivityKind.CALL,
        "您好，我是关系科技的{姓名}，上次您在展会上留下了联系方式……\n"
        "Hello, this is {name} from Guanxi; you left your card at our stand…",
    ),
    (
        "拜访准备清单 / Visit checklist",
        ActivityKind.VISIT,
        "1. 确认决策人 2. 带上案例 3. 约定下一步\n"
        "1. Confirm the decision maker 2. Bring a case study 3. Agree the next step",
    ),
    ("异议处理：价格 / Objection: price", "", "先确认价值，再谈价格。Value first, then price."),
)


def _plans_and_scripts() -> tuple[int, int]:
    plans = 0
    for grade, days in DEFAULT_PLANS:
        _plan, created = FollowUpPlan.objects.get_or_create(grade=grade, defaults={"interval_days": days})
        plans += int(created)
    scripts = 0
    if not TalkScript.objects.exists():
        TalkScript.objects.bulk_create(
            TalkScript(title=title, kind=kind, body=body, position=n) for n, (title, kind, body) in enumerate(SCRIPTS)
        )
        scripts = len(SCRIPTS)
    return plans, scripts


def _pool_rules() -> int:
    team = Team.objects.order_by("pk").first()
    if team is None or team.reclaim_after_days_without_follow_up is not None:
        return 0
    return Team.objects.filter(pk=team.pk).update(
        reclaim_after_days_without_follow_up=30,
        reclaim_after_days_without_win=180,
        reclaim_warning_days=3,
        max_customers_per_rep=500,
    )


def _activity(rng: random.Random, now: datetime, owner_id: int, target: dict[str, int]) -> Activity:
    kind = rng.choices(list(SUBJECTS), weights=(5, 2, 2, 3, 1))[0]
    occurred = now - timedelta(days=rng.uniform(0, 90))
    customer_started = rng.random() < 0.3 and kind in (ActivityKind.CALL, ActivityKind.EMAIL)
    answered = occurred + timedelta(minutes=rng.choice((5, 20, 45, 90, 240, 1500))) if customer_started else None
    return Activity(
        kind=kind,
        subject=rng.choice(SUBJECTS[kind]),
        outcome=rng.choice(OUTCOMES),
        next_step=rng.choice(NEXT_STEPS),
        initiated_by=Initiator.CUSTOMER if customer_started else Initiator.US,
        occurred_at=occurred,
        answered_at=answered if answered is None or answered <= now else now,
        owner_id=owner_id,
        **{f"{name}_id": pk for name, pk in target.items()},
    )


def _advance_follow_ups() -> None:
    """Each customer's last follow-up from its records (what `log_activity` keeps current)."""
    for model, field in ((Person, "person"), (Account, "account")):
        latest = (
            Activity.objects.filter(**{field: OuterRef("pk")})
            .order_by()
            .values(field)
            .annotate(at=Max("occurred_at"))
            .values("at")
        )
        ids = Activity.objects.filter(**{f"{field}__isnull": False}).values(field)
        model.objects.filter(pk__in=ids).update(last_follow_up_at=Subquery(latest))


@transaction.atomic
def load_demo(size: str = "small", seed: int = 7) -> dict[str, int]:
    """Plans, scripts, pool rules, follow-up records and tasks over the demo customers."""
    plans, scripts = _plans_and_scripts()
    counts: dict[str, Any] = {"plans": plans, "talk_scripts": scripts, "teams_with_rules": _pool_rules()}
    if Activity.objects.exists():
        return {**counts, "activities": 0, "tasks": 0}
    rng = random.Random(seed)  # noqa: S311  # demo data, not secrets
    now = timezone.now()
    wanted = SIZES.get(size, SIZES["small"])
    people = list(
        Person.objects.filter(owner__isnull=False).order_by("pk").values_list("pk", "owner_id", "grade")[:wanted]
    )
    accounts = list(
        Account.objects.filter(owner__isnull=False).order_by("pk").values_list("pk", "owner_id", "grade")[: wanted // 2]
    )
    if not people and not accounts:
        return {**counts, "activities": 0, "tasks": 0}
    activities: list[Activity] = []
    for n in range(wanted):
        use_person = bool(people) and (not accounts or n % 3 != 0)
        pk, owner_id, _grade = rng.choice(people if use_person else accounts)
        activities.append(_activity(rng, now, owner_id, {"person" if use_person else "account": pk}))
    Activity.objects.bulk_create(activities, batch_size=2000)
    _advance_follow_ups()

    intervals = dict(DEFAULT_PLANS)
    tasks: list[Task] = []
    for model, rows, field in ((Person, people, "person"), (Account, accounts, "account")):
        last: dict[int, datetime | None] = dict(
            model.objects.filter(pk__in=[r[0] for r in rows]).values_list("pk", "last_follow_up_at")
        )
        for pk, owner_id, grade in rows:
            contacted = last.get(pk)
            if grade in intervals and contacted is not None:
                tasks.append(
                    Task(
                        title=f"跟进 / Follow up #{pk}",
                        due_at=contacted + timedelta(days=intervals[grade]),
                        assignee_id=owner_id,
                        origin=TaskOrigin.PLAN,
                        **{f"{field}_id": pk},
                    )
                )
    reps = list(User.objects.filter(username__in=["rep1", "rep2", "manager"]).values_list("pk", flat=True))
    for n, (pk, _owner, _grade) in enumerate(people[: min(40, len(people))]):
        assignee = reps[n % len(reps)] if reps else None
        tasks.append(
            Task(
                title=rng.choice(("发送合同 / Send the contract", "回电 / Call back", "准备报价 / Prepare a quote")),
                due_at=now + timedelta(hours=rng.randint(-72, 72)),
                remind_at=None,
                assignee_id=assignee,
                person_id=pk,
                status=TaskStatus.DONE if n % 7 == 0 else TaskStatus.OPEN,
                completed_at=now if n % 7 == 0 else None,
            )
        )
    Task.objects.bulk_create(tasks, batch_size=2000)
    return {**counts, "activities": len(activities), "tasks": len(tasks)}
