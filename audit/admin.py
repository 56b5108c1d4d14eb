"""The audit log in the admin (read-only, for staff), and the mixin that records staff opening
an account's data in the admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

from audit.models import Action, AuditEntry
from audit.services import actor_from_request, audit_record


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Every account's entries, newest first. Nothing can be added, changed or deleted here."""

    list_display = [
        "occurred_at",
        "account_id",
        "actor_type",
        "actor_label",
        "action",
        "target_type",
        "target_label",
        "ip",
    ]
    list_filter = ["action", "actor_type", "occurred_at"]
    search_fields = ["actor_label", "=actor_id", "target_id", "target_label", "=ip"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    actions = None
    readonly_fields = [field.name for field in AuditEntry._meta.fields]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False


class AccountDataAdminMixin:
    """For the admin of a model that holds an account's data: records each time staff open an
    object's page (`admin.viewed`, for the object's account, which its owners then see on their
    Security page) or a list of them (for no account: a list spans many).

    `audit_account_id(obj)` says whose data an object is (by default its `account_id`), and
    `audit_target_label(obj)` how the entry names it (by default `str(obj)`).
    """

    def audit_account_id(self, obj: Model) -> int | None:
        return getattr(obj, "account_id", None)

    def audit_target_label(self, obj: Model) -> str:
        return str(obj)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Model | None = None,
    ) -> HttpResponse:
        # Every change (or view-only) page of an existing object goes through here, with the
        # object already loaded: no extra query.
        if obj is not None and not add and request.method == "GET":
            self._record_view(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if request.method == "GET" and response.status_code == 200:
            audit_record(
                action=Action.ADMIN_VIEWED,
                actor=actor_from_request(request),
                target_type=self.model._meta.label_lower,
                details={"page": "list"},
            )
        return response

    def _record_view(self, request: HttpRequest, obj: Model) -> None:
        audit_record(
            action=Action.ADMIN_VIEWED,
            account_id=self.audit_account_id(obj),
            actor=actor_from_request(request),
            target_type=obj._meta.label_lower,
            target_id=str(obj.pk),
            target_label=self.audit_target_label(obj),
        )
