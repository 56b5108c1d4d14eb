"""The OpenAPI schema, the reference page, and schemathesis fuzzing the API against its schema."""

from __future__ import annotations

import re

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import checks

from accounts.models import Account
from tests.conftest import make_key
from tests.factories import FaxFactory

pytestmark = pytest.mark.django_db


def test_the_schema_is_served_without_a_key(client: Client) -> None:
    response = client.get("/v1/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {"/v1/faxes", "/v1/faxes/{fax_id}", "/v1/numbers"}
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_the_schema_documents_headers_and_errors(client: Client) -> None:
    schema = client.get("/v1/openapi.json").json()
    create = schema["paths"]["/v1/faxes"]["post"]

    assert "Idempotency-Key" in [p["name"] for p in create["parameters"] if p["in"] == "header"]
    assert {"201", "400", "401", "403", "409", "413", "415", "422", "429"} <= set(
        create["responses"]
    )
    assert "RateLimit-Remaining" in create["responses"]["201"]["headers"]
    components = schema["components"]["schemas"]
    fax = components["Fax"]["properties"]
    status = components[fax["status"]["$ref"].rsplit("/", 1)[1]]
    assert status["enum"] == ["queued", "sending", "delivered", "failed", "canceled"]
    for nullable in ("page_count", "pages_delivered", "client_reference", "completed_at"):
        assert fax[nullable]["nullable"] is True


def test_the_reference_page_loads_nothing_from_other_hosts(client: Client) -> None:
    page = client.get("/docs/api").content.decode()

    assert "redoc.standalone.js" in page
    assert re.findall(r"""(?:src|href)=["']https?://""", page) == []


@pytest.fixture
def wsgi_in_test_transaction():
    """Serve requests through the real WSGI handler inside the test's transaction: Django would
    close the database connection at the end of each request, as Django's test client stops it
    doing."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# What a schema can promise here. Left out: "schema-valid data is accepted", since no schema can
# say that a base64 string must decode to a PDF that opens, or that a number must exist.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
OPERATIONS = ["POST /v1/faxes", "GET /v1/faxes", "GET /v1/faxes/{fax_id}", "GET /v1/numbers"]


@pytest.mark.parametrize("label", OPERATIONS)
def test_the_api_matches_its_schema_and_never_fails(
    account: Account,
    label: str,
    monkeypatch: pytest.MonkeyPatch,
    settings,
    wsgi_in_test_transaction,
) -> None:
    """Requests generated from the schema, sent with a key holding every scope: no 5xx, and
    every answer (status, headers, body) is one the schema documents."""
    settings.API_SEND_RATE = settings.API_READ_RATE = "1000000/m"
    # Accepted faxes are handed to Celery by name on commit; nothing here needs a broker.
    monkeypatch.setattr("celery.app.base.Celery.send_task", lambda *a, **k: None)
    authorization = {"Authorization": f"Bearer {make_key(account)[1]}"}
    # Faxes in each state, so that lists carry real objects to check against the schema.
    for status in ("queued", "delivered", "failed"):
        FaxFactory(
            account=account, status=status, failure_reason="busy" if status == "failed" else ""
        )
    FaxFactory(
        account=account,
        document_source="url",
        document_url="https://a.example/x.pdf",
        page_count=None,
    )
    api = schemathesis.openapi.from_wsgi("/v1/openapi.json", wsgi_in_test_transaction)
    operation = api.find_operation_by_label(label)

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=authorization, checks=CHECKS)

    check()
