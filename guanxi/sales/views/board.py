"""The kanban board of one pipeline: a column per stage with count and totals, the first cards
of each column, drag and drop (board.js) and a "Move to" form on every card that works without
JavaScript or a mouse."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from guanxi.sales import queries, services
from guanxi.sales.forms import FilterForm
from guanxi.sales.models import LostReason, Pipeline
from guanxi.sales.views.common import filter_teams, filter_users, request_user


@login_required
@require_GET
def board_default(request: HttpRequest) -> HttpResponse:
    pipeline = queries.active_pipelines().first() or services.ensure_default_pipeline()
    query = request.GET.urlencode()
    return redirect(reverse("sales:board", args=[pipeline.pk]) + (f"?{query}" if query else ""))


@login_required
@require_GET
def board(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    user = request_user(request)
    pipeline = get_object_or_404(Pipeline, pk=pipeline_id)
    data = request.GET.copy()
    data.pop("pipeline", None)
    data.pop("stage", None)
    data.pop("status", None)
    filters = queries.OpportunityFilters.from_query(data)
    queryset = queries.filter_opportunities(queries.visible_opportunities(user), filters, user)
    columns = queries.board_columns(pipeline, queryset)
    # The "Move to" options of each column, rendered once rather than once per card (50 cards a
    # column made the option loops most of the page's time).
    for column in columns:
        column.move_options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (other.stage.pk, mark_safe(" selected") if other.stage.pk == column.stage.pk else "", other.stage.name)
                for other in columns
            ),
        )
    list_query = data.copy()
    list_query["pipeline"] = str(pipeline.pk)
    context = {
        "pipeline": pipeline,
        "pipelines": list(queries.active_pipelines()),
        "columns": columns,
        "filter_form": FilterForm(data, users=filter_users(user), teams=filter_teams(user)),
        "is_filtered": filters.is_filtered,
        "lost_reasons": LostReason.choices,
        "lost_options": format_html_join("", '<option value="{}">{}</option>', LostReason.choices),
        "list_query": list_query.urlencode(),
        "editable_ids": set(
            queries.editable_opportunities(user)
            .filter(pk__in=[card.pk for column in columns for card in column.cards])
            .values_list("pk", flat=True)
        ),
    }
    return render(request, "sales/board.html", context)
