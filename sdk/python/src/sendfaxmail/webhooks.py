"""Verify the webhooks SendFaxMail sends to your endpoints.

    from sendfaxmail import webhooks

    event = webhooks.verify(request.body, request.headers, secret="whsec_…")
    if event.type == "fax.delivered":
        print(event.fax.id, event.fax.pages_delivered)

Events follow Standard Webhooks: headers `webhook-id`, `webhook-timestamp` and
`webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, two during a secret
rotation), checked here by the `standardwebhooks` library. Verify the raw body exactly as
received: parsed and re-serialised JSON no longer matches its signature.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as _LibraryVerificationError

from .errors import WebhookVerificationError
from .models import Fax, parse_datetime

__all__ = ["WebhookEvent", "WebhookVerificationError", "verify"]

_SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@dataclass(frozen=True)
class WebhookEvent:
    """One event: `type` is `fax.sending`, `fax.delivered`, `fax.failed` or `ping`. `id` is
    the same on every retry of the event: deduplicate on it. `data["object"]` is the object the
    event is about; for `fax.*` events `fax` is that object as a `Fax`."""

    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def fax(self) -> Fax | None:
        obj = self.data.get("object")
        if isinstance(obj, dict) and obj.get("object") == "fax":
            return Fax.from_dict(obj)
        return None


def verify(payload: bytes | str, headers: Mapping[str, str], secret: str | bytes) -> WebhookEvent:
    """Check that `payload` (the raw request body) was signed with `secret` (the endpoint's
    `whsec_…` signing secret) less than 5 minutes ago, and return the event it carries.

    `headers` is the request's headers in any mapping (a dict, Django's `request.headers`,
    Flask's `request.headers`); names are matched case-insensitively. Raises
    `WebhookVerificationError` when a signature header is missing or malformed, the timestamp
    is more than 5 minutes away, or no signature matches; `ValueError` when `secret` is not a
    signing secret.
    """
    signed: dict[str, str | None] = dict.fromkeys(_SIGNATURE_HEADERS)
    for name, value in headers.items():
        if str(name).lower() in signed:
            signed[str(name).lower()] = str(value)
    if any(value is None for value in signed.values()):
        raise WebhookVerificationError(
            "The webhook-id, -timestamp or -signature header is missing."
        )
    try:
        verifier = Webhook(secret)
    except Exception as error:
        # binascii.Error for bad base64, the library's EmptyWebhookSecretError, RuntimeError.
        raise ValueError("secret must be the endpoint's signing secret, 'whsec_…'.") from error
    try:
        body = verifier.verify(payload, {k: v for k, v in signed.items() if v is not None})
    except _LibraryVerificationError as error:
        raise WebhookVerificationError(f"The webhook did not verify: {error}.") from error
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        # A signature that is not `v1,<base64>`, or a signed body that is not UTF-8 JSON
        # (json's JSONDecodeError is a ValueError).
        raise WebhookVerificationError("The webhook's signature or body is malformed.") from error
    return _event(body)


def _event(body: Any) -> WebhookEvent:
    if not isinstance(body, dict):
        raise WebhookVerificationError("The webhook's body is not an event object.")
    data = body.get("data")
    try:
        return WebhookEvent(
            id=str(body["id"]),
            type=str(body["type"]),
            created_at=parse_datetime(body["created_at"]),
            data=data if isinstance(data, dict) else {},
            raw=body,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise WebhookVerificationError(f"The webhook's body is not an event: {error}.") from error
