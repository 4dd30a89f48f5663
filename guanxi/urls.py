from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/openapi.json", SpectacularJSONAPIView.as_view(), name="api-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/", include("guanxi.api_urls")),
    path("v1/", include("guanxi.tracking.ingest_urls")),
    path("data/", include("guanxi.dataio.urls")),
    path("staff/", include("guanxi.staff.urls")),
    path("commerce/", include("guanxi.commerce.urls")),
    path("sales/", include("guanxi.sales.urls")),
    path("leads/", include("guanxi.leads.urls")),
    path("follow-up/", include("guanxi.activities.urls")),
    path("tracking/", include("guanxi.tracking.urls")),
    path("analytics/", include("guanxi.analytics.urls")),
    path("profitability/", include("guanxi.profitability.urls")),
    path("", include("guanxi.customers.urls")),
    path("", include("guanxi.web.urls")),
]

handler404 = "guanxi.core.views.not_found"
handler500 = "guanxi.core.views.server_error"
