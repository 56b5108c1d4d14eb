"""The Telnyx client: what it sends, and how precisely it classifies every kind of failure.

`responses` stands in for Telnyx. A few tests use real sockets on 127.0.0.1 instead, because only
a real connection shows what requests and urllib3 actually raise (and that nothing retries).
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.test import override_settings
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from faxes.carrier import (
    MAX_MEDIA_BYTES,
    CarrierFax,
    CarrierOutcomeUnknown,
    CarrierRejected,
    CarrierUnavailable,
    TelnyxClient,
    decode_client_state,
    encode_client_state,
)

BASE = "https://api.telnyx.test/v2"
API_KEY = "KEY-test-telnyx-secret"
FAX_ID = "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0"
OUR_FAX_ID = "fax_3kTqAbCdEfGhIjKlMnOpQrSt"
SEND_ARGS = {
    "to": "+15557654321",
    "from_": "+15551234567",
    "media_name": "fax_3kTq-attempt-1.pdf",
    "client_state": encode_client_state(OUR_FAX_ID),
    "webhook_url": "https://sendfaxmail.test/webhooks/telnyx",
}


def _fax_json(**overrides: object) -> dict:
    fax = {
        "record_type": "fax",
        "id": FAX_ID,
        "status": "queued",
        "to": SEND_ARGS["to"],
        "from": SEND_ARGS["from_"],
        "client_state": SEND_ARGS["client_state"],
        "created_at": "2026-03-01T12:00:05Z",
    }
    fax.update(overrides)
    return fax


def _errors(detail: str, *, code: str = "10015", title: str = "Invalid value") -> dict:
    return {
        "errors": [{"code": code, "title": title, "detail": detail, "source": {"pointer": "/to"}}]
    }


@pytest.fixture
def telnyx() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def client() -> TelnyxClient:
    return TelnyxClient(api_key=API_KEY, api_base=BASE, connection_id="conn-1")


# Uploading media and sending.


def test_it_uploads_media_and_returns_its_name(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    telnyx.post(f"{BASE}/media", status=201, json={"data": {"media_name": "doc-1.pdf"}})

    name = client.upload_media(name="doc-1.pdf", content=b"%PDF-1.7 fake", ttl_secs=600)

    assert name == "doc-1.pdf"
    request = telnyx.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="media"; filename="doc-1.pdf"' in request.body
    assert b"%PDF-1.7 fake" in request.body
    assert b'name="media_name"\r\n\r\ndoc-1.pdf' in request.body
    assert b'name="ttl_secs"\r\n\r\n600' in request.body


def test_it_refuses_media_over_the_size_limit_without_uploading(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    with pytest.raises(CarrierRejected) as caught:
        client.upload_media(name="big.pdf", content=b"x" * (MAX_MEDIA_BYTES + 1))

    assert caught.value.status_code is None
    assert "media limit" in caught.value.detail
    assert len(telnyx.calls) == 0


def test_it_reports_upload_failures_as_unavailable_never_unknown(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    telnyx.post(f"{BASE}/media", body=requests.exceptions.ReadTimeout("read timed out"))
    telnyx.post(f"{BASE}/media", status=500)

    for _ in range(2):
        with pytest.raises(CarrierUnavailable):
            client.upload_media(name="doc-1.pdf", content=b"%PDF")


def test_it_sends_a_fax_with_the_documented_body(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    telnyx.post(f"{BASE}/faxes", status=202, json={"data": _fax_json()})

    fax = client.send_fax(**SEND_ARGS)

    request = telnyx.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert json.loads(request.body) == {
        "connection_id": "conn-1",
        "from": "+15551234567",
        "to": "+15557654321",
        "media_name": "fax_3kTq-attempt-1.pdf",
        "client_state": base64.b64encode(OUR_FAX_ID.encode()).decode(),
        "webhook_url": "https://sendfaxmail.test/webhooks/telnyx",
    }
    assert fax.id == FAX_ID
    assert fax.status == "queued"
    assert decode_client_state(fax.client_state) == OUR_FAX_ID


def test_it_refuses_a_client_state_that_is_not_base64_before_sending(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    with pytest.raises(ValueError, match="client_state"):
        client.send_fax(**{**SEND_ARGS, "client_state": OUR_FAX_ID})

    assert len(telnyx.calls) == 0


# How send_fax failures are classified.


def test_it_rejects_invalid_input_with_telnyx_detail(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    telnyx.post(f"{BASE}/faxes", status=422, json=_errors("The 'to' number is not E.164."))

    with pytest.raises(CarrierRejected) as caught:
        client.send_fax(**SEND_ARGS)

    assert caught.value.status_code == 422
    assert caught.value.detail == "The 'to' number is not E.164."
    assert caught.value.code == "10015"
    assert caught.value.pointer == "/to"


def test_it_falls_back_to_the_error_title_without_detail(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    telnyx.post(f"{BASE}/faxes", status=401, json={"errors": [{"title": "Authentication failed"}]})

    with pytest.raises(CarrierRejected) as caught:
        client.send_fax(**SEND_ARGS)

    assert caught.value.status_code == 401
    assert caught.value.detail == "Authentication failed"


def test_it_reads_retry_after_from_x_ratelimit_reset_on_429(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    headers = {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "17"}
    telnyx.post(f"{BASE}/faxes", status=429, json=_errors("Too many"), headers=headers)

    with pytest.raises(CarrierUnavailable) as caught:
        client.send_fax(**SEND_ARGS)

    assert caught.value.status_code == 429
    assert caught.value.retry_after == 17


def test_it_reads_retry_after_seconds_on_503(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    telnyx.post(f"{BASE}/faxes", status=503, headers={"Retry-After": "30"})

    with pytest.raises(CarrierUnavailable) as caught:
        client.send_fax(**SEND_ARGS)

    assert caught.value.retry_after == 30


def test_it_reads_retry_after_given_as_an_http_date(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    later = datetime.now(UTC) + timedelta(seconds=120)
    telnyx.post(f"{BASE}/faxes", status=503, headers={"Retry-After": format_datetime(later, True)})

    with pytest.raises(CarrierUnavailable) as caught:
        client.send_fax(**SEND_ARGS)

    assert 110 <= caught.value.retry_after <= 120


def _refused() -> requests.exceptions.ConnectionError:
    """What requests raises for a refused connection: the urllib3 cause is NewConnectionError."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/v2/faxes", reason=reason))


def _dropped() -> requests.exceptions.ConnectionError:
    """What requests raises when the server hangs up after receiving the request."""
    cause = http.client.RemoteDisconnected("Remote end closed connection without response")
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", cause))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param({"status": 422, "json": _errors("bad")}, CarrierRejected, id="422"),
        pytest.param({"status": 401, "json": _errors("key")}, CarrierRejected, id="401"),
        pytest.param({"status": 403}, CarrierRejected, id="403"),
        pytest.param({"status": 429}, CarrierUnavailable, id="429"),
        pytest.param({"status": 503}, CarrierUnavailable, id="503"),
        pytest.param({"status": 500}, CarrierOutcomeUnknown, id="500"),
        pytest.param({"status": 502}, CarrierOutcomeUnknown, id="502"),
        pytest.param({"status": 504}, CarrierOutcomeUnknown, id="504"),
        pytest.param({"status": 202, "body": "<html>"}, CarrierOutcomeUnknown, id="202-junk"),
        pytest.param(
            {"body": requests.exceptions.ConnectTimeout("connect timed out")},
            CarrierUnavailable,
            id="connect-timeout",
        ),
        pytest.param({"body": _refused()}, CarrierUnavailable, id="connection-refused"),
        pytest.param(
            {"body": requests.exceptions.ReadTimeout("read timed out")},
            CarrierOutcomeUnknown,
            id="read-timeout",
        ),
        pytest.param({"body": _dropped()}, CarrierOutcomeUnknown, id="dropped-after-sending"),
        pytest.param(
            {"body": requests.exceptions.ConnectionError("no cause")},
            CarrierOutcomeUnknown,
            id="unexplained-connection-error",
        ),
    ],
)
def test_it_classifies_each_send_failure_after_exactly_one_post(
    telnyx: responses.RequestsMock,
    client: TelnyxClient,
    answer: dict,
    expected: type[Exception],
) -> None:
    telnyx.post(f"{BASE}/faxes", **answer)

    with pytest.raises(expected):
        client.send_fax(**SEND_ARGS)

    assert len(telnyx.calls) == 1


def test_it_logs_failures_without_the_api_key(
    telnyx: responses.RequestsMock, client: TelnyxClient, caplog: pytest.LogCaptureFixture
) -> None:
    telnyx.post(f"{BASE}/faxes", status=422, json=_errors("bad", title="Invalid phone number"))

    with caplog.at_level(logging.INFO, logger="faxes.carrier"), pytest.raises(CarrierRejected):
        client.send_fax(**SEND_ARGS)

    assert "POST /faxes answered 422" in caplog.text
    assert "Invalid phone number" in caplog.text
    assert API_KEY not in caplog.text


# Real sockets: what requests and urllib3 raise, and that nothing retries.


class _RawServer:
    """A TCP server on 127.0.0.1 that reads whole requests, then hangs up or stays silent."""

    def __init__(self, *, silent_for: float) -> None:
        self.silent_for = silent_for
        self.requests: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v2"

    def stop(self) -> None:
        # Linger briefly so that a retry, had there been one, would be counted.
        time.sleep(0.2)
        self._stopping.set()
        self._thread.join()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                self.requests.append(_read_request(conn))
                self._stopping.wait(self.silent_for)


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.lower().split(b"\r\n")
            if line.startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        body += conn.recv(65536)
    return data


@pytest.fixture
def hang_up_server() -> Iterator[_RawServer]:
    server = _RawServer(silent_for=0)
    yield server
    server.stop()


@pytest.fixture
def silent_server() -> Iterator[_RawServer]:
    server = _RawServer(silent_for=1.0)
    yield server
    server.stop()


def test_it_reports_a_real_refused_connection_as_unavailable() -> None:
    # Nothing listens on port 1, so the connection is refused before anything is sent.
    client = TelnyxClient(api_key=API_KEY, api_base="http://127.0.0.1:1/v2", connection_id="c")

    with pytest.raises(CarrierUnavailable):
        client.send_fax(**SEND_ARGS)


def test_it_reports_a_real_hang_up_after_sending_as_unknown(hang_up_server: _RawServer) -> None:
    client = TelnyxClient(api_key=API_KEY, api_base=hang_up_server.base, connection_id="c")

    with pytest.raises(CarrierOutcomeUnknown):
        client.send_fax(**SEND_ARGS)

    hang_up_server.stop()
    assert len(hang_up_server.requests) == 1
    assert hang_up_server.requests[0].startswith(b"POST /v2/faxes HTTP/1.1")


def test_it_reports_a_real_read_timeout_as_unknown(silent_server: _RawServer) -> None:
    client = TelnyxClient(
        api_key=API_KEY, api_base=silent_server.base, connection_id="c", timeout=0.3
    )

    with pytest.raises(CarrierOutcomeUnknown):
        client.send_fax(**SEND_ARGS)

    silent_server.stop()
    assert len(silent_server.requests) == 1


# Reading and cancelling.


def test_it_gets_a_fax(telnyx: responses.RequestsMock, client: TelnyxClient) -> None:
    fax_json = _fax_json(status="failed", page_count=3, failure_reason="receiver_busy")
    telnyx.get(f"{BASE}/faxes/{FAX_ID}", json={"data": fax_json})

    fax = client.get_fax(FAX_ID)

    assert fax == CarrierFax(
        id=FAX_ID,
        status="failed",
        to="+15557654321",
        from_="+15551234567",
        client_state=SEND_ARGS["client_state"],
        created_at="2026-03-01T12:00:05Z",
        page_count=3,
        failure_reason="receiver_busy",
    )


def test_a_cancel_telnyx_accepts_is_a_202_with_no_body_needed(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    # Telnyx's reference: POST /v2/faxes/{id}/actions/cancel answers 202 {"data": {"result": "ok"}}.
    telnyx.post(
        f"{BASE}/faxes/{FAX_ID}/actions/cancel", status=202, json={"data": {"result": "ok"}}
    )

    assert client.cancel_fax(FAX_ID) is None

    request = telnyx.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"


def test_a_cancel_of_a_fax_past_sending_is_a_422_rejection(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    telnyx.post(
        f"{BASE}/faxes/{FAX_ID}/actions/cancel",
        status=422,
        json=_errors("Fax can not be cancelled", code="10015", title="Invalid fax status"),
    )

    with pytest.raises(CarrierRejected) as caught:
        client.cancel_fax(FAX_ID)

    assert caught.value.status_code == 422


def test_a_cancel_telnyx_cannot_answer_is_unavailable_not_rejected(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    telnyx.post(f"{BASE}/faxes/{FAX_ID}/actions/cancel", status=503)
    telnyx.post(
        f"{BASE}/faxes/{FAX_ID}/actions/cancel",
        body=requests.exceptions.ReadTimeout("read timed out"),
    )

    for _ in range(2):
        with pytest.raises(CarrierUnavailable):
            client.cancel_fax(FAX_ID)


def test_it_rejects_getting_an_unknown_fax(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    telnyx.get(f"{BASE}/faxes/{FAX_ID}", status=404, json=_errors("Resource not found"))

    with pytest.raises(CarrierRejected) as caught:
        client.get_fax(FAX_ID)

    assert caught.value.status_code == 404


def test_it_reports_read_failures_as_unavailable(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    telnyx.get(f"{BASE}/faxes/{FAX_ID}", status=500)

    with pytest.raises(CarrierUnavailable):
        client.get_fax(FAX_ID)


def test_it_finds_faxes_by_recipient_and_creation_time(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    telnyx.get(f"{BASE}/faxes", json={"data": [_fax_json(), _fax_json(id="second")]})
    paris = timezone(timedelta(hours=1))

    faxes = client.find_faxes(
        to="+15557654321", created_after=datetime(2026, 3, 1, 13, 0, 0, 999_999, tzinfo=paris)
    )

    assert [fax.id for fax in faxes] == [FAX_ID, "second"]
    query = parse_qs(urlsplit(telnyx.calls[0].request.url).query)
    assert query == {
        "filter[to][eq]": ["+15557654321"],
        "filter[created_at][gte]": ["2026-03-01T12:00:00Z"],
        "page[size]": ["100"],
        "page[number]": ["1"],
    }


def test_it_follows_pages_when_finding_faxes(
    telnyx: responses.RequestsMock, client: TelnyxClient
) -> None:
    meta = {"page_number": 1, "page_size": 100, "total_pages": 2, "total_results": 101}
    telnyx.get(
        f"{BASE}/faxes", json={"data": [_fax_json(id=f"f{n}") for n in range(100)], "meta": meta}
    )
    telnyx.get(
        f"{BASE}/faxes", json={"data": [_fax_json(id="f100")], "meta": {**meta, "page_number": 2}}
    )

    faxes = client.find_faxes(to="+15557654321", created_after=datetime(2026, 3, 1, tzinfo=UTC))

    assert len(faxes) == 101
    assert parse_qs(urlsplit(telnyx.calls[1].request.url).query)["page[number]"] == ["2"]


def test_it_refuses_a_naive_creation_time(client: TelnyxClient) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        client.find_faxes(to="+15557654321", created_after=datetime(2026, 3, 1))


@override_settings(
    TELNYX_API_KEY="KEY-from-settings",
    TELNYX_API_BASE="http://fake-telnyx.test/v2",
    TELNYX_CONNECTION_ID="conn-settings",
)
def test_it_builds_the_client_from_settings(telnyx: responses.RequestsMock) -> None:
    telnyx.post("http://fake-telnyx.test/v2/faxes", status=202, json={"data": _fax_json()})

    TelnyxClient.from_settings().send_fax(**SEND_ARGS)

    request = telnyx.calls[0].request
    assert request.headers["Authorization"] == "Bearer KEY-from-settings"
    assert json.loads(request.body)["connection_id"] == "conn-settings"


# client_state.


def test_it_round_trips_our_fax_id_through_client_state() -> None:
    encoded = encode_client_state(OUR_FAX_ID)

    assert base64.b64decode(encoded) == OUR_FAX_ID.encode()
    assert decode_client_state(encoded) == OUR_FAX_ID


@pytest.mark.parametrize(
    "junk",
    [
        None,
        "",
        "not base64!",
        "aGVsbG8",  # Missing padding.
        base64.b64encode(b"\xff\xfe\xfd").decode(),  # Not UTF-8.
        base64.b64encode(b"fax_\x00drop").decode(),  # A NUL byte.
        base64.b64encode(b"f" * 129).decode(),  # Longer than any id of ours.
    ],
)
def test_it_decodes_junk_client_state_to_none(junk: str | None) -> None:
    assert decode_client_state(junk) is None


class _KeepAliveTelnyx(http.server.ThreadingHTTPServer):
    """Answers every POST /v2/faxes with a queued fax, over kept-alive connections, and counts
    the connections it accepted."""

    daemon_threads = True
    connections = 0


class _KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _KeepAliveTelnyx

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"data": _fax_json()}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def keep_alive_telnyx(settings) -> Iterator[_KeepAliveTelnyx]:
    server = _KeepAliveTelnyx(("127.0.0.1", 0), _KeepAliveHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.TELNYX_API_KEY = "KEY-keep-alive"
    settings.TELNYX_API_BASE = f"http://127.0.0.1:{server.server_port}/v2"
    settings.TELNYX_CONNECTION_ID = "conn-keep-alive"
    yield server
    server.shutdown()
    server.server_close()


def test_the_settings_client_reuses_its_connection_from_one_fax_to_the_next(
    keep_alive_telnyx: _KeepAliveTelnyx,
) -> None:
    for _ in range(3):
        TelnyxClient.from_settings().send_fax(**SEND_ARGS)

    assert keep_alive_telnyx.connections == 1


def test_the_settings_client_follows_a_change_of_api_key(
    keep_alive_telnyx: _KeepAliveTelnyx, settings
) -> None:
    first = TelnyxClient.from_settings()
    settings.TELNYX_API_KEY = "KEY-rotated"

    second = TelnyxClient.from_settings()

    assert second is not first
    assert second._session.headers["Authorization"] == "Bearer KEY-rotated"
