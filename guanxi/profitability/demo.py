"""Demo profitability: believable costs, a year of acquisition spending per source, and a first run.

Costs: a call 15, an e-mail 3, a meeting 120, a visit 260 (a half day on the road), a service
ticket 45 (CNY). Spending per lead source and month over the last twelve months, larger for trade
shows and campaigns than for referrals. Set only where nothing is set yet, so a second call
changes no figure an admin typed; each call adds one run.
"""

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from guanxi.engine.profitability import month_start
from guanxi.leads.models import LeadSource
from guanxi.profitability import services
from guanxi.profitability.models import AcquisitionCost, ActivityCost
from guanxi.staff.models import StaffRole, User

ACTIVITY_COSTS = {"call": "15.00", "email": "3.00", "meeting": "120.00", "visit": "260.00", "note": "0.00"}
TICKET_COST = "45.00"
#: Typical monthly spend per source (CNY); each month varies around it.
MONTHLY_SPEND = {
    LeadSource.WEB_FORM: 6_000,
    LeadSource.CAMPAIGN: 12_000,
    LeadSource.REFERRAL: 1_500,
    LeadSource.TRADE_SHOW: 18_000,
    LeadSource.COLD_CALL: 4_000,
}
MONTHS = {"small": 12, "large": 24}


def _admin() -> User | None:
    return User.objects.filter(is_active=True, role=StaffRole.ADMIN).order_by("pk").first()


def _months_back(count: int) -> list[dt.date]:
    month = month_start(timezone.localdate())
    months = []
    for _ in range(count):
        months.append(month)
        month = month_start(month - dt.timedelta(days=1))
    return months


def load_demo(size: str = "small", seed: int = 7) -> dict[str, int]:
    admin = _admin()
    counts = {"acquisition_costs": 0, "customers": 0, "served_at_a_loss": 0}
    if admin is not None:
        if not ActivityCost.objects.exists():
            services.update_settings(admin, currency="CNY", ticket_cost=TICKET_COST, activity_costs=ACTIVITY_COSTS)
        rng = random.Random(seed)  # noqa: S311  # demo figures, not secrets
        taken = set(AcquisitionCost.objects.values_list("source", "month"))
        entries: dict[tuple[str, dt.date], str] = {}
        for month in _months_back(MONTHS.get(size, 12)):
            for source, typical in MONTHLY_SPEND.items():
                amount = Decimal(round(typical * rng.uniform(0.6, 1.4), -2)).quantize(Decimal("0.01"))
                if (str(source), month) not in taken:
                    entries[(str(source), month)] = str(amount)
        counts["acquisition_costs"] = services.save_acquisition_costs(admin, entries) if entries else 0
    run = services.run_profitability(None)
    counts["customers"] = run.customers
    counts["served_at_a_loss"] = int(run.results.get("totals", {}).get("loss_customers", 0))
    return counts
