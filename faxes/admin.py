"""Faxes for support staff: find one by id, carrier id, number or account email; read its
history. The document is shown only as its type, size and hash, and downloaded only by staff
holding the `faxes.download_document` permission (each download is audited)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from audit.admin import AccountDataAdminMixin
from audit.services import actor_from_request
from faxes.models import Fax, FaxEvent
from faxes.services.documents import DocumentUnavailable, fax_document_download
from faxes.views import document_response, document_unavailable_response

DOWNLOAD_PERMISSION = "faxes.download_document"


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
                    "resent_from",
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
                    "document_purged_at",
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
        ("Times", {"fields": ["send_at", "created_at", "updated_at"]}),
    ]
    # `document_download` is shown (by get_fieldsets) only to staff with the download permission.
    readonly_fields = [
        *(field for _, options in fieldsets for field in options["fields"]),
        "document_download",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Fax | None = None) -> bool:
        return False

    @admin.display(description="Download")
    def document_download(self, fax: Fax) -> str:
        if fax.document_purged_at is not None:
            return "Deleted"
        if not fax.document:
            return "Not stored"
        url = reverse("admin:faxes_fax_document", args=[fax.pk])
        return format_html('<a href="{}">Download the PDF</a> (recorded in the audit log)', url)

    def get_fieldsets(self, request: HttpRequest, obj: Fax | None = None) -> list:
        """The download link only for staff who may use it."""
        fieldsets = super().get_fieldsets(request, obj)
        if not request.user.has_perm(DOWNLOAD_PERMISSION):
            return fieldsets
        name, options = fieldsets[1]
        return [
            fieldsets[0],
            (name, {**options, "fields": [*options["fields"], "document_download"]}),
            *fieldsets[2:],
        ]

    def get_urls(self) -> list[URLPattern]:
        download = path(
            "<path:object_id>/document/",
            self.admin_site.admin_view(self.document_view),
            name="faxes_fax_document",
        )
        return [download, *super().get_urls()]

    def document_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The fax's PDF, for staff with the download permission only; audited as staff."""
        if request.method != "GET":
            raise PermissionDenied("Documents are downloaded with GET.")
        if not request.user.has_perm(DOWNLOAD_PERMISSION):
            raise PermissionDenied("Downloading documents needs its own permission.")
        fax = Fax.objects.filter(pk=object_id).first()
        if fax is None:
            raise Http404("No such fax.")
        try:
            download = fax_document_download(
                fax=fax, actor=actor_from_request(request), via="admin"
            )
        except DocumentUnavailable as error:
            return document_unavailable_response(request, fax, error)
        return document_response(download)
