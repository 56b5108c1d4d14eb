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

    response = getattr(Client(enforce_csrf_checks=True), method)("/v1/faxes/fax_x/teleport")

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


def test_a_host_outside_allowed_hosts_is_a_400_envelope(api_client: ApiClient) -> None:
    response = api_client.get("/v1/numbers", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "invalid_host"


def test_the_dashboard_still_answers_a_bad_host_with_django_s_page() -> None:
    from django.test import Client

    response = Client().get("/dashboard/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_a_crash_in_a_middleware_is_a_500_envelope(
    api_client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from developers.middleware import RateLimitHeadersMiddleware

    def explode(self, request):
        raise RuntimeError("boom")

    monkeypatch.setattr(RateLimitHeadersMiddleware, "__call__", explode)
    api_client.raise_request_exception = False

    response = api_client.get("/v1/numbers")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"


def test_too_many_query_parameters_are_a_400_envelope(api_client: ApiClient) -> None:
    query = "&".join(f"x{i}=1" for i in range(1100))

    response = api_client.get(f"/v1/faxes?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_a_request_over_api_request_timeout_is_a_503_envelope(
    api_client: ApiClient, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    import time

    def dawdle(self, request):
        time.sleep(10)

    monkeypatch.setattr(NumberListView, "get", dawdle)
    settings.API_REQUEST_TIMEOUT = 0.5
    started = time.monotonic()

    response = api_client.get("/v1/numbers")

    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "timeout"


@pytest.mark.django_db(transaction=True)
def test_a_query_cut_off_by_the_timeout_leaves_the_next_request_working(
    api_client: ApiClient, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    from django.db import connection

    def slow_query(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(10)")

    settings.API_REQUEST_TIMEOUT = 0.5
    # As in production (tests/settings.py closes connections after each request).
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    with monkeypatch.context() as patch:
        patch.setattr(NumberListView, "get", slow_query)
        assert api_client.get("/v1/numbers").status_code == 503

    assert api_client.get("/v1/numbers").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_query_cut_off_by_the_timeout_is_stopped_on_the_server_and_rolled_back(
    api_client: ApiClient, api_key, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    from django.db import connection, transaction

    from developers.models import ApiKey

    def slow_write(self, request):
        with transaction.atomic():
            ApiKey.objects.filter(pk=api_key[0].pk).update(name="half-done")
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(10)")

    settings.API_REQUEST_TIMEOUT = 0.5
    with monkeypatch.context() as patch:
        patch.setattr(NumberListView, "get", slow_write)
        assert api_client.get("/v1/numbers").status_code == 503

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND state = 'active'"
            " AND query = 'SELECT pg_sleep(10)'"
        )
        assert cursor.fetchone() == (0,)
    assert ApiKey.objects.get(pk=api_key[0].pk).name != "half-done"


@pytest.mark.parametrize(
    ("path", "extra"),
    [("/v1/numbers", {}), ("/v1/nope", {}), ("/v1/numbers", {"HTTP_HOST": "evil.example"})],
)
def test_every_v1_answer_says_no_store(api_client: ApiClient, path: str, extra: dict) -> None:
    assert api_client.get(path, **extra)["Cache-Control"] == "no-store"


def test_cancel_without_a_key_is_401_without_csrf() -> None:
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/v1/faxes/fax_x/cancel")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"
