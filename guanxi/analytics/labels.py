"""The words for the engine's codes: the 4 I's, behaviours, health components and reasons.

The engine speaks in stable English keys so stored results stay valid when the UI language
changes; this module turns them into the user's language at display time.
"""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from guanxi.analytics.behaviour import CONTRACT_MIN_MONTHS
from guanxi.engine import engagement

I_LABELS = {
    "involvement": gettext_lazy("Involvement"),
    "interaction": gettext_lazy("Interaction"),
    "intimacy": gettext_lazy("Intimacy"),
    "influence": gettext_lazy("Influence"),
}

BEHAVIOUR_LABELS = {
    "tracked_events_90": gettext_lazy("Tracked events, last 90 days"),
    "active_days_90": gettext_lazy("Days with tracked activity, last 90 days"),
    "orders_365": gettext_lazy("Orders, last 365 days"),
    "products_365": gettext_lazy("Different products bought, last 365 days"),
    "contacts_90": gettext_lazy("Two-way contacts, last 90 days"),
    "customer_started_90": gettext_lazy("Contacts the customer started, last 90 days"),
    "answered_promptly_share": gettext_lazy("Share of customer-started contacts answered within 24 hours"),
    "meetings_365": gettext_lazy("Meetings and visits, last 365 days"),
    "satisfaction": gettext_lazy("Satisfaction (no data until a service app exists)"),
    "feedback_sentiment": gettext_lazy("Sentiment of feedback (no data until a service app exists)"),
    "referrals": gettext_lazy("Referrals (leads the customer referred)"),
    "referrals_converted": gettext_lazy("Referrals that became customers"),
    "shares": gettext_lazy("Tracked share events, last 365 days"),
    "reviews": gettext_lazy("Tracked review events, last 365 days"),
}

FEATURE_LABELS = {
    "days_since_last": gettext_lazy("Days since the last order"),
    "tenure_days": gettext_lazy("Days since the first order"),
    "orders_90": gettext_lazy("Orders, last 90 days"),
    "orders_365": gettext_lazy("Orders, last 365 days"),
    "log_revenue_365": gettext_lazy("Revenue, last 365 days (log)"),
    "active_months_365": gettext_lazy("Months with an order, last 12 months"),
    "contacts_90": gettext_lazy("Two-way contacts, last 90 days"),
    "customer_started_90": gettext_lazy("Contacts the customer started, last 90 days"),
    "tracked_events_90": gettext_lazy("Tracked events, last 90 days"),
}

COMPONENT_LABELS = {
    "payments": gettext_lazy("Payments on time"),
    "cases": gettext_lazy("Open cases"),
    "engagement": gettext_lazy("Engagement"),
    "usage": gettext_lazy("Usage"),
}


def i_label(name: str) -> str:
    return str(I_LABELS.get(name, name))


def behaviour_label(key: str) -> str:
    return str(BEHAVIOUR_LABELS.get(key, key))


def feature_label(key: str) -> str:
    return str(FEATURE_LABELS.get(key, key))


def contract_rule() -> str:
    """The rule that makes a customer a contract customer, as shown on every page that uses it."""
    return _(
        "Contract customers are those who bought in at least %(months)s different calendar months of the "
        "last 12 months, the pattern a contract or subscription leaves in the orders."
    ) % {"months": CONTRACT_MIN_MONTHS}


def reason_text(reason: dict[str, Any]) -> str:
    """One health reason in words, e.g. "1 of 2 due orders paid late; 1 still overdue"."""
    code = reason.get("code")
    f = reason.get("figures", {})
    if code == "payments":
        late, due, overdue = int(f.get("late", 0)), int(f.get("due", 0)), int(f.get("overdue", 0))
        text = ngettext(
            "%(late)s of %(due)s due order not paid in full on time",
            "%(late)s of %(due)s due orders not paid in full on time",
            due,
        ) % {"late": late, "due": due}
        if overdue:
            text += "; " + ngettext("%(n)s still overdue", "%(n)s still overdue", overdue) % {"n": overdue}
        return text
    if code == "cases":
        n = int(f.get("open", 0))
        return ngettext("%(n)s open case", "%(n)s open cases", n) % {"n": n}
    if code == "engagement":
        return _("Engagement %(score)s of 100") % {"score": round(float(f.get("score", 0)))}
    if code == "usage":
        return _("Usage down %(drop)s%% on the previous 90 days (%(recent)s events in the last 30 days)") % {
            "drop": round(float(f.get("drop", 0))),
            "recent": int(f.get("recent", 0)),
        }
    return str(code)


def reasons(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reasons with their text and the points they cost, worst first (as stored)."""
    return [{"text": reason_text(r), "points": r.get("points", 0)} for r in rows]


def definition_rows(items: dict[str, list[list[Any]]]) -> list[dict[str, Any]]:
    """A definition for display: per I its label and its behaviours with weights."""
    return [
        {
            "name": name,
            "label": i_label(name),
            "behaviours": [
                {"key": key, "label": behaviour_label(key), "weight": weight} for key, weight in items.get(name, [])
            ],
        }
        for name in engagement.I_NAMES
    ]
