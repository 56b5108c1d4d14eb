"""A stand-in for Telnyx in tests: settings, a signing key pair, saved webhook payloads, and
`responses` answers for its API. The network is never reached."""

from __future__ import annotations

import base64
import json
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import responses
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.test import Client

from faxes.carrier import encode_client_state
from faxes.models import Fax

API = "https://api.telnyx.test/v2"
FIXTURES = Path(__file__).parent / "fixtures" / "telnyx"


class FakeTelnyx:
    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock
        self.private_key = Ed25519PrivateKey.generate()
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode()

    def settings(self) -> dict[str, str]:
        return {
            "FAX_CARRIER": "telnyx",
            "TELNYX_API_KEY": "KEY_test_not_real",
            "TELNYX_API_BASE": API,
            "TELNYX_CONNECTION_ID": "conn-test-1",
            "TELNYX_PUBLIC_KEY": self.public_key,
        }

    # The API.

    def accepts_media(self) -> None:
        self.mock.add(
            responses.POST, f"{API}/media", json={"data": {"media_name": "m"}}, status=200
        )

    def accepts_fax(self, carrier_fax_id: str | None = None) -> str:
        carrier_fax_id = carrier_fax_id or str(uuid.uuid4())
        self.mock.add(
            responses.POST,
            f"{API}/faxes",
            json={"data": {"id": carrier_fax_id, "status": "queued", "record_type": "fax"}},
            status=202,
        )
        return carrier_fax_id

    def posts_to(self, path: str) -> list[Any]:
        return [
            c
            for c in self.mock.calls
            if c.request.method == "POST" and c.request.url == f"{API}{path}"
        ]

    def uploaded_media(self) -> list[bytes]:
        """The file of each media upload received, byte for byte."""
        files = []
        for call in self.posts_to("/media"):
            head = f"Content-Type: {call.request.headers['Content-Type']}\r\n\r\n".encode()
            message = BytesParser(policy=HTTP).parsebytes(head + call.request.body)
            [media] = [part for part in message.iter_parts() if part.get_filename()]
            files.append(media.get_payload(decode=True))
        return files

    # Webhooks.

    def event(self, name: str, *, fax: Fax, carrier_fax_id: str | None, **payload: Any) -> bytes:
        """A saved payload filled in for `fax`, with `payload` overriding its fields."""
        body = json.loads((FIXTURES / f"{name}.json").read_text())
        body["data"]["payload"].update(
            {
                "fax_id": carrier_fax_id,
                "client_state": encode_client_state(fax.id),
                "to": fax.to_number,
                "from": fax.from_number,
                **payload,
            }
        )
        return json.dumps(body).encode()

    def inbound_event(self, name: str, *, carrier_fax_id: str, **payload: Any) -> bytes:
        """A saved inbound payload for Telnyx's fax `carrier_fax_id`, with `payload` overriding
        its fields (`from_` stands for `from`)."""
        body = json.loads((FIXTURES / f"{name}.json").read_text())
        fields = body["data"]["payload"]
        fields["fax_id"] = carrier_fax_id
        if "media_url" in fields:
            fields["media_url"] = fields["media_url"].replace("{carrier_fax_id}", carrier_fax_id)
        if "from_" in payload:
            payload["from"] = payload.pop("from_")
        fields.update(payload)
        return json.dumps(body).encode()

    def renews_media(self, carrier_fax_id: str, *, media_url: str) -> None:
        """Telnyx renews the fax's media link, then shows the new one."""
        self.mock.add(
            responses.POST, f"{API}/faxes/{carrier_fax_id}/actions/refresh", json={}, status=200
        )
        self.mock.add(
            responses.GET,
            f"{API}/faxes/{carrier_fax_id}",
            json={
                "data": {
                    "id": carrier_fax_id,
                    "status": "received",
                    "direction": "inbound",
                    "media_url": media_url,
                }
            },
            status=200,
        )

    def sign(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        timestamp = int(time.time()) if timestamp is None else timestamp
        signature = self.private_key.sign(f"{timestamp}|".encode() + body)
        return {
            "HTTP_TELNYX_TIMESTAMP": str(timestamp),
            "HTTP_TELNYX_SIGNATURE_ED25519": base64.b64encode(signature).decode(),
        }

    def deliver(self, body: bytes, **headers: str) -> Any:
        """POST a signed webhook to our endpoint, as Telnyx would."""
        return Client().post(
            "/webhooks/telnyx",
            data=body,
            content_type="application/json",
            **(headers or self.sign(body)),
        )
