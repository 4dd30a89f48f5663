from django.urls import path

from guanxi.staff import views

app_name = "staff"

urlpatterns = [
    path("language/", views.set_language_view, name="set-language"),
]
