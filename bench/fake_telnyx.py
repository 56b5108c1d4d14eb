"""A local stand-in for Telnyx's v2 fax API, for bench/pipeline.py. Loopback only.

It answers what faxes/carrier.py sends, in Telnyx's shapes (tests/telnyx.py and the saved payloads
in tests/fixtures/telnyx/ are the reference):

- `POST /v2/media` (multipart: `media`, `media_name`, `ttl_secs`) -> `{"data": {"media_name"}}`
- `POST /v2/faxes` (JSON: connection_id, from, to, media_name, client_state, webhook_url)
  -> 202 `{"data": {"id", "status": "queued", ...}}`, then, from a pool of sender threads, the
  webhooks `fax.queued`, `fax.sending.started` and `fax.delivered` to `webhook_url`, each signed
  like Telnyx's (Ed25519 over `"{timestamp}|{body}"`, headers `telnyx-timestamp` and
  `telnyx-signature-ed25519`) with a key pair made at start (`public_key` is what
  TELNYX_PUBLIC_KEY must be).
- `GET /v2/faxes/{id}` and `GET /v2/faxes?filter[to][eq]=…` (reconciliation) -> the faxes.

It records when each fax was POSTed (with our fax id, decoded from client_state) and when each of
its webhooks was answered 200, which is what the benchmark measures; POSTs of the same fax twice
are kept, so a double send shows.
"""

from __future__ import annotations

import base64
import http.server
import json
import queue
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

EVENTS = ("fax.queued", "fax.sending.started", "fax.delivered")
STATUS_OF = {"fax.queued": "queued", "fax.sending.started": "sending", "fax.delivered": "delivered"}
WEBHOOK_TIMEOUT_S = 10
WEBHOOK_ATTEMPTS = 3


@dataclass
class CarrierFax:
    id: str
    fax_id: str | None  # ours, from client_state
    to: str
    from_: str
    client_state: str
    webhook_url: str
    posted_at: float
    status: str = "queued"
    page_count: int = 1


@dataclass
class Record:
    """What the benchmark reads after a run."""

    posts: list[CarrierFax] = field(default_factory=list)
    media_uploads: int = 0
    # (our fax id, event type) -> time the app answered 200
    answered: dict[tuple[str, str], float] = field(default_factory=dict)
    webhook_failures: int = 0


class FakeTelnyx:
    def __init__(self, *, senders: int = 4, delay: float = 0.0) -> None:
        self.private_key = Ed25519PrivateKey.generate()
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode()
        self.record = Record()
        self.faxes: dict[str, CarrierFax] = {}
        self.lock = threading.Lock()
        self.delay = delay
        self.outbox: queue.Queue[CarrierFax | None] = queue.Queue()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.fake = self
        self.threads = [threading.Thread(target=self.server.serve_forever, daemon=True)]
        self.threads += [
            threading.Thread(target=self._send_webhooks, daemon=True) for _ in range(senders)
        ]

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v2"

    def start(self) -> FakeTelnyx:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        for _ in self.threads[1:]:
            self.outbox.put(None)
        self.server.shutdown()
        self.server.server_close()

    # The API.

    def accept(self, body: dict[str, Any]) -> CarrierFax:
        client_state = str(body.get("client_state") or "")
        try:
            our_id = base64.b64decode(client_state, validate=True).decode()
        except ValueError:
            our_id = None
        fax = CarrierFax(
            id=str(uuid.uuid4()),
            fax_id=our_id,
            to=str(body.get("to")),
            from_=str(body.get("from")),
            client_state=client_state,
            webhook_url=str(body.get("webhook_url")),
            posted_at=time.time(),
        )
        with self.lock:
            self.faxes[fax.id] = fax
            self.record.posts.append(fax)
        self.outbox.put(fax)
        return fax

    def describe(self, fax: CarrierFax) -> dict[str, Any]:
        return {
            "id": fax.id,
            "record_type": "fax",
            "status": fax.status,
            "direction": "outbound",
            "to": fax.to,
            "from": fax.from_,
            "client_state": fax.client_state,
            "connection_id": "bench",
            "page_count": fax.page_count,
            "created_at": datetime.fromtimestamp(fax.posted_at, UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
        }

    # Webhooks.

    def event_body(self, fax: CarrierFax, event: str) -> bytes:
        payload = {
            "connection_id": "bench",
            "direction": "outbound",
            "fax_id": fax.id,
            "from": fax.from_,
            "to": fax.to,
            "status": STATUS_OF[event],
            "client_state": fax.client_state,
        }
        if event == "fax.delivered":
            payload["page_count"] = fax.page_count
        body = {
            "data": {
                "event_type": event,
                "id": str(uuid.uuid4()),
                "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "record_type": "event",
                "payload": payload,
            },
            "meta": {"attempt": 1, "delivered_to": fax.webhook_url},
        }
        return json.dumps(body).encode()

    def sign(self, body: bytes) -> dict[str, str]:
        timestamp = int(time.time())
        signature = self.private_key.sign(f"{timestamp}|".encode() + body)
        return {
            "telnyx-timestamp": str(timestamp),
            "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
            "Content-Type": "application/json",
        }

    def _send_webhooks(self) -> None:
        """Post each fax's events in order, as Telnyx would (retrying a failed post)."""
        session = requests.Session()
        session.trust_env = False
        while (fax := self.outbox.get()) is not None:
            for event in EVENTS:
                if self.delay:
                    time.sleep(self.delay)
                fax.status = STATUS_OF[event]
                self._post(session, fax, event)

    def _post(self, session: requests.Session, fax: CarrierFax, event: str) -> None:
        body = self.event_body(fax, event)
        for _ in range(WEBHOOK_ATTEMPTS):
            try:
                response = session.post(
                    fax.webhook_url, data=body, headers=self.sign(body), timeout=WEBHOOK_TIMEOUT_S
                )
            except requests.RequestException:
                response = None
            if response is not None and response.status_code == 200:
                with self.lock:
                    self.record.answered[(fax.fax_id or fax.id, event)] = time.time()
                return
            with self.lock:
                self.record.webhook_failures += 1
            time.sleep(0.5)

    def posts_by_fax(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for fax in self.record.posts:
            counts[fax.fax_id or "?"] += 1
        return counts


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    fake: FakeTelnyx


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self) -> None:
        fake = self.server.fake
        path = urlsplit(self.path).path
        body = self._body()
        if path == "/v2/media":
            with fake.lock:
                fake.record.media_uploads += 1
            name = _form_field(body, self.headers.get("Content-Type", ""), "media_name")
            self._answer(200, {"data": {"media_name": name or f"media-{uuid.uuid4()}"}})
        elif path == "/v2/faxes":
            fax = fake.accept(json.loads(body))
            self._answer(202, {"data": fake.describe(fax)})
        else:
            self._answer(404, {"errors": [{"code": "10005", "title": "Resource not found"}]})

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        if parts.path.startswith("/v2/faxes/"):
            fax = fake.faxes.get(parts.path.removeprefix("/v2/faxes/"))
            if fax is None:
                self._answer(404, {"errors": [{"code": "10005", "title": "Resource not found"}]})
            else:
                self._answer(200, {"data": fake.describe(fax)})
        elif parts.path == "/v2/faxes":
            to = parse_qs(parts.query).get("filter[to][eq]", [None])[0]
            with fake.lock:
                found = [fake.describe(f) for f in fake.faxes.values() if f.to == to]
            self._answer(200, {"data": found, "meta": {"total_pages": 1, "page_number": 1}})
        else:
            self._answer(404, {"errors": [{"code": "10005", "title": "Resource not found"}]})


def _form_field(body: bytes, content_type: str, name: str) -> str | None:
    """One text field of a multipart/form-data body (enough for the media upload)."""
    marker = f'name="{name}"\r\n\r\n'.encode()
    start = body.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = body.find(b"\r\n", start)
    return body[start:end].decode(errors="replace") if end > start else None
