from __future__ import annotations

from django import forms

from fax_numbers.models import MAX_EMAIL_RECIPIENTS


class NumberEmailForm(forms.Form):
    recipients = forms.CharField(
        label="Email each received fax to",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"Up to {MAX_EMAIL_RECIPIENTS} addresses, separated by commas or new lines. "
        "Empty: no emails.",
    )
    attach_pdf = forms.BooleanField(
        label="Attach the PDF",
        required=False,
        help_text="Off by default: the email then says who sent how many pages and links here. "
        "Attached, the fax's content (often PHI) travels by email: only turn this on knowingly.",
    )

    def recipient_list(self) -> list[str]:
        raw = self.cleaned_data["recipients"].replace("\n", ",")
        return [r.strip() for r in raw.split(",") if r.strip()]
