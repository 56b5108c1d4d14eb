from __future__ import annotations

from django.contrib import admin

from audit.admin import AccountDataAdminMixin
from fax_numbers.models import FaxNumber


@admin.register(FaxNumber)
class FaxNumberAdmin(AccountDataAdminMixin, admin.ModelAdmin):
    list_display = ["number", "label", "account", "carrier_id", "created_at"]
    search_fields = ["number", "label", "account__name", "account__owner__email", "carrier_id"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
    readonly_fields = ["id", "created_at"]
    date_hierarchy = "created_at"
