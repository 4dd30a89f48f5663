"""Pages of the tracking app."""

from django.urls import URLPattern, path

from guanxi.tracking import views

app_name = "tracking"

urlpatterns: list[URLPattern] = [
    path("sources/", views.source_list, name="source-list"),
    path("sources/new/", views.source_create, name="source-create"),
    path("sources/<int:pk>/", views.source_detail, name="source-detail"),
    path("sources/<int:pk>/revoke/", views.source_revoke, name="source-revoke"),
    path("sources/<int:pk>/plan/", views.source_plan, name="source-plan"),
    path("sources/<int:pk>/plan.json", views.source_plan_export, name="source-plan-export"),
    path("sources/<int:pk>/plan/clear/", views.source_plan_clear, name="source-plan-clear"),
    path("profiles/", views.profile_list, name="profile-list"),
    path("profiles/<int:pk>/", views.profile_detail, name="profile-detail"),
    path("merges/<int:pk>/undo/", views.merge_undo, name="merge-undo"),
]
