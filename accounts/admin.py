"""Admin for support staff: find a customer by email or name (fax_numbers/admin.py adds the
search by fax number). The plan and the trial are changed through the account services, never
by editing the fields: a plan change must end the trial."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from accounts.models import Account, Plan, User
from accounts.services import (
    AccountError,
    account_set_plan,
    account_set_trial_end,
    account_trial_end_check,
)
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
    inlines = [MemberInline]

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
