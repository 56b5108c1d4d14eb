"""Admin for support staff: find a customer by email or name (fax_numbers/admin.py adds the
search by fax number)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import Account, Plan, User


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "monthly_price", "api_access", "sort_order"]
    list_editable = ["api_access", "sort_order"]
    ordering = ["sort_order"]


class MemberInline(admin.TabularInline):
    model = User
    fields = ["email", "name", "is_active", "last_login"]
    readonly_fields = ["email", "name", "last_login"]
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "plan", "trial_ends_at", "created_at"]
    list_filter = ["plan"]
    search_fields = ["name", "owner__email", "members__email"]
    list_select_related = ["owner", "plan"]
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at"]
    date_hierarchy = "created_at"
    inlines = [MemberInline]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "account", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name", "account"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
