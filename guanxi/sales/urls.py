"""Pages of the sales app, under /sales/."""

from django.urls import path

from guanxi.sales.views import board, configuration, forecast, lists, quotes, records

app_name = "sales"

urlpatterns = [
    path("opportunities/", lists.opportunity_list, name="opportunity-list"),
    path("opportunities/new/", records.opportunity_create, name="opportunity-create"),
    path("opportunities/bulk/", lists.opportunity_bulk, name="opportunity-bulk"),
    path("opportunities/<int:pk>/", records.opportunity_detail, name="opportunity-detail"),
    path("opportunities/<int:pk>/edit/", records.opportunity_edit, name="opportunity-edit"),
    path("opportunities/<int:pk>/delete/", records.opportunity_delete, name="opportunity-delete"),
    path("opportunities/<int:pk>/move/", records.opportunity_move, name="opportunity-move"),
    path("opportunities/<int:pk>/contacts/", records.contact_add, name="contact-add"),
    path("contacts/<int:pk>/edit/", records.contact_edit, name="contact-edit"),
    path("contacts/<int:pk>/remove/", records.contact_remove, name="contact-remove"),
    path("opportunities/<int:pk>/lines/", records.line_add, name="line-add"),
    path("lines/<int:pk>/edit/", records.line_edit, name="line-edit"),
    path("lines/<int:pk>/remove/", records.line_remove, name="line-remove"),
    path("opportunities/<int:pk>/competitors/", records.competitor_add, name="competitor-add"),
    path("competitors/<int:pk>/edit/", records.competitor_edit, name="competitor-edit"),
    path("competitors/<int:pk>/remove/", records.competitor_remove, name="competitor-remove"),
    path("opportunities/<int:pk>/quote/", quotes.quote_from_opportunity, name="quote-from-opportunity"),
    path("quotes/", quotes.quote_list, name="quote-list"),
    path("quotes/<int:pk>/", quotes.quote_detail, name="quote-detail"),
    path("quotes/<int:pk>/print/", quotes.quote_print, name="quote-print"),
    path("quotes/<int:pk>/lines/", quotes.quote_line_add, name="quote-line-add"),
    path("quote-lines/<int:pk>/remove/", quotes.quote_line_remove, name="quote-line-remove"),
    path("quotes/<int:pk>/<str:action>/", quotes.quote_action, name="quote-action"),
    path("board/", board.board_default, name="board-default"),
    path("board/<int:pipeline_id>/", board.board, name="board"),
    path("forecast/", forecast.forecast, name="forecast"),
    path("settings/pipelines/", configuration.pipeline_list, name="pipeline-list"),
    path("settings/pipelines/new/", configuration.pipeline_create, name="pipeline-create"),
    path("settings/pipelines/<int:pk>/", configuration.pipeline_edit, name="pipeline-edit"),
    path("settings/pipelines/<int:pk>/delete/", configuration.pipeline_delete, name="pipeline-delete"),
    path("settings/pipelines/<int:pk>/stages/", configuration.stage_create, name="stage-create"),
    path("settings/stages/<int:pk>/", configuration.stage_edit, name="stage-edit"),
    path("settings/stages/<int:pk>/delete/", configuration.stage_delete, name="stage-delete"),
    path("settings/stages/<int:pk>/shift/", configuration.stage_shift, name="stage-shift"),
]
