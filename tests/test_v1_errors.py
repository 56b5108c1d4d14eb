"""The one error envelope across /v1."""

from __future__ import annotations

import logging

import pytest

from fax_numbers.api import NumberListView
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/v1/", "/v1/nope", "/v1/numbers/extra", "/v1/numbers/"])
def test_unknown_routes_are_404_in_the_envelope(api_client: ApiClient, path: str) -> None:
    response = api_client.get(path)

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "Unknown API route.",
            "param": None,
            "request_id": response["Request-Id"],
        }
    }


def test_an_unexpected_error_is_a_500_envelope_that_hides_internals(
    api_client: ApiClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(self, request):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(NumberListView, "get", explode)

    with caplog.at_level(logging.ERROR):
        response = api_client.get("/v1/numbers")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "hunter2" not in response.content.decode()
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


def test_an_html_accept_header_still_gets_json(api_client: ApiClient) -> None:
    response = api_client.get("/v1/numbers", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("method", ["post", "delete", "put"])
def test_unknown_routes_answer_the_envelope_to_any_method_without_csrf(method: str) -> None:
    from django.test import Client

    response = getattr(Client(enforce_csrf_checks=True), method)("/v1/faxes/fax_x/cancel")

    assert response.status_code in (404, 405)
    assert response.json()["error"]["code"] in ("not_found", "method_not_allowed")


def test_v1_without_a_slash_is_a_404_envelope(api_client: ApiClient) -> None:
    response = api_client.get("/v1")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_json_nested_too_deep_is_invalid_json(api_client: ApiClient) -> None:
    body = '{"client_reference": ' + "[" * 5000 + "]" * 5000 + "}"

    response = api_client.post("/v1/faxes", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
