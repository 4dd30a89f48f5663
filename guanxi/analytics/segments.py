"""Translated names and meanings of the engine's RFM segments, for the pages.

The engine is pure (no Django, so no gettext); its `SEGMENT_RULES` carry English labels. The
pages show these instead, keyed by the same segment keys.
"""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

LABELS: dict[str, Promise] = {
    "champions": _("Champions"),
    "loyal": _("Loyal"),
    "potential_loyalists": _("Potential loyalists"),
    "new": _("New"),
    "promising": _("Promising"),
    "need_attention": _("Need attention"),
    "about_to_sleep": _("About to sleep"),
    "cant_lose": _("Can't lose them"),
    "at_risk": _("At risk"),
    "hibernating": _("Hibernating"),
    "lost": _("Lost"),
}

DESCRIPTIONS: dict[str, Promise] = {
    "champions": _("Bought recently, buy often and spend the most."),
    "loyal": _("Buy regularly and spend well; respond to loyalty offers."),
    "potential_loyalists": _("Recent customers with average frequency and spend."),
    "new": _("Bought most recently, but not often yet."),
    "promising": _("Recent shoppers who have not spent much yet."),
    "need_attention": _("Average recency, frequency and spend; slipping."),
    "about_to_sleep": _("Below average recency and frequency; will be lost unless reactivated."),
    "cant_lose": _("Used to buy often and spend much, but not for a long time."),
    "at_risk": _("Spent well and bought often, but long ago."),
    "hibernating": _("Last purchase long ago, few orders, low spend."),
    "lost": _("Lowest recency, frequency and spend."),
}


def label(key: str) -> str:
    return str(LABELS.get(key, key))


def description(key: str) -> str:
    return str(DESCRIPTIONS.get(key, ""))
