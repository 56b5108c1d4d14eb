"""Webhook signatures, both ways: verifying Telnyx's, and signing ours for customers.

Inbound, Telnyx signs each webhook with Ed25519 over `"{timestamp}|"` followed by the raw request
body. Outbound, we sign customer webhooks the Standard Webhooks v1 way (HMAC-SHA256 keyed with a
`whsec_` secret), so customers can verify them with any Standard Webhooks library.

This module imports no app and no Django: it works on bytes and strings only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from secrets import token_bytes

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# The prefix Standard Webhooks puts in front of every secret; it is a label, not a secret.
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105

_ED25519_PUBLIC_KEY_BYTES = 32
_ED25519_SIGNATURE_BYTES = 64
_WEBHOOK_SECRET_BYTES = 32
# Unix seconds have 10 digits until the year 2286. Longer values are refused before int() sees
# them: Python refuses to convert more than 4300 digits, and nothing that long is a time.
_MAX_TIMESTAMP_DIGITS = 12


class SignatureError(Exception):
    """A webhook's signature headers are missing, malformed, stale or do not match the body.

    `str(error)` is a short reason ("missing signature", "stale timestamp", "bad signature") that
    is safe to log and to answer with; it never contains the body or a key.
    """


class InvalidTimestamp(SignatureError):
    """The timestamp header is not a Unix time at all: a malformed request, not a forged one."""


def verify_telnyx_signature(
    *,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    public_key: str,
    tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Return quietly when `signature` is Telnyx's Ed25519 signature of `timestamp` and `body`.

    `timestamp` and `signature` are the raw `telnyx-timestamp` (Unix seconds) and
    `telnyx-signature-ed25519` (base64 of 64 bytes) header values; `body` is the request body
    exactly as received, before any parsing. The signed message is `f"{timestamp}|"` followed by
    `body`. A timestamp more than `tolerance` seconds away from `now` (default: the current time),
    in either direction, is refused so a captured request cannot be replayed later.

    Raises `SignatureError` for anything the sender controls (its subclass `InvalidTimestamp`
    when `timestamp` is not a Unix time of at most 12 digits), and `ValueError` when `public_key`
    (operator configuration: base64 of the 32-byte key from the Telnyx portal) is unusable, so a
    misconfiguration surfaces as an error rather than as a stream of rejected webhooks.
    """
    key = load_ed25519_public_key(public_key)
    if not signature or not signature.strip():
        raise SignatureError("missing signature")
    if not timestamp or not timestamp.strip():
        raise SignatureError("missing timestamp")
    signed_at = _parse_unix_timestamp(timestamp.strip())
    current = time.time() if now is None else now
    if abs(current - signed_at) > tolerance:
        raise SignatureError("stale timestamp")
    raw_signature = _b64decode_strict(signature.strip())
    if raw_signature is None or len(raw_signature) != _ED25519_SIGNATURE_BYTES:
        raise SignatureError("malformed signature")
    try:
        key.verify(raw_signature, timestamp.strip().encode("ascii") + b"|" + body)
    except InvalidSignature:
        raise SignatureError("bad signature") from None


def sign_standard_webhook(*, msg_id: str, timestamp: int, body: bytes, secrets: list[str]) -> str:
    """Return the `webhook-signature` header value for one Standard Webhooks v1 delivery.

    Each secret is `whsec_` followed by base64 key bytes; each yields `v1,<base64 HMAC-SHA256>` of
    `f"{msg_id}.{timestamp}."` followed by `body`. The entries are joined by single spaces, in
    the order given, so during a secret rotation (two secrets) receivers holding either secret
    can verify. Raises `ValueError` for an empty list or a malformed secret.
    """
    if not secrets:
        raise ValueError("At least one webhook secret is required.")
    message = f"{msg_id}.{timestamp}.".encode() + body
    signatures = []
    for secret in secrets:
        digest = hmac.new(_webhook_secret_key(secret), message, hashlib.sha256).digest()
        signatures.append(f"v1,{base64.b64encode(digest).decode('ascii')}")
    return " ".join(signatures)


def generate_webhook_secret() -> str:
    """Return a new random secret: `whsec_` followed by base64 of 32 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(token_bytes(_WEBHOOK_SECRET_BYTES)).decode()


def load_ed25519_public_key(public_key: str) -> Ed25519PublicKey:
    """The key in `public_key` (base64 of 32 bytes, as the Telnyx portal shows it); ValueError
    when it is not one."""
    raw = _b64decode_strict(public_key.strip())
    if raw is None or len(raw) != _ED25519_PUBLIC_KEY_BYTES:
        raise ValueError("The Telnyx public key must be base64 of 32 bytes.")
    return Ed25519PublicKey.from_public_bytes(raw)


def _parse_unix_timestamp(value: str) -> int:
    # int() alone would also accept "+17", " 17" and "1_7"; only plain ASCII digits are a
    # timestamp, so what we verify is exactly what was signed.
    if not (value.isascii() and value.isdigit()) or len(value) > _MAX_TIMESTAMP_DIGITS:
        raise InvalidTimestamp("invalid timestamp")
    return int(value)


def _webhook_secret_key(secret: str) -> bytes:
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        raise ValueError(f"A webhook secret must start with {WEBHOOK_SECRET_PREFIX!r}.")
    key = _b64decode_strict(secret.removeprefix(WEBHOOK_SECRET_PREFIX))
    if not key:
        raise ValueError("A webhook secret must carry base64 key bytes after its prefix.")
    return key


def _b64decode_strict(value: str) -> bytes | None:
    """Decode standard base64, or return None when `value` is not valid base64."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        # ValueError covers non-ASCII text, which b64decode refuses before decoding.
        return None
