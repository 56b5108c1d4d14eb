"""/v1/faxes: send a fax, read one, list them."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from django.urls import path
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from developers.models import Scope
from developers.openapi import ERROR_RESPONSES, RATE_LIMIT_HEADERS, ErrorSerializer
from faxes.models import Fax, FaxStatus
from faxes.serializers import PUBLIC_STATUSES, FaxCreateSerializer, FaxSerializer
from faxes.services import FaxRequest, IdempotencyConflict, fax_send, request_fingerprint
from sendfaxmail.lib.errors import ApiError, Conflict, InvalidRequest, NotFound
from sendfaxmail.lib.phone import InvalidPhoneNumber, normalize_e164

IDEMPOTENCY_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
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


def _without_content(data: Any) -> Any:
    """The body as fingerprinted: a document's base64 content enters by its SHA-256, so that a
    20 MB body is not serialised once more just to be hashed."""
    document = data.get("document") if isinstance(data, dict) else None
    if not isinstance(document, dict) or not isinstance(document.get("content"), str):
        return data
    digest = hashlib.sha256(document["content"].encode()).hexdigest()
    return {**data, "document": {**document, "content": f"sha256:{digest}"}}


def _account_faxes(request: Request) -> Any:
    """The caller's faxes in the caller's world (live or test): nothing else is reachable."""
    return Fax.objects.filter(account=request.auth.account, livemode=request.auth.livemode)


FaxListSerializer = inline_serializer(
    name="FaxList",
    fields={
        "object": serializers.CharField(default="list"),
        "data": FaxSerializer(many=True),
        "page": serializers.IntegerField(),
        "limit": serializers.IntegerField(),
        "has_more": serializers.BooleanField(),
    },
)


class FaxListCreateView(APIView):
    required_scopes = {"GET": Scope.FAXES_READ, "POST": Scope.FAXES_SEND}

    @extend_schema(
        operation_id="faxes_create",
        summary="Send a fax",
        request=FaxCreateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER, *RATE_LIMIT_HEADERS],
        responses={
            201: FaxSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="`validation_error` or `invalid_json`."
            ),
            409: OpenApiResponse(ErrorSerializer, description="`idempotency_key_in_progress`."),
            413: OpenApiResponse(ErrorSerializer, description="`request_too_large`."),
            415: OpenApiResponse(ErrorSerializer, description="`unsupported_media_type`."),
            422: OpenApiResponse(ErrorSerializer, description="`idempotency_key_reused`."),
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request) -> Response:
        idempotency_key = _idempotency_key(request)
        data = request.data
        serializer = FaxCreateSerializer(data=data, context={"account": request.auth.account})
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
            OpenApiParameter("page", OpenApiTypes.INT, description="1 or more (default 1)."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1–100 (default 20)."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=[s.value for s in PUBLIC_STATUSES]),
            OpenApiParameter("to", OpenApiTypes.STR, description="E.164 destination."),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME),
            *RATE_LIMIT_HEADERS,
        ],
        responses={200: FaxListSerializer, 400: ErrorSerializer, **ERROR_RESPONSES},
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
    if not raw.isdigit() or not low <= int(raw) <= high:
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
    return value


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
        parameters=RATE_LIMIT_HEADERS,
        responses={
            200: FaxSerializer,
            404: OpenApiResponse(ErrorSerializer, description="`not_found`."),
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
    path("faxes/<str:fax_id>", FaxDetailView.as_view(), name="fax"),
]
