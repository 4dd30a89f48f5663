"""Pages of the analytics app, under /analytics/."""

from django.urls import path

from guanxi.analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("runs/", views.run_list, name="run-list"),
    path("runs/start/", views.run_start, name="run-start"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("rules/", views.rule_list, name="rule-list"),
    path("rules/new/", views.rule_create, name="rule-create"),
    path("rules/<int:pk>/edit/", views.rule_edit, name="rule-edit"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule-delete"),
    path("churn/", views.churn_model, name="churn"),
    path("engagement/", views.engagement, name="engagement"),
    path("engagement/edit/", views.engagement_edit, name="engagement-edit"),
    path("health/", views.health_list, name="health"),
]
