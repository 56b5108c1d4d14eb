"""/dashboard/security: the account's audit log for its owners and admins, and its CSV export.

This app sits below `accounts`, so it does not decide who may read an account's log: the URL
map hands each view `account_for`, a function of the request that returns the id of the account
whose log the signed-in user may read, or raises PermissionDenied (or Http404).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.views import View

from audit.forms import AuditFilterForm
from audit.models import Action, AuditEntry
from audit.selectors import AuditFilters, audit_entries_for_export, audit_page_for_account
from audit.services import audit_record

AccountFor = Callable[[HttpRequest], int]

CSV_COLUMNS = [
    "occurred_at",
    "action",
    "actor_type",
    "actor_id",
    "actor",
    "target_type",
    "target_id",
    "target",
    "ip",
    "user_agent",
    "details",
]
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class SecurityLogView(LoginRequiredMixin, View):
    """The log, newest first, filtered by actor, action and dates, in keyset pages."""

    http_method_names = ["get"]
    account_for: AccountFor | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = self._dispatch(request, *args, **kwargs)
        # Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private.
        add_never_cache_headers(response)
        return response

    def _dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if self.account_for is None:
            raise ImproperlyConfigured("SecurityLogView needs account_for (see audit/urls.py).")
        try:
            self.account_id = self.account_for(request)
        except PermissionDenied as refusal:
            return render(request, "audit/forbidden.html", {"message": str(refusal)}, status=403)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        form = AuditFilterForm(request.GET)
        if not form.is_valid():
            return render(request, "audit/security.html", {"form": form}, status=400)
        page = audit_page_for_account(
            account_id=self.account_id,
            filters=form.filters,
            after=form.cleaned_data["after"],
        )
        query = {k: v for k, v in request.GET.items() if k != "after" and v}
        context = {
            "form": form,
            "page": page,
            "query": urlencode(query),
            "older_query": (
                urlencode({**query, "after": page.next_cursor.encode()}) if page.next_cursor else ""
            ),
            "first_page": form.cleaned_data["after"] is None,
        }
        return render(request, "audit/security.html", context)


class SecurityLogExportView(SecurityLogView):
    """The entries that match the filters, as CSV, oldest first, streamed."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = AuditFilterForm(request.GET)
        if not form.is_valid():
            return render(request, "audit/security.html", {"form": form}, status=400)
        filters = form.filters
        audit_record(
            action=Action.AUDIT_LOG_EXPORTED,
            account_id=self.account_id,
            request=request,
            details=_filters_details(filters),
        )
        rows = audit_entries_for_export(account_id=self.account_id, filters=filters)
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{_filename(filters)}"'
        return response


def _filters_details(filters: AuditFilters) -> dict[str, Any]:
    return {
        "since": filters.since.isoformat() if filters.since else None,
        "until": filters.until.isoformat() if filters.until else None,
        "action": filters.action or None,
        "actor": filters.actor or None,
    }


def _filename(filters: AuditFilters) -> str:
    since = filters.since.isoformat() if filters.since else "start"
    until = filters.until.isoformat() if filters.until else "now"
    return f"security-log-{since}-to-{until}.csv"


class _Echo:
    """A file whose write() returns the line, for csv.writer to produce lines one by one."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(entries: Iterator[AuditEntry]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for entry in entries:
        yield writer.writerow([csv_cell(value) for value in _row(entry)])


def _row(entry: AuditEntry) -> list[str]:
    return [
        entry.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        entry.action,
        entry.actor_type,
        entry.actor_id,
        entry.actor_label,
        entry.target_type,
        entry.target_id,
        entry.target_label,
        entry.ip or "",
        entry.user_agent,
        json.dumps(entry.details, separators=(",", ":"), sort_keys=True) if entry.details else "",
    ]


def csv_cell(value: str) -> str:
    """The value, with a leading quote if a spreadsheet would read it as a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value
