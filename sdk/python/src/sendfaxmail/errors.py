"""Every error the client raises, named after the API's error codes.

The API answers every error with one envelope, `{"error": {"code", "message", "param"}}`. Each
`code` has its own exception class here, grouped under the HTTP status it comes with, so callers
can catch as narrowly or as broadly as they like:

    SendFaxMailError
    ├── APIConnectionError            the request got no answer (retried, then raised)
    │   └── APITimeoutError
    ├── InvalidRequest                400 validation_error (see `param`)
    │   ├── InvalidJson               400 invalid_json
    │   ├── MethodNotAllowed          405 method_not_allowed
    │   ├── NotAcceptable             406 not_acceptable
    │   ├── RequestTooLarge           413 request_too_large
    │   └── UnsupportedMediaType      415 unsupported_media_type
    ├── AuthenticationError           401
    │   ├── AuthenticationRequired    401 authentication_required
    │   └── InvalidApiKey             401 invalid_api_key
    ├── PermissionDenied              403 permission_denied
    │   ├── PlanUpgradeRequired       403 plan_upgrade_required
    │   └── InsufficientScope         403 insufficient_scope
    ├── NotFound                      404 not_found
    ├── Conflict                      409 conflict
    │   ├── IdempotencyKeyInProgress  409 idempotency_key_in_progress (retried)
    │   ├── FaxNotCancelable          409 fax_not_cancelable
    │   ├── DocumentNotReady          409 document_not_ready
    │   └── DocumentMissing           409 document_missing
    ├── DocumentGone                  410 document_unreadable
    │   └── DocumentPurged            410 document_purged
    ├── IdempotencyKeyReused          422 idempotency_key_reused
    ├── RateLimited                   429 rate_limited (retried after `retry_after`)
    ├── APIError                      5xx, e.g. internal_error (retried)
    └── WebhookVerificationError      a webhook's signature did not verify

A code this version does not know yet is raised as the class of its HTTP status.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "AuthenticationRequired",
    "Conflict",
    "FaxNotCancelable",
    "IdempotencyKeyInProgress",
    "IdempotencyKeyReused",
    "InsufficientScope",
    "InvalidApiKey",
    "InvalidJson",
    "InvalidRequest",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "PermissionDenied",
    "PlanUpgradeRequired",
    "RateLimited",
    "RequestTooLarge",
    "SendFaxMailError",
    "UnsupportedMediaType",
    "WebhookVerificationError",
]


class SendFaxMailError(Exception):
    """Any error from this library.

    `code` is the envelope's stable error code (None when the API gave no envelope, e.g. for a
    dropped connection), `message` a sentence meant for people, `param` the request field or
    header at fault, `status` the HTTP status (None without an answer), `request_id` the API's id
    for the request (from the `Request-Id` header or the envelope; None when it sent none: quote
    it to support), and `retry_after` the seconds the API asked to wait (`Retry-After`), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        details = [
            f"{name}={value}"
            for name, value in (
                ("status", self.status),
                ("code", self.code),
                ("param", self.param),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"param={self.param!r}, status={self.status!r}, request_id={self.request_id!r})"
        )


class APIConnectionError(SendFaxMailError):
    """No answer: the connection failed or broke before a response arrived. For a send this
    does not tell whether the fax was accepted; sending again with the same Idempotency-Key
    does tell, without sending twice."""


class APITimeoutError(APIConnectionError):
    """No answer within the client's `timeout`."""


class InvalidRequest(SendFaxMailError):
    """400: the request is invalid; `param` names the field, query parameter or header."""


class InvalidJson(InvalidRequest):
    pass


class MethodNotAllowed(InvalidRequest):
    pass


class NotAcceptable(InvalidRequest):
    pass


class RequestTooLarge(InvalidRequest):
    """413: the body is over the API's limit; send a `url` for large documents."""


class UnsupportedMediaType(InvalidRequest):
    pass


class AuthenticationError(SendFaxMailError):
    """401: no API key, or one that is malformed, unknown, revoked or deleted."""


class AuthenticationRequired(AuthenticationError):
    pass


class InvalidApiKey(AuthenticationError):
    pass


class PermissionDenied(SendFaxMailError):
    """403: the key may not do this."""


class PlanUpgradeRequired(PermissionDenied):
    """403: the account's plan does not include the API (Business and Enterprise do)."""


class InsufficientScope(PermissionDenied):
    """403: the key lacks the scope this request needs (the message names it)."""


class NotFound(SendFaxMailError):
    """404: no such object in the key's account and mode (live or test)."""


class Conflict(SendFaxMailError):
    """409."""


class IdempotencyKeyInProgress(Conflict):
    """409: a request with this Idempotency-Key is still running. Retried automatically."""


class FaxNotCancelable(Conflict):
    """409: the fax has finished (or the carrier is past sending it) and cannot be canceled."""


class DocumentNotReady(Conflict):
    """409: the fax's document is not stored yet (a `document_url` still being fetched, a
    received fax still arriving, a resend's copy still being made). Try again once the fax
    moved on."""


class DocumentMissing(Conflict):
    """409: the fax finished without a stored document (e.g. its URL could not be fetched)."""


class DocumentGone(SendFaxMailError):
    """410: the fax's document was deleted (retention or on request), or cannot be read back."""


class DocumentPurged(DocumentGone):
    """410: the fax's document was deleted (its retention ran out, or on request)."""


class IdempotencyKeyReused(SendFaxMailError):
    """422: this Idempotency-Key was already used with a different request."""


class RateLimited(SendFaxMailError):
    """429: the key's budget for this window is spent; `retry_after` says for how long."""


class APIError(SendFaxMailError):
    """5xx: the API failed. Retried automatically; raised when the retries are used up."""


class WebhookVerificationError(SendFaxMailError):
    """A webhook's signature headers are missing, malformed, stale, or do not match the body
    and secret. Answer the request with a 400 and do not act on it."""


_BY_CODE: dict[str, type[SendFaxMailError]] = {
    "validation_error": InvalidRequest,
    "bad_request": InvalidRequest,
    "invalid_json": InvalidJson,
    "method_not_allowed": MethodNotAllowed,
    "not_acceptable": NotAcceptable,
    "request_too_large": RequestTooLarge,
    "unsupported_media_type": UnsupportedMediaType,
    "authentication_required": AuthenticationRequired,
    "invalid_api_key": InvalidApiKey,
    "permission_denied": PermissionDenied,
    "plan_upgrade_required": PlanUpgradeRequired,
    "insufficient_scope": InsufficientScope,
    "not_found": NotFound,
    "conflict": Conflict,
    "idempotency_key_in_progress": IdempotencyKeyInProgress,
    "fax_not_cancelable": FaxNotCancelable,
    "document_not_ready": DocumentNotReady,
    "document_missing": DocumentMissing,
    "document_purged": DocumentPurged,
    "document_unreadable": DocumentGone,
    "idempotency_key_reused": IdempotencyKeyReused,
    "rate_limited": RateLimited,
    "internal_error": APIError,
}

_BY_STATUS: dict[int, type[SendFaxMailError]] = {
    400: InvalidRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    406: NotAcceptable,
    409: Conflict,
    410: DocumentGone,
    413: RequestTooLarge,
    415: UnsupportedMediaType,
    422: InvalidRequest,
    429: RateLimited,
}


def error_class(*, code: str | None, status: int) -> type[SendFaxMailError]:
    """The class for an error answer: by its code, else by its status."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status >= 500:
        return APIError
    return _BY_STATUS.get(status, SendFaxMailError)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value (seconds or an HTTP date); None if absent or
    unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return None
    return max(0.0, seconds)


def error_from_answer(
    *, status: int, headers: Mapping[str, str], body: Any, reason: str = ""
) -> SendFaxMailError:
    """The exception for an error answer: its status, headers and parsed JSON body (anything
    else, e.g. a proxy's HTML page, when the body was not JSON)."""
    envelope = body.get("error") if isinstance(body, dict) else None
    envelope = envelope if isinstance(envelope, dict) else {}
    code = envelope.get("code") if isinstance(envelope.get("code"), str) else None
    message = envelope.get("message")
    if not isinstance(message, str) or not message:
        message = f"The API answered HTTP {status}{f' {reason}' if reason else ''}."
    param = envelope.get("param") if isinstance(envelope.get("param"), str) else None
    request_id = headers.get("Request-Id") or envelope.get("request_id")
    return error_class(code=code, status=status)(
        message,
        code=code,
        param=param,
        status=status,
        request_id=request_id if isinstance(request_id, str) and request_id else None,
        retry_after=parse_retry_after(headers.get("Retry-After")),
    )
