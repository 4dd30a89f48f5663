"""Pages of the leads app, under /leads/."""

from django.urls import path

from guanxi.leads.views import configuration, lists, public, records

app_name = "leads"

urlpatterns = [
    path("", lists.lead_list, name="lead-list"),
    path("new/", records.lead_create, name="lead-create"),
    path("bulk/", lists.lead_bulk, name="lead-bulk"),
    path("<int:pk>/", records.lead_detail, name="lead-detail"),
    path("<int:pk>/edit/", records.lead_edit, name="lead-edit"),
    path("<int:pk>/status/", records.lead_status, name="lead-status"),
    path("<int:pk>/convert/", records.lead_convert, name="lead-convert"),
    path("settings/assignment-rules/", configuration.assignment_rule_list, name="assignment-rule-list"),
    path("settings/assignment-rules/new/", configuration.assignment_rule_edit, name="assignment-rule-create"),
    path("settings/assignment-rules/<int:pk>/edit/", configuration.assignment_rule_edit, name="assignment-rule-edit"),
    path("settings/assignment-rules/<int:pk>/move/", configuration.assignment_rule_move, name="assignment-rule-move"),
    path(
        "settings/assignment-rules/<int:pk>/toggle/",
        configuration.assignment_rule_toggle,
        name="assignment-rule-toggle",
    ),
    path(
        "settings/assignment-rules/<int:pk>/delete/",
        configuration.assignment_rule_delete,
        name="assignment-rule-delete",
    ),
    path("settings/scoring/", configuration.scoring_rule_list, name="scoring-rule-list"),
    path("settings/scoring/new/", configuration.scoring_rule_edit, name="scoring-rule-create"),
    path("settings/scoring/<int:pk>/edit/", configuration.scoring_rule_edit, name="scoring-rule-edit"),
    path("settings/scoring/<int:pk>/delete/", configuration.scoring_rule_delete, name="scoring-rule-delete"),
    path("settings/web-forms/", configuration.web_form_list, name="web-form-list"),
    path("settings/web-forms/new/", configuration.web_form_edit, name="web-form-create"),
    path("settings/web-forms/<int:pk>/", configuration.web_form_edit, name="web-form-edit"),
    path("form/<str:key>/", public.web_form_public, name="web-form-public"),
    path("form/<str:key>/thanks/", public.web_form_thanks, name="web-form-thanks"),
]
