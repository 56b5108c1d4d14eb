"""The fax resource and the POST /v1/faxes request, as JSON."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.services import header_unprintable, header_unprintable_message
from faxes.documents import ACCEPTED_CONTENT_TYPES
from faxes.documents.compose import (
    COVER_FIELD_MAX_LENGTH,
    COVER_MESSAGE_MAX_LENGTH,
    COVER_MESSAGE_MAX_LINES,
    cover_message_lines,
)
from faxes.models import Direction, DocumentSource, Fax, FaxStatus
from sendfaxmail.lib.api import LargeString, serializer_of_thread
from sendfaxmail.lib.fetch import UnsafeUrl, check_url_syntax
from sendfaxmail.lib.openapi import constant
from sendfaxmail.lib.phone import E164_HELP, E164_SHAPE, InvalidPhoneNumber, normalize_e164

PUBLIC_STATUSES = [
    FaxStatus.SCHEDULED,
    FaxStatus.QUEUED,
    FaxStatus.SENDING,
    FaxStatus.DELIVERED,
    FaxStatus.FAILED,
    FaxStatus.CANCELED,
    FaxStatus.RECEIVING,
    FaxStatus.RECEIVED,
]


class FaxDocumentSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=DocumentSource.values)
    content_type = serializers.CharField(allow_null=True, help_text="What the customer sent.")
    size_bytes = serializers.IntegerField(allow_null=True)
    count = serializers.IntegerField(help_text="How many documents are faxed, in order, as one.")
    cover_page = serializers.BooleanField(help_text="Whether a cover page comes first.")
    header = serializers.BooleanField(
        help_text="Whether the header line (date and time sent, name, number, page) is stamped."
    )
    url = serializers.URLField(
        required=False,
        help_text="Only for source `url`: the `document_url` without its query string or "
        "fragment, which may hold an access token.",
    )
    purged_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the stored document was deleted (its account's retention ran out, or "
        "DELETE /v1/faxes/{id}/document); null while it is kept. The other fields stay.",
    )


class FaxRetrySerializer(serializers.Serializer):
    """Automatic redial, on a send and in the fax resource."""

    attempts = serializers.IntegerField(
        min_value=0,
        max_value=5,
        help_text="Calls after the first when the line is busy, nobody answers or the "
        "transmission breaks (so at most 6 calls). 0: no redial.",
    )
    interval_seconds = serializers.IntegerField(
        min_value=60, max_value=3600, help_text="Seconds between one call's end and the next."
    )


class FaxRetryInputSerializer(FaxRetrySerializer):
    """`retry` on a send; what it leaves out comes from the account's settings."""

    interval_seconds = serializers.IntegerField(
        min_value=60,
        max_value=3600,
        required=False,
        help_text="Seconds between one call's end and the next (default: the account's, "
        "300 unless changed).",
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and (unknown := sorted(set(data) - set(self.fields))):
            raise serializers.ValidationError(
                {unknown[0]: "Unknown field. 'retry' has only 'attempts' and 'interval_seconds'."}
            )
        return super().to_internal_value(data)


class FaxAttemptSerializer(serializers.Serializer):
    """One finished call."""

    number = serializers.IntegerField(min_value=1, help_text="1 for the first call.")
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=["delivered", "failed"])
    failure_reason = serializers.CharField(allow_null=True)
    pages_delivered = serializers.IntegerField(allow_null=True)


# The state machine, as the OpenAPI schema describes `status` (README and /docs/api draw it).
STATUS_HELP = (
    "Outbound: `scheduled` (only with `send_at`, until that time) → `queued` (waiting for a "
    "worker, or for its next call while a redial is due: `next_attempt_at`) → `sending` (with "
    "the carrier) → `delivered` or `failed`. A busy line, no answer or a broken transmission "
    "with redials left goes from `sending` back to `queued`. `canceled` can follow `scheduled` "
    "and `queued` at once, and `sending` once the carrier confirms the cancel; `failed` can "
    "follow any unfinished status (e.g. a `document_url` that cannot be fetched). Inbound: "
    "`receiving` → `received` or `failed`. `delivered`, `failed`, `canceled` and `received` "
    "are final."
)
NULLABLE_TEXT = serializers.CharField(allow_null=True)
# Formats a time inside a method field as every other timestamp is (ISO 8601 UTC with `Z`).
_TIMESTAMP = serializers.DateTimeField()
FAILURE_REASONS = (
    "busy, no_answer, invalid_number, not_a_fax_machine, rejected, transmission_error, "
    "document_invalid, document_fetch_failed, carrier_rejected, carrier_error; received faxes "
    "also media_unavailable (the carrier's copy could not be fetched) and media_invalid"
)


class FaxSerializer(serializers.Serializer):
    """A fax: the same shape in every API answer and webhook event."""

    # Fields are explicit: a ModelSerializer would re-introspect the model on every use.

    id = serializers.CharField(help_text="Opaque and stable, e.g. `fax_3kTq…`.")
    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField(help_text="False for faxes sent with a `sfm_test_` key.")
    direction = serializers.ChoiceField(
        choices=Direction.values,
        help_text="`outbound`: sent by you; `inbound`: received on one of your numbers.",
    )
    status = serializers.ChoiceField(
        choices=PUBLIC_STATUSES,
        source="public_status",
        help_text=STATUS_HELP,
    )
    to = serializers.CharField(
        source="to_number", help_text="E.164; for a received fax, your number it arrived on."
    )
    page_count = serializers.IntegerField(
        allow_null=True, help_text="Pages in the document; null until a URL document is fetched."
    )
    pages_delivered = serializers.IntegerField(
        allow_null=True, help_text="Pages the receiver got, once the carrier has finished."
    )
    document = serializers.SerializerMethodField()
    client_reference = serializers.CharField(allow_null=True, help_text="Yours, echoed back.")
    failure_reason = serializers.SerializerMethodField(help_text=f"When failed: {FAILURE_REASONS}.")
    failure_message = serializers.SerializerMethodField(help_text="When failed: a sentence.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    cancel_requested_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When a cancel was asked of the carrier for this fax; it ends `canceled` "
        "once the carrier stops it, or `delivered` if the carrier finished first.",
    )
    retry = serializers.SerializerMethodField()
    attempts = serializers.SerializerMethodField()
    next_attempt_at = serializers.DateTimeField(
        allow_null=True, help_text="While `queued` for a redial: when the next call starts."
    )
    send_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the fax was asked to leave (`send_at` on the send): it is `scheduled` "
        "until then. Null for a fax sent at once.",
    )
    resent_from = serializers.CharField(
        source="resent_from_id",
        allow_null=True,
        help_text="For a fax made by POST /v1/faxes/{id}/resend: the id of the fax it resends.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # `from` is a Python keyword, so it cannot be declared as a class attribute; it is
        # placed after `to`.
        fields: dict[str, serializers.Field] = {}
        for name, field in super().get_fields().items():
            fields[name] = field
            if name == "to":
                fields["from"] = serializers.CharField(
                    source="from_number",
                    help_text="E.164 for a sent fax. For a received fax, what the sender's fax "
                    "machine gave, as it gave it: possibly `anonymous`, a short number, or empty.",
                )
        return fields

    @extend_schema_field(constant("fax"))
    def get_object(self, fax: Fax) -> str:
        return "fax"

    @extend_schema_field(FaxDocumentSerializer)
    def get_document(self, fax: Fax) -> dict[str, Any]:
        document: dict[str, Any] = {
            "source": fax.document_source,
            "content_type": fax.document_content_type or None,
            "size_bytes": fax.document_size_bytes,
            "count": fax.document_count,
            "cover_page": fax.cover_page is not None,
            "header": fax.header,
        }
        if fax.document_source == DocumentSource.URL:
            document["url"] = fax.document_url_shown
        purged_at = fax.document_purged_at
        document["purged_at"] = (
            None if purged_at is None else _TIMESTAMP.to_representation(purged_at)
        )
        return document

    @extend_schema_field(FaxRetrySerializer)
    def get_retry(self, fax: Fax) -> dict[str, int]:
        return {"attempts": fax.retry_attempts, "interval_seconds": fax.retry_interval_seconds}

    @extend_schema_field(FaxAttemptSerializer(many=True))
    def get_attempts(self, fax: Fax) -> list[dict[str, Any]]:
        """Each finished call, oldest first; the final `failure_reason` is the last one's."""
        shown = ("number", "started_at", "completed_at", "status", "failure_reason")
        return [
            {
                **{name: attempt.get(name) for name in shown},
                "pages_delivered": attempt.get("pages_delivered"),
            }
            for attempt in fax.attempts
        ]

    @extend_schema_field(NULLABLE_TEXT)
    def get_failure_reason(self, fax: Fax) -> str | None:
        return fax.failure_reason or None

    @extend_schema_field(NULLABLE_TEXT)
    def get_failure_message(self, fax: Fax) -> str | None:
        return fax.failure_message or None


def fax_public(fax: Fax) -> dict[str, Any]:
    """The fax as customers see it: in API answers, idempotent replays and webhook events."""
    return serializer_of_thread(FaxSerializer).to_representation(fax)


def faxes_public(faxes: Iterable[Fax]) -> list[dict[str, Any]]:
    """`fax_public` of each fax, with the serializer's fields built once for the lot."""
    return FaxSerializer(faxes, many=True).data


@extend_schema_field({"type": "string", "format": "byte"})
class Base64Field(serializers.Field):
    """A string, taken as it is. DRF's CharField runs per-character validators (surrogates,
    NUL) in Python: 0.9 s of a 20 MB document's 1 s. decode_base64 refuses anything that is not
    strict base64 anyway."""

    default_error_messages = {"invalid": "Give the file as a base64 string."}

    def to_internal_value(self, data: Any) -> str | LargeString:
        # A LargeString is a long text the JSON parser kept as bytes: decode_base64 takes both.
        if not isinstance(data, (str, LargeString)):
            self.fail("invalid")
        return data

    def to_representation(self, value: str) -> str:
        return value


class InlineDocumentSerializer(serializers.Serializer):
    content = Base64Field(help_text="The file, base64-encoded.")
    content_type = serializers.CharField(help_text=f"One of: {', '.join(ACCEPTED_CONTENT_TYPES)}.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and (unknown := sorted(set(data) - set(self.fields))):
            raise serializers.ValidationError(
                {unknown[0]: "Unknown field. A document has only 'content' and 'content_type'."}
            )
        return super().to_internal_value(data)

    # The content is decoded and converted by the intake service, once every cheaper check of
    # the request has passed (faxes.services.intake.inline_documents_prepare).


def _refuse_unknown(data: Any, fields: Any, *, what: str) -> None:
    if isinstance(data, dict) and (unknown := sorted(set(data) - set(fields))):
        raise serializers.ValidationError(
            {unknown[0]: f"Unknown field. {what} has only {', '.join(map(repr, fields))}."}
        )


class DocumentItemSerializer(serializers.Serializer):
    """One of `documents`: `{content, content_type}` (inline) or `{url}`."""

    content = Base64Field(required=False, help_text="The file, base64-encoded.")
    content_type = serializers.CharField(
        required=False, help_text=f"One of: {', '.join(ACCEPTED_CONTENT_TYPES)}."
    )
    url = serializers.CharField(required=False, help_text="A public https:// URL.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        _refuse_unknown(data, self.fields, what="A document")
        if isinstance(data, dict):
            inline = "content" in data or "content_type" in data
            if inline == ("url" in data):
                raise serializers.ValidationError(
                    {"url": "Give either 'content' and 'content_type', or 'url'."}
                )
            if inline and not {"content", "content_type"} <= set(data):
                missing = "content" if "content" not in data else "content_type"
                raise serializers.ValidationError({missing: "This field is required."})
        return super().to_internal_value(data)

    def validate_url(self, value: str) -> str:
        try:
            return check_url_syntax(value)
        except UnsafeUrl as error:
            raise serializers.ValidationError(error.message) from None


class CoverPageSerializer(serializers.Serializer):
    """The cover page's text; every field optional."""

    to_name = serializers.CharField(
        required=False, allow_blank=True, max_length=COVER_FIELD_MAX_LENGTH
    )
    from_name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=COVER_FIELD_MAX_LENGTH,
        help_text="Defaults to the account's name.",
    )
    subject = serializers.CharField(
        required=False, allow_blank=True, max_length=COVER_FIELD_MAX_LENGTH
    )
    message = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=COVER_MESSAGE_MAX_LENGTH,
        trim_whitespace=False,
        help_text=f"At most {COVER_MESSAGE_MAX_LINES} lines once wrapped to the page.",
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        _refuse_unknown(data, self.fields, what="A cover page")
        return super().to_internal_value(data)

    def validate_message(self, value: str) -> str:
        if len(cover_message_lines(value)) > COVER_MESSAGE_MAX_LINES:
            raise serializers.ValidationError(
                f"The message must fit on the cover page: at most {COVER_MESSAGE_MAX_LINES} "
                "lines of about 80 characters."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unprintable = cover_unprintable(attrs)
        if unprintable:
            raise serializers.ValidationError(
                {
                    name: header_unprintable_message(characters, where="The cover page")
                    for name, characters in unprintable.items()
                }
            )
        return attrs


def cover_unprintable(fields: dict[str, str]) -> dict[str, str]:
    """The cover page's `fields` (to_name, from_name, subject, message) that have characters its
    font cannot print, each with those characters. The message's line breaks and tabs are fine:
    it is drawn line by line, tabs expanded."""
    found = {}
    for name, text in fields.items():
        drawn = "".join(cover_message_lines(text)) if name == "message" else text
        unprintable = header_unprintable(drawn)
        if unprintable:
            found[name] = unprintable
    return found


# How far ahead a fax may be scheduled.
SEND_AT_MAX_AHEAD = timedelta(days=30)


def send_at_parse(value: str, *, now: datetime | None = None) -> datetime:
    """`send_at` as an aware time in UTC; a ValidationError when it is not ISO 8601 with a
    zone, is in the past, or is more than 30 days ahead."""
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise serializers.ValidationError(
            "Give an ISO 8601 time with a zone, e.g. 2026-12-01T09:00:00Z or "
            "2026-12-01T09:00:00-05:00."
        )
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise serializers.ValidationError("This time is out of range.") from None
    now = now or timezone.now()
    if moment < now:
        raise serializers.ValidationError(
            "This time is in the past. Omit send_at to send the fax at once."
        )
    if moment > now + SEND_AT_MAX_AHEAD:
        raise serializers.ValidationError("A fax can be scheduled at most 30 days ahead.")
    return moment


# The forms of the document of a send; exactly one is given.
DOCUMENT_FORMS = ("document", "document_url", "documents")
MAX_DOCUMENTS = 10


class FaxCreateSerializer(serializers.Serializer):
    """POST /v1/faxes: the shape of each field. Unknown fields are refused so that a typo is not
    silently ignored. The rules that need the account or cost time (the sender's number, the
    document itself) are the intake service's."""

    to = serializers.RegexField(
        E164_SHAPE, help_text="E.164, e.g. +15551234567.", error_messages={"invalid": E164_HELP}
    )
    from_ = serializers.CharField(required=False, help_text="One of the account's numbers.")
    document = InlineDocumentSerializer(required=False)
    document_url = serializers.CharField(required=False, help_text="A public https:// URL.")
    documents = DocumentItemSerializer(
        many=True,
        required=False,
        min_length=1,
        max_length=MAX_DOCUMENTS,
        help_text=f"1 to {MAX_DOCUMENTS} documents, faxed in this order as one fax.",
    )
    cover_page = CoverPageSerializer(required=False, help_text="A first page, if given.")
    header = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Stamp the header line (date and time sent, business name, from-number, "
        "page n/N) at the top of every page. Set false only if your pages carry their own.",
    )
    header_text = serializers.CharField(
        required=False,
        max_length=60,
        help_text="Replaces the account's name in the header line: Latin letters (accents "
        "included), digits and punctuation, which its font prints.",
    )
    client_reference = serializers.CharField(
        required=False, allow_null=True, max_length=128, allow_blank=False
    )
    retry = FaxRetryInputSerializer(required=False)
    send_at = serializers.CharField(
        required=False,
        help_text="Schedule the fax: an ISO 8601 time with a zone, e.g. "
        "`2026-12-01T09:00:00-05:00`, from now to 30 days ahead. The fax is `scheduled` until "
        "then (a `document_url` is fetched at once, so that its errors show early) and leaves "
        "within a few seconds of it. Omit it to send at once.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def validate_send_at(self, value: str) -> datetime:
        return send_at_parse(value)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["The request body must be a JSON object."]}
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {
                    unknown[
                        0
                    ]: f"Unknown field '{unknown[0]}'. Known fields: {', '.join(self.fields)}."
                }
            )
        if sum(form in data for form in DOCUMENT_FORMS) != 1:
            given = [form for form in DOCUMENT_FORMS if form in data]
            raise serializers.ValidationError(
                {
                    (given[0] if given else "document"): "Send exactly one of "
                    "'document' (base64), 'document_url' or 'documents'."
                }
            )
        return super().to_internal_value(data)

    def validate_to(self, value: str) -> str:
        try:
            return normalize_e164(value)
        except InvalidPhoneNumber as error:
            raise serializers.ValidationError(str(error)) from None

    def validate_header_text(self, value: str) -> str:
        unprintable = header_unprintable(value)
        if unprintable:
            raise serializers.ValidationError(header_unprintable_message(unprintable))
        return value

    def validate_document_url(self, value: str) -> str:
        try:
            return check_url_syntax(value)
        except UnsafeUrl as error:
            raise serializers.ValidationError(error.message) from None


class FaxResendSerializer(serializers.Serializer):
    """POST /v1/faxes/{id}/resend: where to, and from which number; both optional (required
    `to` for a received fax, which is forwarded)."""

    to = serializers.RegexField(
        E164_SHAPE,
        required=False,
        help_text="E.164; default: the fax's own `to`. Required to forward a received fax.",
        error_messages={"invalid": E164_HELP},
    )
    from_ = serializers.CharField(
        required=False,
        help_text="One of the account's numbers; default: the fax's own `from` (a received "
        "fax: the number it was received on).",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["The request body must be a JSON object."]}
            )
        _refuse_unknown(data, self.fields, what="A resend")
        return super().to_internal_value(data)

    def validate_to(self, value: str) -> str:
        try:
            return normalize_e164(value)
        except InvalidPhoneNumber as error:
            raise serializers.ValidationError(str(error)) from None


class InboundFaxTestSerializer(serializers.Serializer):
    """POST /v1/test_helpers/inbound_faxes: a simulated fax received in test mode."""

    to = serializers.RegexField(
        E164_SHAPE, help_text="One of your numbers.", error_messages={"invalid": E164_HELP}
    )
    from_ = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        default="+15551230000",
        help_text="The sender as a fax machine would give it: anything, even empty.",
    )
    document = InlineDocumentSerializer(
        required=False, help_text="Default: a generated one-page PDF."
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["The request body must be a JSON object."]}
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {
                    unknown[
                        0
                    ]: f"Unknown field '{unknown[0]}'. Known fields: {', '.join(self.fields)}."
                }
            )
        return super().to_internal_value(data)

    def validate_to(self, value: str) -> str:
        try:
            return normalize_e164(value)
        except InvalidPhoneNumber as error:
            raise serializers.ValidationError(str(error)) from None
