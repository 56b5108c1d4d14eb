"""The Python client for the SendFaxMail fax API.

    from sendfaxmail import SendFaxMail

    client = SendFaxMail("sfm_live_…")
    fax = client.faxes.send(to="+15551234567", file="referral.pdf")
    print(client.faxes.get(fax.id).status)

See README.md for the whole API, errors and webhooks.
"""

# Every import inside this package is relative, so that it works under any name it is loaded as
# (the server's test suite loads it beside the server's own `sendfaxmail` package).

from __future__ import annotations

from . import errors, webhooks
from ._client import DEFAULT_BASE_URL, SendFaxMail
from ._resources import Faxes, FileInput, Numbers, Pages
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    AuthenticationRequired,
    Conflict,
    DocumentGone,
    DocumentMissing,
    DocumentNotReady,
    DocumentPurged,
    FaxNotCancelable,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    InsufficientScope,
    InvalidApiKey,
    InvalidJson,
    InvalidRequest,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    PermissionDenied,
    PlanUpgradeRequired,
    RateLimited,
    RequestTooLarge,
    SendFaxMailError,
    UnsupportedMediaType,
    WebhookVerificationError,
)
from .models import Fax, FaxAttempt, FaxDocument, FaxNumber, FaxRetry
from .webhooks import WebhookEvent

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "AuthenticationRequired",
    "Conflict",
    "DocumentGone",
    "DocumentMissing",
    "DocumentNotReady",
    "DocumentPurged",
    "Fax",
    "FaxAttempt",
    "FaxDocument",
    "FaxNotCancelable",
    "FaxNumber",
    "FaxRetry",
    "Faxes",
    "FileInput",
    "IdempotencyKeyInProgress",
    "IdempotencyKeyReused",
    "InsufficientScope",
    "InvalidApiKey",
    "InvalidJson",
    "InvalidRequest",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "Numbers",
    "Pages",
    "PermissionDenied",
    "PlanUpgradeRequired",
    "RateLimited",
    "RequestTooLarge",
    "SendFaxMail",
    "SendFaxMailError",
    "UnsupportedMediaType",
    "WebhookEvent",
    "WebhookVerificationError",
    "__version__",
    "errors",
    "webhooks",
]
