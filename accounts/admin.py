"""Admin for support staff: find a customer by email, name or fax number."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.forms import ModelForm
from django.http import HttpRequest

from accounts.models import Account, Plan, User
from accounts.services import account_set_plan
from audit.admin import AccountDataAdminMixin
from audit.services import actor_from_request


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
class AccountAdmin(AccountDataAdminMixin, admin.ModelAdmin):
    list_display = ["name", "owner", "plan", "trial_ends_at", "created_at"]
    list_filter = ["plan"]
    search_fields = ["name", "owner__email", "members__email", "fax_numbers__number"]
    list_select_related = ["owner", "plan"]
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at"]
    date_hierarchy = "created_at"
    inlines = [MemberInline]

    def audit_account_id(self, obj: Account) -> int | None:
        return obj.pk

    def save_model(self, request: HttpRequest, obj: Account, form: ModelForm, change: bool) -> None:
        if change and "plan" in form.changed_data:
            # Through the service, which ends any trial and records who changed the plan; the
            # other fields are saved as the form has them.
            plan = obj.plan
            obj.plan_id = form.initial["plan"]
            account_set_plan(account=obj, plan=plan, actor=actor_from_request(request))
        super().save_model(request, obj, form, change)


@admin.register(User)
class UserAdmin(AccountDataAdminMixin, DjangoUserAdmin):
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
