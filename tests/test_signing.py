"""Webhook signatures: verifying Telnyx's Ed25519 signatures and signing Standard Webhooks."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from sendfaxmail.lib.signing import (
    InvalidTimestamp,
    SignatureError,
    generate_webhook_secret,
    sign_standard_webhook,
    verify_telnyx_signature,
)

NOW = 1_750_000_000
BODY = json.dumps({"data": {"event_type": "fax.delivered", "payload": {"fax_id": "f-1"}}}).encode()


@dataclass(frozen=True)
class TelnyxKeys:
    private: Ed25519PrivateKey
    public_b64: str

    def sign(self, *, timestamp: str, body: bytes) -> str:
        return base64.b64encode(self.private.sign(f"{timestamp}|".encode() + body)).decode()


def _new_keys() -> TelnyxKeys:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    return TelnyxKeys(private=private, public_b64=base64.b64encode(raw).decode())


@pytest.fixture
def keys() -> TelnyxKeys:
    return _new_keys()


def _verify(keys: TelnyxKeys, **overrides: object) -> None:
    timestamp = str(NOW)
    arguments: dict = {
        "body": BODY,
        "timestamp": timestamp,
        "signature": keys.sign(timestamp=timestamp, body=BODY),
        "public_key": keys.public_b64,
        "now": NOW,
    }
    arguments.update(overrides)
    verify_telnyx_signature(**arguments)


def test_it_accepts_a_valid_telnyx_signature(keys: TelnyxKeys) -> None:
    _verify(keys)


def test_it_rejects_a_body_with_one_changed_byte(keys: TelnyxKeys) -> None:
    tampered = BODY.replace(b"f-1", b"f-2")
    with pytest.raises(SignatureError, match="bad signature"):
        _verify(keys, body=tampered)


def test_it_rejects_a_signature_made_for_another_timestamp(keys: TelnyxKeys) -> None:
    signature = keys.sign(timestamp=str(NOW - 1), body=BODY)
    with pytest.raises(SignatureError, match="bad signature"):
        _verify(keys, signature=signature)


@pytest.mark.parametrize("offset", [-301, 301])
def test_it_rejects_timestamps_more_than_the_tolerance_away(keys: TelnyxKeys, offset: int) -> None:
    timestamp = str(NOW + offset)
    signature = keys.sign(timestamp=timestamp, body=BODY)
    with pytest.raises(SignatureError, match="stale timestamp"):
        _verify(keys, timestamp=timestamp, signature=signature)


@pytest.mark.parametrize("offset", [-299, 299])
def test_it_accepts_timestamps_within_the_tolerance(keys: TelnyxKeys, offset: int) -> None:
    timestamp = str(NOW + offset)
    _verify(keys, timestamp=timestamp, signature=keys.sign(timestamp=timestamp, body=BODY))


def test_it_checks_freshness_against_the_current_time_by_default(keys: TelnyxKeys) -> None:
    with pytest.raises(SignatureError, match="stale timestamp"):
        _verify(keys, now=None)


@pytest.mark.parametrize(
    ("field", "reason"),
    [("signature", "missing signature"), ("timestamp", "missing timestamp")],
)
@pytest.mark.parametrize("value", [None, ""])
def test_it_rejects_missing_headers(
    keys: TelnyxKeys, field: str, reason: str, value: str | None
) -> None:
    with pytest.raises(SignatureError, match=reason):
        _verify(keys, **{field: value})


@pytest.mark.parametrize("timestamp", ["17x", "+1750000000", "1_750_000_000", "1750000000.5"])
def test_it_rejects_a_timestamp_that_is_not_an_integer(keys: TelnyxKeys, timestamp: str) -> None:
    with pytest.raises(SignatureError, match="invalid timestamp"):
        _verify(keys, timestamp=timestamp)


@pytest.mark.parametrize("timestamp", ["1" * 13, "9" * 5000])
def test_it_rejects_a_timestamp_too_long_to_be_a_time(keys: TelnyxKeys, timestamp: str) -> None:
    with pytest.raises(InvalidTimestamp, match="invalid timestamp"):
        _verify(keys, timestamp=timestamp)


@pytest.mark.parametrize(
    "signature",
    ["not base64 at all!", "%%%%", base64.b64encode(b"x" * 63).decode(), "é" * 88],
)
def test_it_rejects_junk_or_wrong_length_signatures(keys: TelnyxKeys, signature: str) -> None:
    with pytest.raises(SignatureError, match="malformed signature"):
        _verify(keys, signature=signature)


def test_it_rejects_a_signature_from_another_key(keys: TelnyxKeys) -> None:
    with pytest.raises(SignatureError, match="bad signature"):
        _verify(keys, public_key=_new_keys().public_b64)


@pytest.mark.parametrize("public_key", ["", "junk!", base64.b64encode(b"k" * 31).decode()])
def test_it_treats_an_unusable_public_key_as_configuration_error(
    keys: TelnyxKeys, public_key: str
) -> None:
    with pytest.raises(ValueError, match="public key"):
        _verify(keys, public_key=public_key)


def _standard_headers(*, msg_id: str, timestamp: int, signature: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_it_signs_standard_webhooks_that_the_reference_library_verifies() -> None:
    secret = generate_webhook_secret()
    timestamp = int(time.time())
    signature = sign_standard_webhook(
        msg_id="msg_1", timestamp=timestamp, body=BODY, secrets=[secret]
    )

    headers = _standard_headers(msg_id="msg_1", timestamp=timestamp, signature=signature)
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_it_produces_signatures_the_library_refuses_for_a_changed_body() -> None:
    secret = generate_webhook_secret()
    timestamp = int(time.time())
    signature = sign_standard_webhook(
        msg_id="msg_1", timestamp=timestamp, body=BODY, secrets=[secret]
    )

    headers = _standard_headers(msg_id="msg_1", timestamp=timestamp, signature=signature)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"f-1", b"f-2"), headers)


def test_it_signs_with_both_secrets_during_a_rotation() -> None:
    old, new = generate_webhook_secret(), generate_webhook_secret()
    timestamp = int(time.time())
    signature = sign_standard_webhook(
        msg_id="msg_2", timestamp=timestamp, body=BODY, secrets=[old, new]
    )

    assert signature.count(" ") == 1
    assert all(part.startswith("v1,") for part in signature.split(" "))
    headers = _standard_headers(msg_id="msg_2", timestamp=timestamp, signature=signature)
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_webhook_secret()).verify(BODY, headers)


def test_it_refuses_to_sign_without_a_well_formed_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        sign_standard_webhook(msg_id="m", timestamp=1, body=b"{}", secrets=[])
    with pytest.raises(ValueError, match="whsec_"):
        sign_standard_webhook(msg_id="m", timestamp=1, body=b"{}", secrets=["c2VjcmV0"])


def test_it_generates_distinct_secrets_of_32_random_bytes() -> None:
    first, second = generate_webhook_secret(), generate_webhook_secret()

    assert first != second
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32
