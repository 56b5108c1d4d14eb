"""Fax numbers for support staff, and the account admin made searchable by fax number."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin import AccountAdmin
from accounts.models import Account
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


class AccountWithNumbersAdmin(AccountAdmin):
    """Support finds an account by one of its fax numbers too. This app extends the accounts
    admin, rather than `accounts` reaching up into fax numbers."""

    search_fields = [*AccountAdmin.search_fields, "fax_numbers__number"]


admin.site.unregister(Account)
admin.site.register(Account, AccountWithNumbersAdmin)
