from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms

from developers.models import ApiKey, Scope, WebhookEventType
from developers.selectors import RequestLogFilters


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses this key, e.g. “EHR integration”.")
    mode = forms.ChoiceField(
        choices=[
            ("live", "Live (sfm_live_…): faxes really go out"),
            ("test", "Test (sfm_test_…): the simulator answers, nobody is dialed"),
        ],
        initial="live",
        required=False,  # Live unless test is chosen.
        widget=forms.RadioSelect,
    )
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope."},
    )


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=2048,
        assume_scheme="https",
        help_text="An https:// URL on the public internet that answers 2xx within 10 seconds.",
    )
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None chosen means all of them.",
    )


class RequestLogFilterForm(forms.Form):
    """The Logs page's filters (GET). Dates are whole days in UTC, both ends included."""

    status = forms.ChoiceField(
        choices=[("", "Any status"), ("2xx", "2xx"), ("4xx", "4xx"), ("5xx", "5xx")],
        required=False,
    )
    key = forms.ChoiceField(label="API key", required=False)
    path = forms.CharField(label="Path contains", max_length=200, required=False)
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    request_id = forms.CharField(
        label="Request-Id",
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "req_…"}),
    )

    def __init__(self, *args: Any, api_keys: Iterable[ApiKey] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = [("", "Any key")] + [
            (key.pk, f"{key.name} ({key.masked}){' – deleted' if key.deleted_at else ''}")
            for key in api_keys
        ]

    def filters(self) -> RequestLogFilters:
        """The filters of the fields that are valid; an invalid one filters nothing."""
        self.is_valid()
        data = self.cleaned_data
        date_from, date_to = data.get("date_from"), data.get("date_to")
        return RequestLogFilters(
            status_class=data.get("status") or None,
            api_key_id=data.get("key") or None,
            path_contains=(data.get("path") or "").strip() or None,
            created_from=_day_start(date_from) if date_from else None,
            created_before=(
                _day_start(date_to + timedelta(days=1)) if date_to and date_to < date.max else None
            ),
            request_id=(data.get("request_id") or "").strip() or None,
        )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
