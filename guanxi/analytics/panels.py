"""The panel analytics adds to account and contact pages: the record's scores, what they mean,
its churn risk (and where it comes from), its 4 I's with the engagement definition that made
them, a contract customer's health with its reasons, and its precomputed cross-sell
suggestions ("bought A and B, often buys C").

The scores are read from the record itself; the page has already checked that the viewer may
see the record; the 4 I's, the health and the suggestions are one indexed read each.
"""

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from guanxi.analytics import labels, queries, segments
from guanxi.core import panels

RECORD_FIELDS = {"customers.account": "account", "customers.person": "person"}
OFFERS_SHOWN = 3


def _segment(key: str) -> dict[str, str] | None:
    if key not in segments.LABELS:
        return None
    return {"label": segments.label(key), "description": segments.description(key)}


def _renderer(record_type: str) -> panels.PanelRenderer:
    field = RECORD_FIELDS[record_type]

    def render(request: HttpRequest, record: object) -> SafeString | str:
        pk = getattr(record, "pk", None)
        if pk is None:
            return ""
        offers = (
            queries.offers_for(person_id=pk, limit=OFFERS_SHOWN)
            if field == "person"
            else queries.offers_for(account_id=pk, limit=OFFERS_SHOWN)
        )
        score, health = queries.scores_of(person_id=pk) if field == "person" else queries.scores_of(account_id=pk)
        return render_to_string(
            "analytics/_scores_panel.html",
            {
                "party": record,
                "segment": _segment(getattr(record, "rfm_segment", "")),
                "offers": offers,
                "score": score,
                "i_scores": [{"label": labels.i_label(name), "value": getattr(score, name)} for name in labels.I_LABELS]
                if score
                else [],
                "definition_rows": labels.definition_rows(score.definition.items) if score else [],
                "health": health,
                "health_reasons": labels.reasons(health.reasons) if health else [],
                "contract_rule": labels.contract_rule() if health else "",
            },
            request=request,
        )

    return render


def register() -> None:
    for record_type in RECORD_FIELDS:
        panels.register_panel(record_type, "analytics.scores", _renderer(record_type), order=40)
