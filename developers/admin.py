"""Keys in the admin: prefix, scopes, state, last use, a revoke action; never a secret."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin import AccountDataAdminMixin
from audit.services import actor_from_request, url_label
from developers.models import ApiKey, RequestLogEntry, WebhookDelivery, WebhookEndpoint
from developers.services.api_keys import api_key_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(AccountDataAdminMixin, admin.ModelAdmin):
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
            api_key_revoke(api_key=api_key, actor=actor_from_request(request))
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AccountDataAdminMixin, admin.ModelAdmin):
    """Support sees where events go and how deliveries fare; never the signing secrets."""

    list_display = ["url", "account", "enabled", "failing_since", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["id", "url", "account__name", "account__owner__email"]
    list_select_related = ["account"]
    fields = [
        "id",
        "account",
        "url",
        "description",
        "event_types",
        "enabled",
        "disabled_reason",
        "failing_since",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def audit_target_label(self, obj: WebhookEndpoint) -> str:
        return url_label(obj.url)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(AccountDataAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["id", "event__id", "event__object_id", "endpoint__url"]
    list_select_related = ["event", "endpoint"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def audit_account_id(self, obj: WebhookDelivery) -> int | None:
        return obj.endpoint.account_id


@admin.register(RequestLogEntry)
class RequestLogEntryAdmin(AccountDataAdminMixin, admin.ModelAdmin):
    """Support finds a customer's request by the Request-Id they quote. Read-only."""

    list_display = ["request_id", "created_at", "account", "method", "path", "status", "api_key"]
    list_filter = ["status", "livemode"]
    search_fields = ["=request_id", "=account__owner__email"]
    list_select_related = ["account", "api_key"]
    readonly_fields = [f.name for f in RequestLogEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
