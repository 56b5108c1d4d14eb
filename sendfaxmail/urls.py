"""The whole URL map. This is the one module in sendfaxmail/ that names the apps."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView, TemplateView
from drf_spectacular.views import SpectacularJSONAPIView

from accounts.permissions import Action, member_urlpatterns
from accounts.selectors import audit_log_account_id
from accounts.urls import dashboard_urlpatterns
from audit.urls import security_urlpatterns
from fax_numbers import api as numbers_api
from faxes import api as faxes_api
from faxes.webhooks import telnyx_webhook
from sendfaxmail.lib.errors import not_found_view
from sendfaxmail.lib.metrics import metrics_view
from sendfaxmail.views import healthz

admin.site.site_header = "SendFaxMail support"
admin.site.site_title = "SendFaxMail support"

v1_urlpatterns = [
    *numbers_api.urlpatterns,
    *faxes_api.urlpatterns,
    path(
        "openapi.json",
        SpectacularJSONAPIView.as_view(
            authentication_classes=[], permission_classes=[], throttle_classes=[]
        ),
        name="openapi",
    ),
    # Anything else under /v1 is a 404 in the error envelope.
    re_path(r"^[\s\S]*$", not_found_view),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:home"), name="root"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/", include("accounts.urls")),
    path("dashboard/", include((dashboard_urlpatterns, "dashboard"))),
    path("dashboard/", include("developers.urls")),
    path("dashboard/", include("faxes.urls")),
    path("dashboard/", include("fax_numbers.urls")),
    path(
        "dashboard/",
        include(
            (
                member_urlpatterns(
                    security_urlpatterns(account_for=audit_log_account_id),
                    Action.VIEW_SECURITY_LOG,
                ),
                "audit",
            )
        ),
    ),
    path("v1/", include((v1_urlpatterns, "v1"))),
    re_path(r"^v1$", not_found_view),
    path("webhooks/telnyx", telnyx_webhook, name="telnyx_webhook"),
    path("docs/api", TemplateView.as_view(template_name="docs/api.html"), name="docs_api"),
    path(
        "docs/webhooks",
        TemplateView.as_view(template_name="docs/webhooks.html"),
        name="docs_webhooks",
    ),
    path("admin/", admin.site.urls),
]
