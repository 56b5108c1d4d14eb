"""/v1/faxes: send a fax, read one, list them."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.urls import path
from django.utils.dateparse import parse_datetime
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import Direction, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from developers.models import Scope
from developers.openapi import (
    ERROR_RESPONSES,
    ListEnvelopeSerializer,
    error_response,
    response_header,
    response_headers,
)
from faxes.documents import ACCEPTED_CONTENT_TYPES
from faxes.models import Fax, FaxStatus
from faxes.serializers import (
    PUBLIC_STATUSES,
    FaxCreateSerializer,
    FaxSerializer,
    InlineDocumentSerializer,
)
from faxes.services import FaxRequest, IdempotencyConflict, fax_send, request_fingerprint
from sendfaxmail.lib.api import LargeString
from sendfaxmail.lib.errors import ApiError, Conflict, InvalidRequest, NotFound
from sendfaxmail.lib.fetch import MAX_URL_LENGTH
from sendfaxmail.lib.phone import E164_SHAPE, InvalidPhoneNumber, normalize_e164

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema

IDEMPOTENCY_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")

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
    if not IDEMPOTENCY_KEY.match(value):
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            param="Idempotency-Key",
        )
    return value


# Hashing a document's text this much at a time needs no copy of the whole text.
_HASH_CHUNK = 1024 * 1024


def _without_content(data: Any) -> Any:
    """The body as fingerprinted: a document's base64 content enters by its SHA-256, so that a
    20 MB body is not serialised once more just to be hashed."""
    document = data.get("document") if isinstance(data, dict) else None
    content = document.get("content") if isinstance(document, dict) else None
    if isinstance(content, LargeString):
        # The text's UTF-8 bytes, as the parser found them: the digest a str would give.
        digest = hashlib.sha256(content.view)
    elif isinstance(content, str):
        digest = hashlib.sha256()
        for start in range(0, len(content), _HASH_CHUNK):
            digest.update(content[start : start + _HASH_CHUNK].encode())
    else:
        return data
    return {**data, "document": {**document, "content": f"sha256:{digest.hexdigest()}"}}


def _release(request: Request, serializer: FaxCreateSerializer) -> None:
    """Let the body's data go once the answer is made.

    DRF's request, view and response point at each other, and every serializer is a reference
    cycle (each bound field points back at it through `parent`): only the garbage collector frees
    them, whenever it next runs, and with them the body, its base64 text and the decoded document.
    A worker grew by about 100 MB a 20 MB send until a `gc.collect()` after each large body.
    Unbinding the serializer's fields breaks its cycles, so reference counting frees it (and its
    `initial_data`) when the view returns; the request drops its parsed data.
    """
    request._full_data = request._data = {}
    _unbind(serializer)


def _unbind(serializer: serializers.BaseSerializer) -> None:
    # DRF caches the bound fields in the instance's `fields` (a cached_property).
    fields = serializer.__dict__.pop("fields", None) or {}
    for field in fields.values():
        if isinstance(field, serializers.BaseSerializer):
            _unbind(field)


def _account_faxes(request: Request) -> Any:
    """The caller's faxes in the caller's world (live or test): nothing else is reachable."""
    return Fax.objects.filter(account=request.auth.account, livemode=request.auth.livemode)


class FaxListSerializer(ListEnvelopeSerializer):
    """A page of the account's faxes, newest first."""

    # For the schema only: the view builds the dict.

    data = FaxSerializer(many=True, help_text="Newest first.")
    page = serializers.IntegerField(min_value=1)
    limit = serializers.IntegerField(min_value=1, max_value=100)
    has_more = serializers.BooleanField(help_text="True when the next page has faxes.")


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
        ]
        schema["description"] = (
            "Send exactly one of `document` (the file, base64-encoded) and `document_url`. "
            "Unknown fields are refused."
        )
        schema["properties"]["from"]["pattern"] = E164_SHAPE.pattern
        schema["properties"]["document_url"].update(format="uri", maxLength=MAX_URL_LENGTH)
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


# The answers of POST /v1/faxes, besides 401, 403 and 429.
CREATE_STATUSES = [201, 400, 409, 413, 415, 422]


class FaxListCreateView(APIView):
    required_scopes = {"GET": Scope.FAXES_READ, "POST": Scope.FAXES_SEND}

    @extend_schema(
        operation_id="faxes_create",
        summary="Send a fax",
        request=FaxCreateSerializer,
        parameters=[
            IDEMPOTENCY_PARAMETER,
            *response_headers(*CREATE_STATUSES, retry_after=(409,)),
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
        serializer = FaxCreateSerializer(
            data=request.data, context={"account": request.auth.account}
        )
        try:
            return self._send(request, serializer, idempotency_key=idempotency_key)
        finally:
            _release(request, serializer)

    def _send(
        self, request: Request, serializer: FaxCreateSerializer, *, idempotency_key: str | None
    ) -> Response:
        data = serializer.initial_data
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        document = values.get("document")
        try:
            outcome = fax_send(
                account=request.auth.account,
                api_key=request.auth,
                livemode=request.auth.livemode,
                request=FaxRequest(
                    to=values["to"],
                    from_number=values["from_number"],
                    document=document["prepared"] if document else None,
                    document_url=values.get("document_url"),
                    client_reference=values.get("client_reference"),
                ),
                idempotency_key=idempotency_key,
                fingerprint=request_fingerprint(
                    method="POST", path=request.path, body=_without_content(data)
                ),
                render=lambda fax: FaxSerializer(fax).data,
            )
        except IdempotencyConflict as conflict:
            if conflict.in_progress:
                raise IdempotencyKeyInProgress() from None
            raise IdempotencyKeyReused() from None
        headers = {"Location": f"/v1/faxes/{outcome.fax_id}"} if outcome.fax_id else {}
        if outcome.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(outcome.body, status=outcome.status, headers=headers)

    @extend_schema(
        operation_id="faxes_list",
        summary="List faxes, newest first",
        parameters=[
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                default=1,
                description="The page of `limit` faxes, from 1.",
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
        page = _int_param(params, "page", default=1, low=1, high=1_000_000)
        limit = _int_param(params, "limit", default=20, low=1, high=100)
        faxes = _filtered(_account_faxes(request), params).order_by("-created_at", "-id")
        offset = (page - 1) * limit
        rows = list(faxes[offset : offset + limit + 1])
        return Response(
            {
                "object": "list",
                "data": FaxSerializer(rows[:limit], many=True).data,
                "page": page,
                "limit": limit,
                "has_more": len(rows) > limit,
            }
        )


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


def _filtered(faxes: Any, params: Any) -> Any:
    status = params.get("status")
    if status is not None:
        if status not in PUBLIC_STATUSES:
            raise InvalidRequest(
                f"'status' must be one of: {', '.join(PUBLIC_STATUSES)}.", param="status"
            )
        faxes = faxes.filter(
            status__in=[FaxStatus.QUEUED, FaxStatus.SUBMITTING]
            if status == FaxStatus.QUEUED
            else [status]
        )
    if (to := params.get("to")) is not None:
        try:
            faxes = faxes.filter(to_number=normalize_e164(to))
        except InvalidPhoneNumber as error:
            raise InvalidRequest(str(error), param="to") from None
    if (after := _datetime_param(params, "created_after")) is not None:
        faxes = faxes.filter(created_at__gt=after)
    if (before := _datetime_param(params, "created_before")) is not None:
        faxes = faxes.filter(created_at__lt=before)
    return faxes


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
        fax = _account_faxes(request).filter(pk=fax_id).first()
        if fax is None:
            raise NotFound(f"No fax with id '{fax_id}'.", param="id")
        return Response(FaxSerializer(fax).data)


urlpatterns = [
    path("faxes", FaxListCreateView.as_view(), name="faxes"),
    path("faxes/<id:fax_id>", FaxDetailView.as_view(), name="fax"),
]
