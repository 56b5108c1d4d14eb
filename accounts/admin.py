"""Admin for support staff: find a customer by email or name (fax_numbers/admin.py adds the
search by fax number). The plan and the trial are changed through the account services, never
by editing the fields: a plan change must end the trial."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Account, Invitation, Membership, Plan, User
from accounts.services import (
    AccountError,
    account_set_plan,
    account_set_trial_end,
    account_trial_end_check,
)
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


class AccountAdminForm(forms.ModelForm):
    """The account's own fields, and two changes carried out by services when it is saved."""

    new_plan = forms.ModelChoiceField(
        queryset=Plan.objects.all(),
        required=False,
        label="Move to plan",
        help_text="Takes effect at once and ends any trial.",
    )
    new_trial_ends_at = forms.SplitDateTimeField(
        required=False,
        widget=AdminSplitDateTime(),
        label="Set the trial's end",
        help_text="UTC. Later extends the trial (an ended one starts again); earlier ends it.",
    )

    class Meta:
        model = Account
        fields = ["name", "owner", "time_zone"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Left empty, the time zone stays as it is (the default for a new account).
        self.fields["time_zone"].required = False

    def clean_time_zone(self) -> str:
        return self.cleaned_data.get("time_zone") or self.instance.time_zone

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("new_plan") and cleaned.get("new_trial_ends_at"):
            raise forms.ValidationError("Move the plan or set the trial's end, not both at once.")
        if cleaned.get("new_trial_ends_at") and self.instance.pk:
            try:
                account_trial_end_check(account=self.instance)
            except AccountError as error:
                self.add_error("new_trial_ends_at", str(error))
        return cleaned


@admin.register(Account)
class AccountAdmin(AccountDataAdminMixin, admin.ModelAdmin):
    form = AccountAdminForm
    list_display = ["name", "owner", "plan", "trial_ends_at", "created_at"]
    list_filter = ["plan"]
    search_fields = ["name", "owner__email", "members__email"]
    list_select_related = ["owner", "plan"]
    raw_id_fields = ["owner"]
    date_hierarchy = "created_at"
    inlines = [MemberInline, InvitationInline]

    def audit_account_id(self, obj: Account) -> int | None:
        return obj.pk

    def get_fields(self, request: HttpRequest, obj: Account | None = None) -> list[str]:
        if obj is None:
            # Creating an account needs its plan; there is no trial to end yet.
            return ["name", "owner", "time_zone", "plan", "trial_ends_at"]
        return [
            "name",
            "owner",
            "time_zone",
            "plan",
            "trial_ends_at",
            "new_plan",
            "new_trial_ends_at",
            "created_at",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Account | None = None) -> list[str]:
        return ["created_at"] if obj is None else ["plan", "trial_ends_at", "created_at"]

    def get_form(
        self, request: HttpRequest, obj: Account | None = None, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, **kwargs)

    def save_model(
        self, request: HttpRequest, obj: Account, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            return
        if plan := form.cleaned_data.get("new_plan"):
            account_set_plan(account=obj, plan=plan, actor=actor_from_request(request))
        elif ends_at := form.cleaned_data.get("new_trial_ends_at"):
            account_set_trial_end(account=obj, ends_at=ends_at)


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
