"""Faxes for support staff: find one by id, carrier id, number or account email; read its
history. The document is never shown, only its type, size and hash."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from audit.admin import AccountDataAdminMixin
from faxes.models import Fax, FaxEvent


class FaxEventInline(admin.TabularInline):
    model = FaxEvent
    fields = ["occurred_at", "source", "type", "carrier_event_id", "payload"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["occurred_at", "id"]

    def has_add_permission(self, request: HttpRequest, obj: Fax | None = None) -> bool:
        return False


@admin.register(Fax)
class FaxAdmin(AccountDataAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "account",
        "to_number",
        "from_number",
        "direction",
        "status",
        "page_count",
        "livemode",
        "carrier",
        "created_at",
    ]
    list_filter = ["direction", "status", "carrier", "livemode", "document_source", "created_at"]
    search_fields = [
        "id",
        "carrier_fax_id",
        "to_number",
        "from_number",
        "account__name",
        "account__owner__email",
        "account__members__email",
        "client_reference",
    ]
    list_select_related = ["account"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [FaxEventInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "account",
                    "api_key",
                    "livemode",
                    "status",
                    "to_number",
                    "from_number",
                    "client_reference",
                ]
            },
        ),
        (
            "Document",
            {
                "fields": [
                    "document_source",
                    "document_url",
                    "document_content_type",
                    "document_size_bytes",
                    "document_sha256",
                    "page_count",
                    "pages_delivered",
                ]
            },
        ),
        ("Outcome", {"fields": ["failure_reason", "failure_message", "completed_at"]}),
        (
            "Carrier",
            {
                "fields": [
                    "carrier",
                    "carrier_fax_id",
                    "submit_attempts",
                    "submitted_at",
                    "lease_expires_at",
                    "last_event_at",
                ]
            },
        ),
        ("Times", {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Fax | None = None) -> bool:
        return False
