"""The forecast: weighted and committed amounts by month, owner and team, and how deals close
(win rate, deal size, cycle length, time per stage, conversion by source and region)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from guanxi.core.names import display_name
from guanxi.customers.models import Source
from guanxi.sales import queries
from guanxi.sales.charts import hbars
from guanxi.sales.forms import FilterForm
from guanxi.sales.views.common import filter_teams, filter_users, request_user


@login_required
@require_GET
def forecast(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    data = request.GET.copy()
    if "close_from" not in data and "close_to" not in data:
        start, end = queries.default_period()
        data["close_from"], data["close_to"] = start.isoformat(), end.isoformat()
    data.pop("stage", None)
    data.pop("status", None)
    filters = queries.OpportunityFilters.from_query(data)
    result = queries.forecast(user, filters)
    pool = _("Shared pool")
    no_team = _("No team")
    for row in result.by_owner:
        row["label"] = (
            display_name(row["owner__last_name"] or "", row["owner__first_name"] or "") or row["owner__username"]
            if row["owner_id"]
            else pool
        )
    for row in result.by_team:
        row["label"] = row["owner__team__name"] or no_team
    sources = dict(Source.choices)
    for row in result.by_source:
        row["label"] = str(sources.get(row["source"], row["source"])) if row["source"] else "—"
    for row in result.by_region:
        row["label"] = row["region"] or "—"
    money_series = [_("Open pipeline"), _("Weighted"), _("Committed"), _("Won")]

    def money_chart(rows: list[dict[str, object]], label_key: str) -> object:
        return hbars(
            [
                (str(row[label_key]), [row["pipeline"], row["weighted"], row["committed"], row["won"]])  # type: ignore[list-item]  # Decimal sums from the aggregate
                for row in rows
            ],
            money_series,
        )

    for row in result.by_month:
        row["label"] = row["month"].strftime("%Y-%m")
    context = {
        "filter_form": FilterForm(data, users=filter_users(user), teams=filter_teams(user)),
        "result": result,
        "month_chart": money_chart(result.by_month, "label"),
        "owner_chart": money_chart(result.by_owner[:15], "label"),
        "team_chart": money_chart(result.by_team, "label"),
        "stage_chart": hbars([(row["from_stage__name"], [row["days"]]) for row in result.stage_days], [_("Days")]),
        "source_chart": hbars(
            [(row["label"], [row["won"], row["lost"]]) for row in result.by_source[:12]], [_("Won"), _("Lost")]
        ),
        "region_chart": hbars(
            [(row["label"], [row["won"], row["lost"]]) for row in result.by_region[:12]], [_("Won"), _("Lost")]
        ),
        "money_series": money_series,
    }
    return render(request, "sales/forecast.html", context)
