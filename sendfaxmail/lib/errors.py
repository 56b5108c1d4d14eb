"""The one /v1 error envelope: `{"error": {"code", "message", "param", "request_id"}}`.

Views raise `ApiError` subclasses (or DRF's own exceptions); `exception_handler` turns every
exception into the envelope. Unknown exceptions are logged with their traceback and answered as a
500 `internal_error` that reveals nothing about internals.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from sendfaxmail.lib import request_id

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with our own stable `code`, a human `message` and the `param` at fault."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "bad_request"
    default_message = "The request could not be processed."
    # Seconds the client should wait before retrying; sent as `Retry-After` when set.
    retry_after: int | None = None

    def __init__(self, message: str | None = None, *, param: str | None = None) -> None:
        self.message = message or self.default_message
        self.param = param
        super().__init__(detail=self.message, code=self.code)


class InvalidRequest(ApiError):
    code = "validation_error"


class InvalidJson(ApiError):
    code = "invalid_json"
    default_message = "The request body is not valid JSON."


TOO_LARGE = (
    "The request body is too large. Documents may be at most 20 MB; "
    "send a document_url for large files."
)


class RequestTooLarge(ApiError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "request_too_large"
    default_message = "The request body is too large."


class NotFound(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    default_message = "No such resource."


class AuthenticationRequired(ApiError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "authentication_required"
    default_message = "Send your API key as 'Authorization: Bearer sfm_live_…'."


class InvalidApiKey(ApiError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "invalid_api_key"
    default_message = "The API key is not valid. It may have been mistyped, revoked or deleted."


class PlanUpgradeRequired(ApiError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "plan_upgrade_required"
    default_message = (
        "The Fax API is included on the Business and Enterprise plans. "
        "Upgrade the account to use this key."
    )


class InsufficientScope(ApiError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "insufficient_scope"


class RateLimited(ApiError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "rate_limited"

    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message or f"Too many requests. Retry after {self.retry_after} s.")


class Conflict(ApiError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


def envelope(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    """The error body. `request_id` is the id of the request being answered (the same as its
    `Request-Id` header), so that a customer who pastes the body to support pastes the id too."""
    return {
        "error": {
            "code": code,
            "message": message,
            "param": param,
            "request_id": request_id.current(),
        }
    }


def _first_validation_error(detail: Any, path: str = "") -> tuple[str | None, str]:
    """Walk DRF's nested validation detail to the first message and its field path: dotted, with
    the index of a list's item at fault (`documents[2].url`)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                return _first_validation_error(value, path)
            if isinstance(key, int):  # a list field's errors, keyed by the item's index
                return _first_validation_error(value, f"{path}[{key}]")
            return _first_validation_error(value, f"{path}.{key}" if path else str(key))
    if isinstance(detail, list) and detail:
        return _first_validation_error(detail[0], path)
    return (path or None), str(detail)


# DRF's own exceptions, mapped to our codes and messages.
_DRF_CODES: dict[type[exceptions.APIException], tuple[str, str | None]] = {
    exceptions.NotAuthenticated: (
        "authentication_required",
        AuthenticationRequired.default_message,
    ),
    exceptions.AuthenticationFailed: ("invalid_api_key", InvalidApiKey.default_message),
    exceptions.PermissionDenied: ("permission_denied", None),
    exceptions.NotFound: ("not_found", NotFound.default_message),
    exceptions.MethodNotAllowed: ("method_not_allowed", None),
    exceptions.NotAcceptable: ("not_acceptable", "This API only answers in application/json."),
    exceptions.UnsupportedMediaType: (
        "unsupported_media_type",
        "Send the request body as JSON with 'Content-Type: application/json'.",
    ),
    exceptions.ParseError: ("invalid_json", InvalidJson.default_message),
    exceptions.Throttled: ("rate_limited", None),
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception becomes the envelope."""
    if isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE.
        exc = RequestTooLarge(TOO_LARGE)
    elif isinstance(exc, SuspiciousOperation):
        # Django's refusals of malformed requests (too many query parameters, say): a 400.
        exc = ApiError("The request is malformed.")

    headers: dict[str, str] = {}
    if isinstance(exc, ApiError):
        body = envelope(exc.code, exc.message, exc.param)
        status_code = exc.status_code
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, exceptions.ValidationError):
        param, message = _first_validation_error(exc.detail)
        body = envelope("validation_error", message, param)
        status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, exceptions.APIException):
        code, message = next(
            (v for cls, v in _DRF_CODES.items() if isinstance(exc, cls)), ("error", None)
        )
        body = envelope(code, message or str(exc.detail))
        status_code = exc.status_code
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))
    else:
        request = context.get("request")
        logger.exception(
            "Unhandled error in %s %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
        )
        body = envelope("internal_error", "Something went wrong on our side. Please retry.")
        status_code = status.HTTP_500_INTERNAL_SERVER_ERROR

    if status_code == status.HTTP_401_UNAUTHORIZED:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return Response(body, status=status_code, headers=headers)


@csrf_exempt
def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Unknown routes under /v1 answer 404 in the envelope, not Django's HTML page."""
    return JsonResponse(envelope("not_found", "Unknown API route."), status=404)
