"""Admin for support staff: find a customer by email, name or fax number."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Account, Invitation, Membership, Plan, User
from accounts.services import account_set_plan
from accounts.two_factor import two_factor_disable, two_factor_enabled
from audit.admin import AccountDataAdminMixin
from audit.services import actor_from_request

# django-otp's own device admins show each user's TOTP secret (as a QR code) to any staff
# member. Support never needs it: they turn a locked-out user's two-factor login off instead
# (the user action below), and the user sets it up again.
for _device in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device):
        admin.site.unregister(_device)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "monthly_price", "api_access", "sort_order"]
    list_editable = ["api_access", "sort_order"]
    ordering = ["sort_order"]


class MemberInline(admin.TabularInline):
    """The account's members and their roles. Read-only: members change through the owner's
    dashboard (the services keep the last owner and the audit trail)."""

    model = Membership
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


class InvitationInline(admin.TabularInline):
    model = Invitation
    fields = ["email", "role", "invited_by", "created_at", "expires_at", "accepted_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


class UserMembershipInline(MemberInline):
    fields = ["account", "role", "created_at"]
    readonly_fields = fields


@admin.register(Account)
class AccountAdmin(AccountDataAdminMixin, admin.ModelAdmin):
    list_display = ["name", "owner", "plan", "trial_ends_at", "created_at"]
    list_filter = ["plan"]
    search_fields = ["name", "owner__email", "members__email", "fax_numbers__number"]
    list_select_related = ["owner", "plan"]
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at"]
    date_hierarchy = "created_at"
    inlines = [MemberInline, InvitationInline]

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
    list_display = ["email", "name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name", "memberships__account__name"]
    inlines = [UserMembershipInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    readonly_fields = ["two_factor"]
    actions = ["two_factor_turn_off"]

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None) -> list:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [*fieldsets, ("Two-factor login", {"fields": ["two_factor"]})]

    def audit_account_id(self, obj: User) -> int | None:
        """Staff opening a user's page is recorded for the user's oldest account."""
        membership = obj.memberships.order_by("created_at", "id").first()
        return membership.account_id if membership else None

    @admin.display(description="Two-factor login")
    def two_factor(self, user: User) -> str:
        return "on" if two_factor_enabled(user=user) else "off"

    @admin.action(description="Turn off two-factor login (they set it up again at next login)")
    def two_factor_turn_off(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            two_factor_disable(user=user, actor=actor_from_request(request))
        self.message_user(request, f"Two-factor login turned off for {queryset.count()} user(s).")
