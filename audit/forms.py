from __future__ import annotations

from typing import Any

from django import forms

from audit.models import Action
from audit.selectors import AuditFilters, Cursor


class AuditFilterForm(forms.Form):
    """The Security page's filters (a GET form), and the cursor of the page asked for."""

    actor = forms.CharField(
        required=False, max_length=254, help_text="An email address or API key name, or part."
    )
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *Action.choices])
    since = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))
    after = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_after(self) -> Cursor | None:
        text = self.cleaned_data["after"]
        if not text:
            return None
        try:
            return Cursor.decode(text)
        except ValueError:
            raise forms.ValidationError("This page link is damaged; start again.") from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return data

    @property
    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        return AuditFilters(
            actor=data["actor"].strip(),
            action=data["action"],
            since=data["since"],
            until=data["until"],
        )
