from __future__ import annotations

from django import forms

from developers.models import Scope, WebhookEventType


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
