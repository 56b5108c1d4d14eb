"""The dashboard's Send a fax form: the shape of each field. The rules of a send (the sender's
number, the documents, their totals) are the intake service's, the same as for the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from accounts.services import header_unprintable, header_unprintable_message
from faxes.documents.base import MAX_PAGES
from faxes.documents.compose import (
    COVER_FIELD_MAX_LENGTH,
    COVER_MESSAGE_MAX_LENGTH,
    COVER_MESSAGE_MAX_LINES,
    cover_message_lines,
)
from faxes.serializers import MAX_DOCUMENTS, cover_unprintable
from sendfaxmail.lib.phone import E164_HELP, InvalidPhoneNumber, normalize_e164

ACCEPTED_EXTENSIONS = ".pdf,.tif,.tiff,.png,.jpg,.jpeg"
# What the send form proposes for automatic redial (issue 14): two more calls, five minutes
# apart; the API's bounds (`FaxRetrySerializer`).
RETRY_ATTEMPTS_PROPOSED = 2
RETRY_INTERVAL_PROPOSED = 300
RETRY_ATTEMPTS_MAX = 5
RETRY_INTERVAL_MIN, RETRY_INTERVAL_MAX = 60, 3600


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """One or more files, in the order they were chosen."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPTED_EXTENSIONS}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data]
        cleaned = [super(MultipleFileField, self).clean(file, initial) for file in files if file]
        if not cleaned:
            raise forms.ValidationError("Choose at least one file to fax.")
        if len(cleaned) > MAX_DOCUMENTS:
            raise forms.ValidationError(f"Choose at most {MAX_DOCUMENTS} files.")
        return cleaned


class FaxSendForm(forms.Form):
    to = forms.CharField(
        label="To (fax number)",
        max_length=32,
        help_text="E.164, e.g. +15551234567.",
        # The browser's first check of the shape; the server's (`normalize_e164`, as the API's)
        # decides, with the country's number lengths.
        widget=forms.TextInput(
            attrs={"pattern": r"\+[1-9][0-9]{7,14}", "title": E164_HELP, "autocomplete": "off"}
        ),
    )
    from_number = forms.ChoiceField(label="From")
    files = MultipleFileField(
        label="Files",
        required=False,
        help_text=f"PDF, TIFF, PNG or JPEG: 1 to {MAX_DOCUMENTS} files, faxed in this order, at "
        f"most 20 MB and {MAX_PAGES} pages in all.",
    )
    cover = forms.BooleanField(label="Add a cover page", required=False)
    cover_to_name = forms.CharField(label="To", required=False, max_length=COVER_FIELD_MAX_LENGTH)
    cover_from_name = forms.CharField(
        label="From", required=False, max_length=COVER_FIELD_MAX_LENGTH
    )
    cover_subject = forms.CharField(
        label="Subject", required=False, max_length=COVER_FIELD_MAX_LENGTH
    )
    cover_message = forms.CharField(
        label="Message",
        required=False,
        max_length=COVER_MESSAGE_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    header = forms.BooleanField(
        label="Header line on every page (date and time sent, your business name, number, page)",
        required=False,
        initial=True,
    )
    header_text = forms.CharField(
        label="Name in the header",
        required=False,
        max_length=60,
        help_text="Leave empty to use the account's name.",
    )
    retry_attempts = forms.IntegerField(
        label="Redial a busy line or no answer",
        min_value=0,
        max_value=RETRY_ATTEMPTS_MAX,
        initial=RETRY_ATTEMPTS_PROPOSED,
        required=False,
        help_text=f"More calls after the first, 0 to {RETRY_ATTEMPTS_MAX} (0: no redial; "
        "empty: the account's setting).",
    )
    retry_interval_seconds = forms.IntegerField(
        label="Seconds between calls",
        min_value=RETRY_INTERVAL_MIN,
        max_value=RETRY_INTERVAL_MAX,
        initial=RETRY_INTERVAL_PROPOSED,
        required=False,
        help_text=f"{RETRY_INTERVAL_MIN} to {RETRY_INTERVAL_MAX} (empty: the account's setting).",
    )
    # Sent again by a double click or a reload: the fax is sent once (the Idempotency-Key).
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, numbers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from_number"].choices = [(number, number) for number in numbers]

    def clean_to(self) -> str:
        try:
            return normalize_e164(self.cleaned_data["to"])
        except InvalidPhoneNumber as error:
            raise forms.ValidationError(str(error)) from None

    def clean_header_text(self) -> str:
        text = self.cleaned_data["header_text"]
        unprintable = header_unprintable(text)
        if unprintable:
            raise forms.ValidationError(header_unprintable_message(unprintable))
        return text

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        cover = {
            name: cleaned[f"cover_{name}"]
            for name in ("to_name", "from_name", "subject", "message")
            if cleaned.get(f"cover_{name}")
        }
        for name, unprintable in cover_unprintable(cover).items():
            message = header_unprintable_message(unprintable, where="The cover page")
            self.add_error(f"cover_{name}", message)
        return cleaned

    def clean_cover_message(self) -> str:
        message = self.cleaned_data["cover_message"]
        if len(cover_message_lines(message)) > COVER_MESSAGE_MAX_LINES:
            raise forms.ValidationError(
                f"The message must fit on the cover page: at most {COVER_MESSAGE_MAX_LINES} "
                "lines of about 80 characters."
            )
        return message
