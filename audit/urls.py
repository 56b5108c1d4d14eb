"""The Security page's routes. The URL map (sendfaxmail/urls.py) builds them with the function
that says whose log a request may read, which lives in `accounts`, above this app:

    path("dashboard/", include((security_urlpatterns(account_for=...), "audit")))
"""

from __future__ import annotations

from django.urls import URLPattern, path

from audit.views import AccountFor, SecurityLogExportView, SecurityLogView


def security_urlpatterns(*, account_for: AccountFor) -> list[URLPattern]:
    return [
        path("security", SecurityLogView.as_view(account_for=account_for), name="security"),
        path(
            "security/export",
            SecurityLogExportView.as_view(account_for=account_for),
            name="security_export",
        ),
    ]
