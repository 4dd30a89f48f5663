"""Pages of the profitability app, under /profitability/."""

from django.urls import path

from guanxi.profitability import views

app_name = "profitability"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("run/", views.run_start, name="run-start"),
    path("review/", views.review, name="review"),
    path("review/action/", views.review_action, name="review-action"),
    path("<str:kind>/<int:pk>/service-level/", views.service_level, name="service-level"),
    path("settings/", views.settings_view, name="settings"),
    path("settings/acquisition-costs/", views.acquisition_costs, name="acquisition-costs"),
]
