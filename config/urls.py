from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.api.docs import ApiRedocView
from planning_sync.metrics import metrics_view
from suppliers import views as supplier_views

admin.site.site_header = "Supplyline administration"
admin.site.site_title = "Supplyline admin"
# The admin's own sign-in form would take a password alone: no two-factor step, none of the login limits.
# Staff sign in through the portal's (allauth's) sign-in instead, and come back to the admin.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers: the process answers; no database call."""
    return HttpResponse("ok", content_type="text/plain")


def not_offered(request: HttpRequest, **kwargs: str) -> HttpResponse:
    """An allauth page the portal does not offer: a 404, as if allauth had no such page.

    Addresses are provisioned by the distributor or a supplier admin and not verified
    (ACCOUNT_EMAIL_VERIFICATION is "none"), so the e-mail address page would let a user add an
    address, unverified, and make it their login; the confirmation pages only serve that page.
    docs/security.md lists the allauth pages that are reachable.
    """
    raise Http404


urlpatterns = [
    path("", supplier_views.home, name="home"),
    path("", include("suppliers.urls")),
    path("", include("purchasing.urls")),
    path("exceptions/", include("exceptions.urls")),
    # Before allauth's own patterns, so these addresses reach no allauth view.
    path("accounts/email/", not_offered, name="account_not_offered_email"),
    path("accounts/confirm-email/", not_offered, name="account_not_offered_confirm_email_sent"),
    path("accounts/confirm-email/<str:key>/", not_offered, name="account_not_offered_confirm_email"),
    path("audit/", include("config.audit.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("integration/", include("planning_sync.urls")),
    path("monitor/", include("planning_sync.monitor_urls")),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", ApiRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

# Unknown addresses and crashes under /api/ answer with problem details, like the API's views.
handler404 = "config.api.errors.page_not_found"
handler500 = "config.api.errors.server_error"
