"""Keys in the admin: prefix, scopes, state, last use, a revoke action; never a secret."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from developers.models import ApiKey
from developers.services import api_key_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "masked",
        "account",
        "scopes",
        "livemode",
        "state",
        "last_used_at",
        "created_at",
    ]
    list_filter = [
        "livemode",
        ("revoked_at", admin.EmptyFieldListFilter),
        ("deleted_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["id", "name", "prefix", "account__name", "account__owner__email"]
    list_select_related = ["account"]
    fields = [
        "id",
        "name",
        "account",
        "prefix",
        "scopes",
        "livemode",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
        "deleted_at",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Keys are created by customers or `create_api_key`, where the secret can be shown once.
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)
