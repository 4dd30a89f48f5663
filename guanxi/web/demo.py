"""Demo data for the whole product: customers first, then each app that builds on them.

Lives in `web` because only the top layer may name every app. The order follows the layers:
orders before deals that quote products, leads before the follow-ups that touch them, and
analytics last, scoring the orders the others made.
"""

from collections.abc import Callable

from guanxi.activities import demo as activities_demo
from guanxi.analytics import demo as analytics_demo
from guanxi.commerce import demo as commerce_demo
from guanxi.leads import demo as leads_demo
from guanxi.profitability import demo as profitability_demo
from guanxi.sales import demo as sales_demo
from guanxi.tracking import demo as tracking_demo

APP_DEMOS: list[tuple[str, Callable[..., dict[str, int]]]] = [
    ("commerce", commerce_demo.load_demo),
    ("sales", sales_demo.load_demo),
    ("leads", leads_demo.load_demo),
    ("activities", activities_demo.load_demo),
    ("tracking", tracking_demo.load_demo),
    ("analytics", analytics_demo.load_demo),
    ("profitability", profitability_demo.load_demo),
]


def load_app_demos(size: str = "small", seed: int = 7, report: Callable[[str], None] | None = None) -> dict[str, int]:
    """Each app's demo rows on top of the demo customers and staff; returns counts by "app.thing"."""
    counts: dict[str, int] = {}
    for app, load in APP_DEMOS:
        for key, value in load(size=size, seed=seed).items():
            counts[f"{app}.{key}"] = value
        if report is not None:
            report(app)
    return counts
