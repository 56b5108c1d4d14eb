"""Django admin's app config, pointing it at our admin site (`accounts.admin_site`), which
demands two-factor login of staff. Kept apart from that module: settings import this one while
the app registry is still loading, before any model can be imported."""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.StaffAdminSite"
