"""/v1/faxes: send a fax, read one, list them; download or delete a fax's document, preview its
first page."""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path
from django.utils.dateparse import parse_datetime
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import Direction, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from developers.authentication import api_key_actor
from developers.models import Scope
from faxes.documents import ACCEPTED_CONTENT_TYPES, DocumentError, decode_base64
from faxes.documents.compose import CoverPage
from faxes.models import Direction as FaxDirection
from faxes.models import Fax
from faxes.selectors import (
    FaxFilters,
    FaxPosition,
    fax_of_account,
    fax_position,
    faxes_at,
    faxes_page,
)
from faxes.serializers import (
    MAX_DOCUMENTS,
    PUBLIC_STATUSES,
    CoverPageSerializer,
    DocumentItemSerializer,
    FaxCreateSerializer,
    FaxResendSerializer,
    FaxRetryInputSerializer,
    FaxSerializer,
    InboundFaxTestSerializer,
    InlineDocumentSerializer,
    fax_public,
    faxes_public,
)
from faxes.services.cancel import (
    CancelCarrierUnavailable,
    CancelOutcome,
    FaxNotCancelable,
    fax_cancel,
)
from faxes.services.documents import (
    DocumentMissing,
    DocumentNotReady,
    DocumentPurged,
    DocumentUnavailable,
    DocumentUnreadable,
    FaxInProgress,
    StorageUnavailable,
    document_downloads_exhausted,
    fax_document_delete,
    fax_document_download,
    fax_document_preview,
)
from faxes.services.inbound import inbound_fax_simulate, sample_received_pdf
from faxes.services.intake import (
    IDEMPOTENCY_KEY,
    FaxAccepted,
    FaxRequest,
    FromNumberRefused,
    IdempotencyConflict,
    IdempotentAnswer,
    InlineDocument,
    UrlDocument,
    fax_accept,
    fax_accept_replayed,
    idempotency_key_is_valid,
    idempotently,
    request_fingerprint,
)
from faxes.services.resend import ResendRefused, fax_resend
from faxes.views import document_response
from sendfaxmail.lib.api import serializer_of_thread
from sendfaxmail.lib.errors import ApiError, Conflict, InvalidRequest, NotFound, RateLimited
from sendfaxmail.lib.fetch import MAX_URL_LENGTH
from sendfaxmail.lib.openapi import (
    ERROR_RESPONSES,
    ListEnvelopeSerializer,
    error_response,
    response_header,
    response_headers,
)
from sendfaxmail.lib.phone import E164_SHAPE, InvalidPhoneNumber, normalize_e164

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    pattern=IDEMPOTENCY_KEY.pattern,
    description=(
        "1–255 printable ASCII characters. Retrying the same request with the same key returns "
        "the original answer (with `Idempotent-Replayed: true`) instead of sending again. Keys "
        "are kept at least 24 hours, per account."
    ),
)


class IdempotencyKeyReused(ApiError):
    status_code = 422
    code = "idempotency_key_reused"
    default_message = (
        "This Idempotency-Key was already used with a different request. "
        "Use a new key for each distinct fax."
    )


class IdempotencyKeyInProgress(Conflict):
    code = "idempotency_key_in_progress"
    retry_after = 1
    default_message = (
        "A request with this Idempotency-Key is still being processed. Retry in a moment."
    )


def _idempotency_key(request: Request) -> str | None:
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    if not idempotency_key_is_valid(value):
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            param="Idempotency-Key",
        )
    return value


def _idempotency_error(conflict: IdempotencyConflict) -> ApiError:
    """The answer to an Idempotency-Key whose first request still runs, or that was used with
    another request."""
    return IdempotencyKeyInProgress() if conflict.in_progress else IdempotencyKeyReused()


def _new_fax_response(body: dict[str, Any], *, fax_id: str | None, replayed: bool) -> Response:
    """201 with a new fax (a send or a resend), or the stored answer an Idempotency-Key
    replays: `Location` and, for a replay, `Idempotent-Replayed`."""
    headers = {"Location": f"/v1/faxes/{fax_id}"} if fax_id else {}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body, status=201, headers=headers)


def _accepted_response(accepted: FaxAccepted) -> Response:
    """201 with the accepted fax (or the stored answer an Idempotency-Key replays)."""
    return _new_fax_response(
        accepted.representation, fax_id=accepted.fax_id, replayed=accepted.replayed
    )


def _release(request: Request) -> None:
    """Let the body's data go once the answer is made.

    DRF's request, view and response point at each other: only the garbage collector frees
    them, whenever it next runs, and with them the body, its base64 text and the decoded
    document. A worker grew by about 100 MB a 20 MB send until a `gc.collect()` after each large
    body. The request drops its parsed data, so reference counting frees it when the view
    returns; the request's serializer is this thread's (`serializer_of_thread`), which keeps
    nothing of it.
    """
    request._full_data = request._data = {}


class FaxListSerializer(ListEnvelopeSerializer):
    """A page of the account's faxes, newest first."""

    # For the schema only: the view builds the dict.

    data = FaxSerializer(many=True, help_text="Newest first.")
    page = serializers.IntegerField(
        min_value=1, required=False, help_text="Only when paging by `page`: this page's number."
    )
    limit = serializers.IntegerField(min_value=1, max_value=100)
    has_more = serializers.BooleanField(
        help_text="True when more faxes lie beyond this page: older ones, or with "
        "`ending_before`, newer ones."
    )
    next_cursor = serializers.CharField(
        allow_null=True,
        help_text="Pass it as `cursor` for the next (older) page; null on the last page.",
    )


class FaxCreateRequestSchema(OpenApiSerializerExtension):
    """What drf-spectacular cannot read from FaxCreateSerializer's code: unknown fields are
    refused, exactly one of `document` and `document_url` is required, and the limits that
    `check_url_syntax` and the account's numbers impose."""

    target_class = FaxCreateSerializer

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema = super().map_serializer(auto_schema, direction)
        schema["additionalProperties"] = False
        schema["oneOf"] = [
            {"title": "Inline document", "required": ["document"]},
            {"title": "Document by URL", "required": ["document_url"]},
            {"title": "Several documents", "required": ["documents"]},
        ]
        schema["description"] = (
            "Send exactly one of `document` (the file, base64-encoded), `document_url` and "
            "`documents` (1 to 10, faxed in order as one fax: at most 20 MB and 350 pages in "
            "all, cover page included; inline and URL documents may be mixed: the inline ones "
            "are checked now, the URLs fetched by a worker, and a URL that fails fails the fax "
            "naming it). Errors about one of `documents` name it by index, e.g. "
            "`documents[2].content`. Unknown fields are refused."
        )
        schema["properties"]["from"]["pattern"] = E164_SHAPE.pattern
        schema["properties"]["document_url"].update(format="uri", maxLength=MAX_URL_LENGTH)
        schema["properties"]["documents"].update(minItems=1, maxItems=MAX_DOCUMENTS)
        schema["properties"]["send_at"]["format"] = "date-time"
        return schema


class DocumentItemRequestSchema(OpenApiSerializerExtension):
    """Each of `documents` is inline (`content`, `content_type`) or by `url`, never both."""

    target_class = DocumentItemSerializer

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema = super().map_serializer(auto_schema, direction)
        schema["additionalProperties"] = False
        schema["properties"]["content_type"]["enum"] = list(ACCEPTED_CONTENT_TYPES)
        schema["properties"]["content_type"].pop("minLength", None)
        schema["properties"]["url"].update(format="uri", maxLength=MAX_URL_LENGTH)
        schema["oneOf"] = [
            {
                "title": "Inline",
                "required": ["content", "content_type"],
                "not": {"required": ["url"]},
            },
            {
                "title": "By URL",
                "required": ["url"],
                "not": {"anyOf": [{"required": ["content"]}, {"required": ["content_type"]}]},
            },
        ]
        return schema


class CoverPageRequestSchema(OpenApiSerializerExtension):
    """Unknown fields are refused."""

    target_class = CoverPageSerializer

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema = super().map_serializer(auto_schema, direction)
        schema["additionalProperties"] = False
        return schema


class InlineDocumentRequestSchema(OpenApiSerializerExtension):
    """Unknown fields are refused, and `content_type` is checked by `prepare_document`, not by a
    ChoiceField."""

    target_class = InlineDocumentSerializer

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema = super().map_serializer(auto_schema, direction)
        schema["additionalProperties"] = False
        content_type = schema["properties"]["content_type"]
        content_type["enum"] = list(ACCEPTED_CONTENT_TYPES)
        content_type.pop("minLength", None)
        return schema


class FaxRetryInputSchema(OpenApiSerializerExtension):
    """Unknown fields of `retry` are refused."""

    target_class = FaxRetryInputSerializer

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema = super().map_serializer(auto_schema, direction)
        schema["additionalProperties"] = False
        return schema


# The answers of POST /v1/faxes, besides 401, 403 and 429.
CREATE_STATUSES = [201, 400, 409, 413, 415, 422]
# The answers of POST /v1/faxes/{id}/resend, besides 401, 403 and 429.
RESEND_STATUSES = [201, 400, 404, 409, 410, 415, 422]
# The answers of POST /v1/faxes/{id}/cancel, besides 401, 403 and 429.
CANCEL_STATUSES = [200, 202, 400, 404, 409, 422, 503]


# The headers of a 201 that creates a fax (a send or a resend).
NEW_FAX_HEADERS = [
    response_header(
        "Location",
        "The new fax's URL, e.g. `/v1/faxes/fax_3kTq…`.",
        statuses=[201],
        schema=OpenApiTypes.STR,
        required=True,
    ),
    response_header(
        "Idempotent-Replayed",
        "Present when this is the stored answer to an earlier request with the same "
        "Idempotency-Key: no new fax was sent.",
        statuses=[201],
        schema=OpenApiTypes.STR,
        enum=["true"],
    ),
]


class FaxListCreateView(APIView):
    required_scopes = {"GET": Scope.FAXES_READ, "POST": Scope.FAXES_SEND}

    @extend_schema(
        operation_id="faxes_create",
        summary="Send a fax",
        request=FaxCreateSerializer,
        parameters=[
            IDEMPOTENCY_PARAMETER,
            *response_headers(*CREATE_STATUSES, retry_after=(409,)),
            *NEW_FAX_HEADERS,
        ],
        responses={
            201: FaxSerializer,
            400: error_response(
                "`validation_error` (`param` names the field or header at fault) or "
                "`invalid_json`.",
                "validation_error",
            ),
            409: error_response(
                "`idempotency_key_in_progress`: a request with this Idempotency-Key is still "
                "being processed. Retry after `Retry-After` seconds.",
                "idempotency_key_in_progress",
            ),
            413: error_response(
                "`request_too_large`: the body is over 28 MB; send a `document_url` instead.",
                "request_too_large",
            ),
            415: error_response(
                "`unsupported_media_type`: the body must be `application/json`.",
                "unsupported_media_type",
            ),
            422: error_response(
                "`idempotency_key_reused`: the key was used with a different request.",
                "idempotency_key_reused",
            ),
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request) -> Response:
        idempotency_key = _idempotency_key(request)
        try:
            return self._send(request, idempotency_key=idempotency_key)
        finally:
            _release(request)

    def _send(self, request: Request, *, idempotency_key: str | None) -> Response:
        try:
            values = serializer_of_thread(FaxCreateSerializer).run_validation(request.data)
        except ValidationError:
            replayed = idempotency_key and fax_accept_replayed(
                account=request.auth.account,
                livemode=request.auth.livemode,
                idempotency_key=idempotency_key,
                fingerprint=request_fingerprint(
                    method="POST", path=request.path, body=request.data
                ),
            )
            if not replayed:
                raise
            return _accepted_response(replayed)
        document = values.get("document")
        cover = values.get("cover_page")
        try:
            accepted = fax_accept(
                account=request.auth.account,
                api_key=request.auth,
                livemode=request.auth.livemode,
                request=FaxRequest(
                    to=values["to"],
                    from_number=values.get("from"),
                    document=InlineDocument(**document) if document else None,
                    document_url=values.get("document_url"),
                    client_reference=values.get("client_reference"),
                    retry_attempts=values.get("retry", {}).get("attempts"),
                    retry_interval_seconds=values.get("retry", {}).get("interval_seconds"),
                    documents=tuple(_document_part(item) for item in values.get("documents", [])),
                    cover_page=CoverPage(**cover) if cover is not None else None,
                    header=values["header"],
                    header_text=values.get("header_text", ""),
                    send_at=values.get("send_at"),
                ),
                idempotency_key=idempotency_key,
                fingerprint=request_fingerprint(
                    method="POST", path=request.path, body=request.data
                ),
            )
        except FromNumberRefused as refused:
            raise InvalidRequest(refused.message, param="from") from None
        except DocumentError as error:
            raise InvalidRequest(error.message, param=error.param or "document.content") from None
        except IdempotencyConflict as conflict:
            raise _idempotency_error(conflict) from None
        return _accepted_response(accepted)

    @extend_schema(
        operation_id="faxes_list",
        summary="List faxes, newest first",
        description=(
            "Page with `cursor` (the previous answer's `next_cursor`), `starting_after` or "
            "`ending_before` (a fax id): every page costs the same and none skips or repeats a "
            "fax while new ones arrive. `page` still works but is slower deep into a long list, "
            "and faxes created meanwhile shift its pages. Use at most one of the four."
        ),
        parameters=[
            OpenApiParameter(
                "cursor",
                {"type": "string", "maxLength": 200},
                description="The `next_cursor` of the previous page: the faxes just older.",
            ),
            OpenApiParameter(
                "starting_after",
                {"type": "string", "maxLength": 32},
                description="A fax id: the page of faxes just older than that fax.",
            ),
            OpenApiParameter(
                "ending_before",
                {"type": "string", "maxLength": 32},
                description="A fax id: the page of faxes just newer than that fax (still "
                "newest first).",
            ),
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                default=1,
                description="The page of `limit` faxes, from 1 (the slower choice; see above).",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 100},
                default=20,
                description="Faxes per page.",
            ),
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=[s.value for s in PUBLIC_STATUSES],
                description="Only faxes in this status.",
            ),
            OpenApiParameter(
                "direction",
                OpenApiTypes.STR,
                enum=FaxDirection.values,
                description="Only sent (`outbound`) or received (`inbound`) faxes.",
            ),
            OpenApiParameter(
                "to",
                OpenApiTypes.STR,
                pattern=E164_SHAPE.pattern,
                description="Only faxes to this E.164 number.",
            ),
            OpenApiParameter(
                "created_after",
                OpenApiTypes.DATETIME,
                description="Only faxes created after this time, ISO 8601 with a zone.",
            ),
            OpenApiParameter(
                "created_before",
                OpenApiTypes.DATETIME,
                description="Only faxes created before this time, ISO 8601 with a zone.",
            ),
            *response_headers(200, 400),
        ],
        responses={
            200: FaxListSerializer,
            400: error_response(
                "`validation_error`: `param` names the query parameter at fault.",
                "validation_error",
            ),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        given = [name for name in PAGING_PARAMS if name in params]
        if len(given) > 1:
            raise InvalidRequest(
                f"Use only one of {', '.join(PAGING_PARAMS)}; got {given[0]} and {given[1]}.",
                param=given[1],
            )
        account, livemode = request.auth.account, request.auth.livemode
        position = _position(params, account=account, livemode=livemode)
        page = _int_param(params, "page", default=1, low=1, high=1_000_000)
        limit = _int_param(params, "limit", default=20, low=1, high=100)
        filters = _filters(params)
        body: dict[str, Any] = {"object": "list"}
        if position is None:
            faxes, has_more = faxes_page(
                account=account, livemode=livemode, filters=filters, page=page, limit=limit
            )
            body["page"] = page
        else:
            faxes, has_more = faxes_at(
                account=account, livemode=livemode, filters=filters, position=position, limit=limit
            )
        # Going back (`ending_before`), older faxes follow this page whatever `has_more` says.
        older = has_more or (position is not None and position.before)
        next_cursor = cursor_encode(faxes[-1]) if faxes and older else None
        body.update(
            data=faxes_public(faxes), limit=limit, has_more=has_more, next_cursor=next_cursor
        )
        return Response(body)


# The ways to say which page of GET /v1/faxes: at most one per request.
PAGING_PARAMS = ("cursor", "starting_after", "ending_before", "page")
_CURSOR = re.compile(r"^([0-9]{1,19})\.(fax_[A-Za-z0-9]{1,28})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cursor_encode(fax: Fax) -> str:
    """The opaque cursor of the page after `fax`: its creation time (in microseconds) and id.
    Opaque so that its form may change; a cursor keeps working after the fax is deleted."""
    micros = (fax.created_at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}.{fax.id}".encode()).decode().rstrip("=")


def cursor_decode(value: str) -> FaxPosition | None:
    """The position a cursor stands for, or None when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    match = _CURSOR.match(raw)
    if match is None:
        return None
    try:
        at = _EPOCH + timedelta(microseconds=int(match[1]))
    except OverflowError:
        return None
    return FaxPosition(created_at=at, id=match[2])


def _position(params: Any, *, account: Any, livemode: bool) -> FaxPosition | None:
    """Where the page starts when it is not asked for by number; InvalidRequest naming the
    parameter when it is not a cursor of ours, or not one of the account's faxes."""
    if (cursor := params.get("cursor")) is not None:
        position = cursor_decode(cursor) if len(cursor) <= 200 else None
        if position is None:
            raise InvalidRequest(
                "'cursor' must be the 'next_cursor' of an earlier answer.", param="cursor"
            )
        return position
    for name in ("starting_after", "ending_before"):
        if (fax_id := params.get(name)) is None:
            continue
        position = None
        if len(fax_id) <= 32 and "\x00" not in fax_id:
            position = fax_position(
                account=account,
                livemode=livemode,
                fax_id=fax_id,
                before=name == "ending_before",
            )
        if position is None:
            raise InvalidRequest(f"'{name}' must be the id of one of your faxes.", param=name)
        return position
    return None


def _document_part(item: dict[str, str]) -> InlineDocument | UrlDocument:
    return UrlDocument(item["url"]) if "url" in item else InlineDocument(**item)


def _int_param(params: Any, name: str, *, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not low <= int(raw) <= high:
        raise InvalidRequest(f"'{name}' must be a whole number from {low} to {high}.", param=name)
    return int(raw)


def _datetime_param(params: Any, name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise InvalidRequest(
            f"'{name}' must be an ISO 8601 time with a zone, e.g. 2026-11-26T23:00:00Z.", param=name
        )
    try:
        # PostgreSQL refuses offsets of 16 hours and more, which ISO 8601 allows: query in UTC.
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidRequest(f"'{name}' is out of range.", param=name) from None


def _filters(params: Any) -> FaxFilters:
    """The list's filters from the query string; InvalidRequest naming the one at fault. They are
    read in this order, so the first bad one is the one reported."""
    status = params.get("status")
    if status is not None and status not in PUBLIC_STATUSES:
        raise InvalidRequest(
            f"'status' must be one of: {', '.join(PUBLIC_STATUSES)}.", param="status"
        )
    direction = params.get("direction")
    if direction is not None and direction not in FaxDirection.values:
        raise InvalidRequest(
            f"'direction' must be one of: {', '.join(FaxDirection.values)}.", param="direction"
        )
    to = params.get("to")
    if to is not None:
        try:
            to = normalize_e164(to)
        except InvalidPhoneNumber as error:
            raise InvalidRequest(str(error), param="to") from None
    return FaxFilters(
        status=status,
        direction=direction,
        to=to,
        created_after=_datetime_param(params, "created_after"),
        created_before=_datetime_param(params, "created_before"),
    )


class FaxDetailView(APIView):
    required_scopes = {"GET": Scope.FAXES_READ}

    @extend_schema(
        operation_id="faxes_retrieve",
        summary="Get a fax's status and page count",
        parameters=[
            OpenApiParameter(
                "fax_id",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="The fax's `id`, e.g. `fax_3kTq…`.",
            ),
            *response_headers(200, 404),
        ],
        responses={
            200: FaxSerializer,
            404: error_response(
                "`not_found`: no fax with this id in the key's account and mode (live or test).",
                "not_found",
            ),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request, fax_id: str) -> Response:
        fax = fax_of_account(
            account=request.auth.account, livemode=request.auth.livemode, fax_id=fax_id
        )
        if fax is None:
            raise NotFound(f"No fax with id '{fax_id}'.", param="id")
        return Response(fax_public(fax))


class FaxInProgressError(Conflict):
    code = "fax_in_progress"
    default_message = (
        "The fax is still queued, sending or receiving, and needs its document. Delete it once "
        "the fax is delivered, failed, canceled or received."
    )


class DocumentNotReadyError(Conflict):
    code = "document_not_ready"
    default_message = DocumentNotReady.message


class DocumentGone(ApiError):
    status_code = 410
    code = "document_purged"


class DocumentUnreadableError(ApiError):
    status_code = 410
    code = "document_unreadable"


class DocumentStorageUnavailable(ApiError):
    status_code = 503
    code = "document_unavailable"
    retry_after = 30


def _document_error(error: DocumentUnavailable, fax_id: str) -> ApiError:
    """The answer for a document that cannot be handed out."""
    if isinstance(error, DocumentPurged):
        return DocumentGone(error.message)
    if isinstance(error, DocumentNotReady):
        return DocumentNotReadyError(error.message)
    if isinstance(error, DocumentUnreadable):
        return DocumentUnreadableError(error.message)
    if isinstance(error, StorageUnavailable):
        return DocumentStorageUnavailable(error.message)
    return NotFound(error.message, param="id")


class FaxNotCancelableError(Conflict):
    code = "fax_not_cancelable"
    default_message = "This fax has finished and can no longer be canceled."


class CarrierUnavailableError(ApiError):
    status_code = 503
    code = "carrier_unavailable"
    default_message = (
        "The carrier could not be reached to cancel the fax; nothing changed. Retry in a moment."
    )

    def __init__(self, *, retry_after: float | None) -> None:
        super().__init__()
        self.retry_after = max(1, math.ceil(retry_after or 5))


FAX_ID_PARAMETER = OpenApiParameter(
    "fax_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The fax's `id`, e.g. `fax_3kTq…`.",
)
NOT_FOUND = error_response(
    "`not_found`: no fax with this id in the key's account and mode (live or test).",
    "not_found",
)


class _FaxDocumentBase(APIView):
    """What the views of a fax's document share: errors are JSON whatever the client accepts
    (`Accept: application/pdf` or `image/png`), the fax is one of the key's account's, and
    reading the document (a download or a preview: decrypting, stamping, rendering) counts
    against the account's DOCUMENT_DOWNLOAD_RATE."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)

    def _fax(self, request: Request, fax_id: str) -> Any:
        fax = fax_of_account(
            account=request.auth.account, livemode=request.auth.livemode, fax_id=fax_id
        )
        if fax is None:
            raise NotFound(f"No fax with id '{fax_id}'.", param="id")
        return fax

    def _fax_to_read(self, request: Request, fax_id: str) -> Any:
        fax = self._fax(request, fax_id)
        retry_after = document_downloads_exhausted(account_id=fax.account_id)
        if retry_after is not None:
            raise RateLimited(
                f"This account's document downloads and previews are used up for this window "
                f"(DOCUMENT_DOWNLOAD_RATE). Retry after {retry_after} s.",
                retry_after=retry_after,
            )
        return fax


class FaxDocumentView(_FaxDocumentBase):
    """The fax's document: GET streams the PDF, DELETE deletes it for good."""

    required_scopes = {"GET": Scope.FAXES_READ, "DELETE": Scope.FAXES_SEND}
    # A HEAD would have to decrypt (or record a download that sent nothing): not served.
    http_method_names = ["get", "delete", "options"]

    @extend_schema(
        operation_id="faxes_document_download",
        summary="Download a fax's document (PDF)",
        description=(
            "The PDF that was (or is being) faxed, as an attachment named `<fax id>.pdf`, with "
            "`Cache-Control: no-store`. For a sent fax it is byte for byte what the carrier "
            "received for the latest attempt: documents merged, cover page and header line "
            "(with that attempt's date and time; before the first, the time it would be sent "
            "now). Every download is recorded "
            "in the account's security log with the key and the client's address, and counts "
            "against the account's document budget (`DOCUMENT_DOWNLOAD_RATE`, shared with "
            "previews): past it, 429 `rate_limited` with `Retry-After`. If the "
            "stored document turns out to be damaged part-way, the connection is closed early "
            "and fewer bytes than `Content-Length` arrive: treat a short body as a failure."
        ),
        parameters=[FAX_ID_PARAMETER, *response_headers(200, 404, 409, 410, retry_after=(503,))],
        responses={
            (200, "application/pdf"): OpenApiResponse(
                response=OpenApiTypes.BINARY, description="The PDF."
            ),
            404: NOT_FOUND,
            409: error_response(
                "`document_not_ready`: the fax's `document_url` has not been fetched yet.",
                "document_not_ready",
            ),
            410: error_response(
                "`document_purged`: the document was deleted (retention or DELETE); "
                "`document_unreadable`: the stored document fails its integrity check or its "
                "key is gone (contact support).",
                "document_purged",
            ),
            503: error_response(
                "`document_unavailable`: the document storage cannot be reached; retry after "
                "`Retry-After` seconds.",
                "document_unavailable",
            ),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request, fax_id: str) -> StreamingHttpResponse:
        fax = self._fax_to_read(request, fax_id)
        try:
            download = fax_document_download(fax=fax, actor=api_key_actor(request), via="api")
        except DocumentUnavailable as error:
            raise _document_error(error, fax_id) from None
        return document_response(download)

    @extend_schema(
        operation_id="faxes_document_delete",
        summary="Delete a fax's document now",
        description=(
            "Deletes the stored document of a delivered, failed, canceled or received fax, "
            "ahead of the account's retention. The fax keeps everything else (status, pages, "
            "the document's type, size and SHA-256); `document.purged_at` says when. "
            "Idempotent: deleting again answers 200 with the same fax."
        ),
        parameters=[FAX_ID_PARAMETER, *response_headers(200, 404, 409)],
        responses={
            200: FaxSerializer,
            404: NOT_FOUND,
            409: error_response(
                "`fax_in_progress`: the fax is still queued, sending or receiving.",
                "fax_in_progress",
            ),
            **ERROR_RESPONSES,
        },
    )
    def delete(self, request: Request, fax_id: str) -> Response:
        fax = self._fax(request, fax_id)
        try:
            fax = fax_document_delete(fax=fax)
        except FaxInProgress:
            raise FaxInProgressError() from None
        return Response(fax_public(fax))


class FaxPreviewView(_FaxDocumentBase):
    """The fax's first page as a PNG, exactly as it is (or was) faxed."""

    required_scopes = {"GET": Scope.FAXES_READ}
    # A HEAD would render (and record a viewing) for nothing: not served.
    http_method_names = ["get", "options"]

    @extend_schema(
        operation_id="faxes_preview",
        summary="Preview a fax's first page (PNG)",
        description=(
            "The first page as it is faxed, rendered as a greyscale PNG at 108 dpi (a US Letter "
            "page is 918 × 1188 pixels): for a sent fax the cover page when there is one, with "
            "the header line (date and time, name, number, `Page 1/N`) exactly as the carrier "
            "got it, or, before it is sent, as it would be sent now; for a received fax its "
            "first page. Served with `Cache-Control: no-store`; every preview is recorded in "
            "the account's security log with the key and the client's address, and counts "
            "against the account's document budget (`DOCUMENT_DOWNLOAD_RATE`, shared with "
            "downloads): past it, 429 `rate_limited` with `Retry-After`."
        ),
        parameters=[FAX_ID_PARAMETER, *response_headers(200, 404, 409, 410, retry_after=(503,))],
        responses={
            (200, "image/png"): OpenApiResponse(
                response=OpenApiTypes.BINARY, description="The first page, as a PNG image."
            ),
            404: NOT_FOUND,
            409: error_response(
                "`document_not_ready`: the fax's `document_url` has not been fetched yet.",
                "document_not_ready",
            ),
            410: error_response(
                "`document_purged`: the document was deleted (retention or DELETE); "
                "`document_unreadable`: the stored document fails its integrity check, its key "
                "is gone or it cannot be rendered (contact support).",
                "document_purged",
            ),
            503: error_response(
                "`document_unavailable`: the document storage cannot be reached; retry after "
                "`Retry-After` seconds.",
                "document_unavailable",
            ),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request, fax_id: str) -> HttpResponse:
        fax = self._fax_to_read(request, fax_id)
        try:
            image = fax_document_preview(fax=fax, actor=api_key_actor(request), via="api")
        except DocumentUnavailable as error:
            raise _document_error(error, fax_id) from None
        response = HttpResponse(image, content_type="image/png")
        response["Content-Disposition"] = f'inline; filename="{fax.id}-page-1.png"'
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class FaxCancelView(APIView):
    required_scopes = {"POST": Scope.FAXES_SEND}

    @extend_schema(
        operation_id="faxes_cancel",
        summary="Cancel a fax",
        description=(
            "A `scheduled` or `queued` fax is canceled at once (200, status `canceled`): it "
            "will never be sent. A `sending` fax is canceled at the carrier (202, status still "
            "`sending`, `cancel_requested_at` set); it becomes `canceled` when the carrier "
            "stops it, or `delivered` if the carrier finished first. Either way the "
            "`fax.canceled` webhook event follows. A finished fax answers 409 "
            "`fax_not_cancelable`."
        ),
        request=None,
        parameters=[
            FAX_ID_PARAMETER,
            IDEMPOTENCY_PARAMETER,
            *response_headers(*CANCEL_STATUSES, retry_after=(409, 503)),
            response_header(
                "Idempotent-Replayed",
                "Present when this is the stored answer to an earlier request with the same "
                "Idempotency-Key.",
                statuses=[200, 202],
                schema=OpenApiTypes.STR,
                enum=["true"],
            ),
        ],
        responses={
            200: FaxSerializer,
            202: FaxSerializer,
            400: error_response(
                "`validation_error`: the Idempotency-Key header is malformed.",
                "validation_error",
            ),
            404: NOT_FOUND,
            409: error_response(
                "`fax_not_cancelable`: the fax is `delivered`, `failed` or `canceled`, or the "
                "carrier is past sending it; or `idempotency_key_in_progress` (retry after "
                "`Retry-After` seconds).",
                "fax_not_cancelable",
            ),
            422: error_response(
                "`idempotency_key_reused`: the key was used with a different request.",
                "idempotency_key_reused",
            ),
            503: error_response(
                "`carrier_unavailable`: the carrier could not be asked; nothing changed. Retry "
                "after `Retry-After` seconds.",
                "carrier_unavailable",
            ),
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request, fax_id: str) -> Response:
        account, livemode = request.auth.account, request.auth.livemode
        fax = fax_of_account(account=account, livemode=livemode, fax_id=fax_id)
        if fax is None:
            raise NotFound(f"No fax with id '{fax_id}'.", param="id")
        idempotency_key = _idempotency_key(request)

        def cancel() -> IdempotentAnswer:
            outcome = fax_cancel(fax=fax, actor=api_key_actor(request))
            status = 200 if outcome == CancelOutcome.CANCELED else 202
            return IdempotentAnswer(status=status, body=fax_public(fax), fax_id=fax.id)

        try:
            answer = idempotently(
                account=account,
                livemode=livemode,
                key=idempotency_key,
                fingerprint=request_fingerprint(method="POST", path=request.path, body={}),
                run=cancel,
            )
        except FaxNotCancelable as refused:
            raise FaxNotCancelableError(
                f"This fax is {refused.status} and can no longer be canceled."
            ) from None
        except CancelCarrierUnavailable as unavailable:
            raise CarrierUnavailableError(retry_after=unavailable.retry_after) from None
        except IdempotencyConflict as conflict:
            raise _idempotency_error(conflict) from None
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        return Response(answer.body, status=answer.status, headers=headers)


class DocumentMissingError(Conflict):
    code = "document_missing"
    default_message = DocumentMissing.message


class FaxResendRequestSchema(OpenApiSerializerExtension):
    """Unknown fields are refused; `from` is one of the account's numbers."""

    target_class = FaxResendSerializer

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema = super().map_serializer(auto_schema, direction)
        schema["additionalProperties"] = False
        schema["properties"]["from"]["pattern"] = E164_SHAPE.pattern
        return schema


class FaxResendView(APIView):
    required_scopes = {"POST": Scope.FAXES_SEND}

    @extend_schema(
        operation_id="faxes_resend",
        summary="Resend a fax",
        description=(
            "Creates a new fax (201) with the stored document of this one (its documents and "
            "cover page as composed; the header line is stamped anew with the new fax's own "
            "send time), `resent_from` set to this fax's id. The new fax keeps this one's "
            "`from`, header options, `retry` and `client_reference`; `to` defaults to the same "
            "number. The original is unchanged. A received fax is forwarded: `to` is then "
            "required, and it leaves from the number it was received on (with the account's "
            "redial defaults). The body may be empty."
        ),
        request=FaxResendSerializer,
        parameters=[
            FAX_ID_PARAMETER,
            IDEMPOTENCY_PARAMETER,
            *response_headers(*RESEND_STATUSES, retry_after=(409,)),
            *NEW_FAX_HEADERS,
        ],
        responses={
            201: FaxSerializer,
            400: error_response(
                "`validation_error`: `param` names the field at fault (`to` when a received "
                "fax is forwarded without one; `from` when the sender is not one of the "
                "account's numbers any more), or the Idempotency-Key header.",
                "validation_error",
            ),
            404: NOT_FOUND,
            409: error_response(
                "`document_not_ready`: the fax's `document_url` is not fetched yet (or a "
                "received fax's pages are not stored yet); `document_missing`: the fax finished "
                "without a stored document; `idempotency_key_in_progress` (retry after "
                "`Retry-After` seconds).",
                "document_not_ready",
            ),
            410: error_response(
                "`document_purged`: the document was deleted (retention or DELETE).",
                "document_purged",
            ),
            415: error_response(
                "`unsupported_media_type`: a body must be `application/json`.",
                "unsupported_media_type",
            ),
            422: error_response(
                "`idempotency_key_reused`: the key was used with a different request.",
                "idempotency_key_reused",
            ),
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request, fax_id: str) -> Response:
        account, livemode = request.auth.account, request.auth.livemode
        idempotency_key = _idempotency_key(request)
        # No body at all (`curl -X POST`, whatever Content-Type a client adds) is an empty one.
        data = request.data if int(request.META.get("CONTENT_LENGTH") or 0) else {}
        serializer = FaxResendSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        fax = fax_of_account(account=account, livemode=livemode, fax_id=fax_id)
        if fax is None:
            raise NotFound(f"No fax with id '{fax_id}'.", param="id")

        def resend() -> IdempotentAnswer:
            new = fax_resend(
                fax=fax, api_key=request.auth, to=values.get("to"), from_number=values.get("from")
            )
            return IdempotentAnswer(status=201, body=fax_public(new), fax_id=new.id)

        try:
            answer = idempotently(
                account=account,
                livemode=livemode,
                key=idempotency_key,
                fingerprint=request_fingerprint(method="POST", path=request.path, body=data),
                run=resend,
            )
        except DocumentMissing as error:
            raise DocumentMissingError(error.message) from None
        except DocumentUnavailable as error:
            raise _document_error(error, fax_id) from None
        except ResendRefused as refused:
            raise InvalidRequest(refused.message, param=refused.param) from None
        except FromNumberRefused as refused:
            raise InvalidRequest(
                f"{refused.message} Give 'from', one of the account's numbers.", param="from"
            ) from None
        except IdempotencyConflict as conflict:
            raise _idempotency_error(conflict) from None
        return _new_fax_response(answer.body, fax_id=answer.fax_id, replayed=answer.replayed)


class TestModeOnly(ApiError):
    status_code = 403
    code = "test_mode_only"
    default_message = "This test helper works only with a test key (sfm_test_…)."


class InboundFaxTestView(APIView):
    required_scopes = {"POST": Scope.FAXES_SEND}

    @extend_schema(
        operation_id="test_helpers_inbound_faxes_create",
        summary="Receive a simulated fax (test keys only)",
        description=(
            "Creates a test-mode fax received on one of your numbers. It goes through the same "
            "processing as a real one: `fax.received` webhook event and fax-to-email."
        ),
        request=InboundFaxTestSerializer,
        parameters=[
            *response_headers(201, 400, 413, 415),
            response_header(
                "Location",
                "The new fax's URL, e.g. `/v1/faxes/fax_3kTq…`.",
                statuses=[201],
                schema=OpenApiTypes.STR,
                required=True,
            ),
        ],
        responses={
            201: FaxSerializer,
            413: error_response(
                "`request_too_large`: the body is over 28 MB.", "request_too_large"
            ),
            415: error_response(
                "`unsupported_media_type`: the body must be `application/json`.",
                "unsupported_media_type",
            ),
            400: error_response(
                "`validation_error`: `param` names the field at fault (`to` when the number "
                "is not one of yours).",
                "validation_error",
            ),
            403: error_response(
                "`test_mode_only` with a live key; also `plan_upgrade_required`, "
                "`insufficient_scope`.",
                "test_mode_only",
            ),
            **{code: answer for code, answer in ERROR_RESPONSES.items() if code != 403},
        },
    )
    def post(self, request: Request) -> Response:
        if request.auth.livemode:
            raise TestModeOnly()
        serializer = InboundFaxTestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        document = values.get("document")
        try:
            content = decode_base64(document["content"]) if document else sample_received_pdf()
            fax = inbound_fax_simulate(
                number=values["to"],
                from_=values["from"],
                document=content,
                content_type=document["content_type"] if document else "application/pdf",
                livemode=False,
                account=request.auth.account,
            )
        except LookupError:
            raise InvalidRequest("'to' must be one of the account's numbers.", param="to") from None
        except DocumentError as error:
            raise InvalidRequest(error.message, param=error.param or "document.content") from None
        return Response(fax_public(fax), status=201, headers={"Location": f"/v1/faxes/{fax.id}"})


urlpatterns = [
    path("faxes", FaxListCreateView.as_view(), name="faxes"),
    path("faxes/<id:fax_id>", FaxDetailView.as_view(), name="fax"),
    path("faxes/<id:fax_id>/document", FaxDocumentView.as_view(), name="fax_document"),
    path("faxes/<id:fax_id>/preview", FaxPreviewView.as_view(), name="fax_preview"),
    path("faxes/<id:fax_id>/cancel", FaxCancelView.as_view(), name="fax_cancel"),
    path("faxes/<id:fax_id>/resend", FaxResendView.as_view(), name="fax_resend"),
    path("test_helpers/inbound_faxes", InboundFaxTestView.as_view(), name="inbound_fax_test"),
]
