"""Demo leads on top of the demo staff and customers: default rules, a web form, a few hundred
leads across sources and statuses (scored by the rules), and some converted through the service.

Rules and the form go through the services (so they have history); leads are written with one
`bulk_create` (scores computed by the same `scoring` functions the services use) because a demo
of thousands should load in a second. Deterministic for a seed; a second run adds no leads.
"""

import random
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from guanxi.customers.models import Account
from guanxi.customers.normalise import full_name
from guanxi.leads import scoring, services
from guanxi.leads.models import AssignmentRule, Lead, LeadSource, LeadStatus, ScoringRule, WebForm
from guanxi.staff.models import StaffRole, User

SIZES = {"small": 300, "medium": 1_500, "large": 6_000}
CONVERTED = {"small": 12, "medium": 30, "large": 60}

FAMILY_CN = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN_CN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "晓明",
    "建华",
]
FAMILY_EN = [
    "Smith",
    "Brown",
    "Taylor",
    "Wilson",
    "Evans",
    "Walker",
    "Wright",
    "Green",
    "Hall",
    "Wood",
    "Clarke",
    "King",
]
GIVEN_EN = ["James", "Olivia", "Jack", "Emily", "Harry", "Sophie", "George", "Grace", "Leo", "Chloe", "Oscar", "Mia"]
COMPANY_CN = ["华信", "联创", "恒通", "鼎盛", "瑞丰", "中科", "金桥", "蓝海", "宏达", "新元", "天启", "博远"]
COMPANY_KIND_CN = ["科技有限公司", "贸易有限公司", "制造有限公司", "信息技术有限公司", "医疗器械有限公司"]
COMPANY_EN = ["Northwind", "Bluepeak", "Riverstone", "Brightline", "Oakfield", "Silverleaf", "Harbour", "Summit"]
COMPANY_KIND_EN = ["Systems Ltd", "Trading Co", "Manufacturing Ltd", "Logistics Ltd", "Health Ltd"]
INDUSTRIES = ["Manufacturing", "Retail", "Healthcare", "Logistics", "Software", "Education", "Finance"]
REGIONS_CN = ["上海", "江苏", "浙江", "广东", "北京", "四川", "湖北", "山东"]
TITLES = ["采购经理", "总经理", "IT 主管", "Operations Manager", "CTO", "Buyer", "财务总监", ""]
SOURCES = [
    (LeadSource.WEB_FORM, 30),
    (LeadSource.CAMPAIGN, 15),
    (LeadSource.REFERRAL, 12),
    (LeadSource.TRADE_SHOW, 15),
    (LeadSource.COLD_CALL, 13),
    (LeadSource.IMPORT, 10),
    (LeadSource.API, 5),
]
STATUSES = [
    (LeadStatus.NEW, 40),
    (LeadStatus.WORKING, 30),
    (LeadStatus.QUALIFIED, 15),
    (LeadStatus.DISQUALIFIED, 15),
]
DISQUALIFY_REASONS = ["No budget this year", "Student project", "Duplicate enquiry", "Competitor", "Wrong country"]
SCORING_DEFAULTS: list[dict[str, Any]] = [
    {"label": "Gave a phone number", "kind": "field_filled", "field": "phone", "points": 10},
    {"label": "Manufacturing", "kind": "field_equals", "field": "industry", "value": "Manufacturing", "points": 20},
    {"label": "Referred by a customer", "kind": "field_equals", "field": "source", "value": "referral", "points": 25},
    {"label": "Met at a trade show", "kind": "field_equals", "field": "source", "value": "trade_show", "points": 15},
    {
        "label": "Large company (500+)",
        "kind": "field_equals",
        "field": "attribute",
        "attribute_key": "company_size",
        "value": "500+",
        "points": 20,
    },
    {"label": "3 or more follow-ups", "kind": "activity_count", "threshold": 3, "points": 20},
    {"label": "Follow-up in the last 14 days", "kind": "recency", "threshold": 14, "points": 15},
]


def _weighted(rng: random.Random, options: list[tuple[Any, int]]) -> Any:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _ensure_rules(admin: User) -> int:
    created = 0
    if not ScoringRule.objects.exists():
        for position, data in enumerate(SCORING_DEFAULTS):
            services.create_scoring_rule(admin, {**data, "position": position})
            created += 1
    if not AssignmentRule.objects.exists():
        users = {u.username: u for u in User.objects.filter(username__in=["rep1", "rep2", "manager"], is_active=True)}
        rep1 = users.get("rep1")
        team = rep1.team if rep1 is not None else None
        if rep1 is not None:
            services.create_assignment_rule(
                admin, {"name": "Referrals to Tom", "sources": ["referral"], "action": "user", "assign_to": rep1}
            )
            created += 1
        if team is not None:
            services.create_assignment_rule(
                admin,
                {
                    "name": "East China: take turns",
                    "regions": ["上海", "江苏", "浙江"],
                    "action": "round_robin",
                    "team": team,
                },
            )
            created += 1
    return created


def load_demo(size: str = "small", seed: int = 7) -> dict[str, int]:
    """Build the demo; returns what it created by kind. Needs the demo staff (customers' demo)."""
    admin = User.objects.filter(username="admin").first() or User.objects.filter(role=StaffRole.ADMIN).first()
    if admin is None:
        return {"rules": 0, "web_forms": 0, "leads": 0, "converted": 0}
    result = {"rules": _ensure_rules(admin), "web_forms": 0, "leads": 0, "converted": 0}
    if not WebForm.objects.filter(name="Website contact form").exists():
        services.create_web_form(
            admin,
            {
                "name": "Website contact form",
                "fields": ["family_name", "given_name", "company_name", "job_title", "email", "phone", "message"],
                "thank_you_text": "谢谢！我们会在一个工作日内联系您。"
                " Thank you, we will be in touch within a working day.",
            },
        )
        result["web_forms"] = 1
    if Lead.objects.exists():
        return result
    rng = random.Random(seed)  # noqa: S311  -- demo data, not secrets
    owners = list(User.objects.filter(is_active=True, role__in=services.ROUND_ROBIN_ROLES).order_by("pk"))
    rules, bands = scoring.active_rules(), scoring.grade_bands()
    web_form = WebForm.objects.filter(name="Website contact form").first()
    now = timezone.now()
    leads: list[Lead] = []
    created_dates = []
    for index in range(SIZES.get(size, SIZES["small"])):
        chinese = rng.random() < 0.7
        if chinese:
            family, given = rng.choice(FAMILY_CN), rng.choice(GIVEN_CN)
            company = rng.choice(REGIONS_CN) + rng.choice(COMPANY_CN) + rng.choice(COMPANY_KIND_CN)
            region, country = rng.choice(REGIONS_CN), "CN"
        else:
            family, given = rng.choice(FAMILY_EN), rng.choice(GIVEN_EN)
            company = f"{rng.choice(COMPANY_EN)} {rng.choice(COMPANY_KIND_EN)}"
            region, country = "", rng.choice(["GB", "US", "SG", "DE"])
        source = _weighted(rng, SOURCES)
        status = _weighted(rng, STATUSES)
        activity = rng.choice([0, 0, 1, 1, 2, 3, 4, 6])
        created = now - timedelta(days=rng.randint(0, 180), minutes=rng.randint(0, 1440))
        last = created + (now - created) * rng.random() if activity else None
        lead = Lead(
            family_name=family,
            given_name=given,
            full_name=full_name(family, given),
            company_name=company,
            job_title=rng.choice(TITLES),
            email=f"lead{index}@{'example.com' if rng.random() < 0.5 else f'co{index % 97}.example'}",
            phone=f"+86138{rng.randint(0, 99_999_999):08d}" if rng.random() < 0.7 else "",
            industry=rng.choice(INDUSTRIES),
            region=region,
            country=country,
            source=source,
            source_detail="Website contact form" if source == LeadSource.WEB_FORM else "",
            web_form=web_form if source == LeadSource.WEB_FORM else None,
            status=status,
            disqualified_reason=rng.choice(DISQUALIFY_REASONS) if status == LeadStatus.DISQUALIFIED else "",
            owner=rng.choice(owners) if owners and rng.random() < 0.8 else None,
            activity_count=activity,
            last_activity_at=last,
            attributes={"company_size": rng.choice(["1-49", "50-499", "500+"])},
            created_by=admin,
        )
        lead.team_id = lead.owner.team_id if lead.owner else None
        scoring.apply_score(lead, scoring.score_lead(lead, rules, bands, now))
        leads.append(lead)
        created_dates.append(created)
    with transaction.atomic():
        Lead.objects.bulk_create(leads, batch_size=1000)
        # auto_now_add stamped "now" on insert: give the demo its spread of creation dates.
        for lead, created in zip(leads, created_dates, strict=True):
            lead.created_at = created
        Lead.objects.bulk_update(leads, ["created_at"], batch_size=1000)
    result["leads"] = len(leads)
    qualified = [x for x in leads if x.status == LeadStatus.QUALIFIED][: CONVERTED.get(size, CONVERTED["small"])]
    taken_names = set(
        Account.objects.filter(name__in=[x.company_name for x in qualified]).values_list("name", flat=True)
    )
    for lead in qualified:
        if lead.company_name in taken_names:
            continue
        services.convert_lead(admin, lead, create_opportunity=rng.random() < 0.5)
        taken_names.add(lead.company_name)
        result["converted"] += 1
    return result
