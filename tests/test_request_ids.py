"""Request ids: every answer names its request in `Request-Id`, /v1 error bodies repeat it, and
every request is logged once, by route, without the path's or query's values."""

from __future__ import annotations

import json
import logging
import re

import pytest
from django.test import Client

from accounts.models import Account
from sendfaxmail.lib.logs import JsonFormatter, RequestIdFilter
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

REQUEST_ID = re.compile(r"req_[A-Za-z0-9]{24}")


def test_it_names_a_v1_success(api_client: ApiClient) -> None:
    response = api_client.get("/v1/numbers")

    assert response.status_code == 200
    assert REQUEST_ID.fullmatch(response["Request-Id"])


def test_it_puts_the_header_id_in_a_v1_error_envelope(api_client: ApiClient) -> None:
    response = api_client.post_json("/v1/faxes", {"to": "not a number"})

    assert response.status_code == 400
    assert REQUEST_ID.fullmatch(response["Request-Id"])
    assert response.json()["error"]["request_id"] == response["Request-Id"]


def test_it_puts_the_header_id_in_an_unknown_v1_route_404(api_client: ApiClient) -> None:
    response = api_client.get("/v1/nothing/here")

    assert response.status_code == 404
    assert response.json()["error"]["request_id"] == response["Request-Id"]


def test_it_puts_the_header_id_in_a_401_before_any_key_is_read() -> None:
    response = ApiClient().get("/v1/numbers")

    assert response.status_code == 401
    assert response.json()["error"]["request_id"] == response["Request-Id"]


def test_it_puts_the_header_id_in_an_envelope_a_middleware_made(api_client: ApiClient) -> None:
    response = api_client.get("/v1/numbers", HTTP_HOST="not-our-host.example")

    assert response.json()["error"]["code"] == "invalid_host"
    assert response.json()["error"]["request_id"] == response["Request-Id"]


def test_it_names_the_telnyx_webhook_answer(telnyx, accepted_fax) -> None:
    fax = accepted_fax()

    response = telnyx.deliver(telnyx.event("fax.delivered", fax=fax, carrier_fax_id="abc"))

    assert response.status_code == 200
    assert REQUEST_ID.fullmatch(response["Request-Id"])


def test_it_names_a_refused_telnyx_webhook(telnyx) -> None:
    response = Client().post("/webhooks/telnyx", data=b"{}", content_type="application/json")

    assert response.status_code == 401
    assert REQUEST_ID.fullmatch(response["Request-Id"])


def test_it_names_dashboard_pages_and_their_redirects(owner_client: Client) -> None:
    page = owner_client.get("/dashboard/developers")
    redirect = Client().get("/dashboard/developers")

    assert page.status_code == 200
    assert REQUEST_ID.fullmatch(page["Request-Id"])
    assert redirect.status_code == 302
    assert REQUEST_ID.fullmatch(redirect["Request-Id"])


def test_it_names_healthz(client: Client) -> None:
    response = client.get("/healthz")

    assert REQUEST_ID.fullmatch(response["Request-Id"])


def test_it_names_an_answer_refused_before_any_view_runs(client: Client) -> None:
    response = client.get("/healthz", HTTP_HOST="not-our-host.example")

    assert response.status_code == 400
    assert REQUEST_ID.fullmatch(response["Request-Id"])


def test_it_names_a_404_outside_v1(client: Client) -> None:
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert REQUEST_ID.fullmatch(response["Request-Id"])


def test_it_gives_each_request_its_own_id(api_client: ApiClient) -> None:
    ids = {api_client.get("/v1/numbers")["Request-Id"] for _ in range(3)}

    assert len(ids) == 3


def test_ids_draw_every_character_equally_often() -> None:
    from collections import Counter

    from sendfaxmail.lib.ids import ALPHABET, random_string

    counts = Counter("".join(random_string(24) for _ in range(6200)))

    # 148,800 characters, 2,400 expected of each (σ ≈ 49). Taking every byte modulo 62 would give
    # 8 characters a quarter more (about 2,990).
    assert set(counts) == set(ALPHABET)
    assert all(2150 < count < 2650 for count in counts.values()), counts


def test_it_ignores_a_client_sent_request_id_by_default(api_client: ApiClient) -> None:
    response = api_client.get("/v1/numbers", HTTP_REQUEST_ID="req_chosen_by_the_client")

    assert response["Request-Id"] != "req_chosen_by_the_client"
    assert REQUEST_ID.fullmatch(response["Request-Id"])


def test_it_keeps_the_proxys_request_id_when_trusted(api_client: ApiClient, settings) -> None:
    settings.TRUST_REQUEST_ID_HEADER = True

    response = api_client.post_json(
        "/v1/faxes", {"to": "nope"}, HTTP_REQUEST_ID="0f3c9a7d2b5e4f61a8c7d9e0b1f2a3c4"
    )

    assert response["Request-Id"] == "0f3c9a7d2b5e4f61a8c7d9e0b1f2a3c4"
    assert response.json()["error"]["request_id"] == "0f3c9a7d2b5e4f61a8c7d9e0b1f2a3c4"


@pytest.mark.parametrize("sent", ["", "a" * 65, "req 1", "req_1\u00e9", "../x"])
def test_it_replaces_a_malformed_id_even_when_trusted(
    api_client: ApiClient, settings, sent: str
) -> None:
    settings.TRUST_REQUEST_ID_HEADER = True

    response = api_client.get("/v1/numbers", HTTP_REQUEST_ID=sent)

    assert REQUEST_ID.fullmatch(response["Request-Id"])


# --- The log line ------------------------------------------------------------------------------


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "sendfaxmail.requests"]


def test_it_logs_one_line_with_id_method_route_status_and_duration(
    api_client: ApiClient, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="sendfaxmail.requests"):
        response = api_client.get("/v1/faxes/fax_doesnotexist")

    [line] = request_lines(caplog)
    assert line.request_id == response["Request-Id"]
    message = line.getMessage()
    assert "method=GET" in message
    assert "route=/v1/faxes/<id:fax_id>" in message
    assert "status=404" in message
    assert re.search(r"duration_ms=\d+\.\d", message)


def test_the_log_line_holds_no_phone_number_id_or_query_value(
    api_client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="sendfaxmail.requests"):
        api_client.get("/v1/faxes?to=%2B15557654321&status=delivered&created_after=2026-01-01")
        api_client.get("/v1/faxes/fax_secretish123")

    lines = [f"{r.request_id} {r.getMessage()}" for r in request_lines(caplog)]
    assert len(lines) == 2
    assert "route=/v1/faxes " in lines[0]
    for line in lines:
        assert "5557654321" not in line
        assert "delivered" not in line
        assert "2026-01-01" not in line
        assert "fax_secretish123" not in line


class FilteredCapture(logging.Handler):
    """A handler with the settings' request-id filter, which runs when the line is logged."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_djangos_own_line_about_a_request_carries_its_id(api_client: ApiClient) -> None:
    capture = FilteredCapture()
    logging.getLogger("django.request").addHandler(capture)
    try:
        response = api_client.get("/v1/faxes/fax_doesnotexist")
    finally:
        logging.getLogger("django.request").removeHandler(capture)

    [not_found] = capture.records
    assert not_found.getMessage().startswith("Not Found")
    assert not_found.request_id == response["Request-Id"]


def test_log_format_json_writes_one_object_with_the_request_fields(
    api_client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="sendfaxmail.requests"):
        response = api_client.get("/v1/numbers")

    [line] = request_lines(caplog)
    data = json.loads(JsonFormatter().format(line))
    assert data["request_id"] == response["Request-Id"]
    assert data["route"] == "/v1/numbers"
    assert data["status"] == 200
    assert data["method"] == "GET"
    assert data["level"] == "INFO"
    assert isinstance(data["duration_ms"], float)


def test_a_line_outside_any_request_has_no_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)

    RequestIdFilter().filter(record)

    assert record.request_id == "-"
