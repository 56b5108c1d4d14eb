"""The OpenAPI schema at /v1/openapi.json, the reference page at /docs/api, and schemathesis
sending requests generated from the schema to a live server and checking every answer."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from tests import factories
from tests.conftest import make_key

OPERATIONS = {
    ("post", "/v1/faxes"): {"201", "400", "401", "403", "409", "413", "415", "422", "429"},
    ("get", "/v1/faxes"): {"200", "400", "401", "403", "429"},
    ("get", "/v1/faxes/{fax_id}"): {"200", "401", "403", "404", "429"},
    ("get", "/v1/faxes/{fax_id}/document"): {
        "200",
        "401",
        "403",
        "404",
        "409",
        "410",
        "429",
        "503",
    },
    ("delete", "/v1/faxes/{fax_id}/document"): {"200", "401", "403", "404", "409", "429"},
    ("post", "/v1/faxes/{fax_id}/resend"): {
        "201",
        "400",
        "401",
        "403",
        "404",
        "409",
        "410",
        "415",
        "422",
        "429",
    },
    ("get", "/v1/faxes/{fax_id}/preview"): {
        "200",
        "401",
        "403",
        "404",
        "409",
        "410",
        "429",
        "503",
    },
    ("post", "/v1/faxes/{fax_id}/cancel"): {
        "200",
        "202",
        "400",
        "401",
        "403",
        "404",
        "409",
        "422",
        "429",
        "503",
    },
    ("get", "/v1/numbers"): {"200", "401", "403", "429"},
    ("post", "/v1/test_helpers/inbound_faxes"): {"201", "400", "401", "403", "413", "415", "429"},
}
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operation(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return schema["paths"][path][method]


def _component(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return schema["components"]["schemas"][name]


def test_it_serves_a_valid_openapi_3_schema_without_a_key(client: Client) -> None:
    response = client.get("/v1/openapi.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    # Raises jsonschema.ValidationError when the document breaks the OpenAPI 3 meta-schema.
    validate_schema(schema)
    assert {(method, path) for path, item in schema["paths"].items() for method in item} == set(
        OPERATIONS
    )


@pytest.mark.parametrize(("method", "path"), list(OPERATIONS))
def test_it_documents_each_answer_of_each_operation(
    schema: dict[str, Any], method: str, path: str
) -> None:
    operation = _operation(schema, method, path)

    assert set(operation["responses"]) == OPERATIONS[method, path]
    assert operation["security"] == [{"bearerAuth": []}]
    for status, response in operation["responses"].items():
        binary = {"type": "string", "format": "binary"}
        if "application/pdf" in response["content"]:
            assert response["content"] == {"application/pdf": {"schema": binary}}
            continue
        if "image/png" in response["content"]:
            assert response["content"] == {"image/png": {"schema": binary}}
            continue
        body = response["content"]["application/json"]["schema"]
        if status.startswith("2"):
            assert body["$ref"] != ERROR_REF
            assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
                response["headers"]
            )
        else:
            assert body == {"$ref": ERROR_REF}, status
    assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert operation["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True


def test_it_documents_the_bearer_scheme_and_the_error_envelope(schema: dict[str, Any]) -> None:
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sfm_live_…",
        "description": "An API key from /dashboard/developers, sent as `Bearer sfm_live_…`.",
    }
    body = _component(schema, "ErrorBody")
    assert body["required"] == ["code", "message", "param", "request_id"]
    assert body["properties"]["param"]["nullable"] is True


def test_it_documents_the_headers_of_sending_a_fax(schema: dict[str, Any]) -> None:
    create = _operation(schema, "post", "/v1/faxes")

    idempotency_key = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert idempotency_key["in"] == "header"
    assert idempotency_key.get("required", False) is False
    created = create["responses"]["201"]["headers"]
    assert created["Location"]["required"] is True
    assert created["Idempotent-Replayed"]["schema"] == {"type": "string", "enum": ["true"]}
    assert create["responses"]["409"]["headers"]["Retry-After"]["required"] is True


def test_it_documents_the_fax_resource(schema: dict[str, Any]) -> None:
    fax = _component(schema, "Fax")
    fields = fax["properties"]

    assert set(fax["required"]) == set(fields)
    nullable = {name for name, field in fields.items() if field.get("nullable")}
    assert nullable == {
        "page_count",
        "pages_delivered",
        "client_reference",
        "failure_reason",
        "failure_message",
        "completed_at",
        "cancel_requested_at",
        "next_attempt_at",
        "send_at",
        "resent_from",
    }
    document = _component(schema, fields["document"]["allOf"][0]["$ref"].rsplit("/", 1)[1])
    assert document["properties"]["content_type"]["nullable"] is True
    assert document["properties"]["size_bytes"]["nullable"] is True
    assert document["properties"]["purged_at"]["nullable"] is True
    assert document["properties"]["purged_at"]["format"] == "date-time"
    status = _component(schema, fields["status"]["allOf"][0]["$ref"].rsplit("/", 1)[1])
    assert status["enum"] == [
        "scheduled",
        "queued",
        "sending",
        "delivered",
        "failed",
        "canceled",
        "receiving",
        "received",
    ]
    direction = _component(schema, fields["direction"]["allOf"][0]["$ref"].rsplit("/", 1)[1])
    assert direction["enum"] == ["outbound", "inbound"]
    assert fields["object"]["allOf"] == [{"type": "string", "enum": ["fax"]}]
    assert "`scheduled`" in fields["status"]["description"]
    for name in ("created_at", "updated_at", "completed_at", "send_at"):
        assert fields[name]["format"] == "date-time"
    assert fields["id"]["type"] == "string"
    assert fields["page_count"]["type"] == "integer"


def test_it_documents_the_list_envelope(schema: dict[str, Any]) -> None:
    page = _component(schema, "FaxList")

    assert set(page["required"]) == {"object", "data", "limit", "has_more", "next_cursor"}
    assert page["properties"]["object"]["allOf"] == [{"type": "string", "enum": ["list"]}]
    assert page["properties"]["data"]["items"] == {"$ref": "#/components/schemas/Fax"}
    assert page["properties"]["has_more"]["type"] == "boolean"


def test_it_documents_the_send_request(schema: dict[str, Any]) -> None:
    body = _operation(schema, "post", "/v1/faxes")["requestBody"]
    request = _component(
        schema, body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    )

    assert set(request["properties"]) == {
        "to",
        "from",
        "document",
        "document_url",
        "documents",
        "cover_page",
        "header",
        "header_text",
        "client_reference",
        "retry",
        "send_at",
    }
    assert request["properties"]["send_at"]["format"] == "date-time"
    assert request["required"] == ["to"]
    retry = _component(schema, "FaxRetryInputRequest")
    assert retry["required"] == ["attempts"]
    assert retry["additionalProperties"] is False
    assert (
        retry["properties"]["attempts"]["minimum"],
        retry["properties"]["attempts"]["maximum"],
    ) == (0, 5)
    assert request["additionalProperties"] is False
    assert [branch["required"] for branch in request["oneOf"]] == [
        ["document"],
        ["document_url"],
        ["documents"],
    ]
    assert request["properties"]["documents"]["maxItems"] == 10
    item = _component(schema, "DocumentItemRequest")
    assert item["additionalProperties"] is False
    branches = [branch["required"] for branch in item["oneOf"]]
    assert branches == [["content", "content_type"], ["url"]]
    cover = _component(schema, "CoverPageRequest")
    assert cover["additionalProperties"] is False
    assert cover["properties"]["message"]["maxLength"] == 2000
    document = _component(schema, "InlineDocumentRequest")
    assert document["required"] == ["content", "content_type"]
    assert document["additionalProperties"] is False
    content_type = _component(
        schema, document["properties"]["content_type"]["allOf"][0]["$ref"].rsplit("/", 1)[1]
    )
    assert content_type["enum"] == ["application/pdf", "image/tiff", "image/png", "image/jpeg"]


def test_it_documents_the_resend_request(schema: dict[str, Any]) -> None:
    body = _operation(schema, "post", "/v1/faxes/{fax_id}/resend")["requestBody"]
    request = _component(
        schema, body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    )

    assert set(request["properties"]) == {"to", "from"}
    assert "required" not in request
    assert request["additionalProperties"] is False


def test_it_draws_the_fax_state_machine_for_the_reference_page(schema: dict[str, Any]) -> None:
    description = schema["info"]["description"]

    assert "## A fax's lifecycle" in description
    for edge in ("scheduled --- cancel", "send_at has come", "redial:", "sending ---> delivered"):
        assert edge in description


def test_it_serves_the_reference_page_from_local_files_only(client: Client, settings) -> None:
    response = client.get("/docs/api")

    assert response.status_code == 200
    page = response.content.decode()
    absolute = re.findall(r"""https?://[^\s"'<>)]+""", page)
    assert [url for url in absolute if urlsplit(url).hostname != "testserver"] == []
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page)
    scripts = [url for url in assets if url.startswith(settings.STATIC_URL)]
    assert scripts, "the page loads Redoc from our static files"
    for url in scripts:
        assert finders.find(url.removeprefix(settings.STATIC_URL)), url
    assert "/v1/openapi.json" in page


# --- Schemathesis against a live server ---------------------------------------------------------

# What a schema can promise about the answers. Left out: `positive_data_acceptance`, since no
# schema can say that a base64 string must decode to a PDF that opens, or that `from` must be one
# of the account's numbers; and the stateful checks, since the schema declares no links.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
    checks.unsupported_method,
    checks.allow_header_conformance,
]


def _generated_schema() -> dict[str, Any]:
    """What /v1/openapi.json serves, from the same generator: schemathesis builds its tests when
    pytest collects this module, before any server runs or test settings apply."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


# Every phase but the stateful one (the schema declares no links): the schema's examples, the
# coverage cases (boundaries, each constraint broken, undocumented methods), then 30 positive and
# negative random cases per operation. Deterministic, so that a failure reproduces.
API = schemathesis.openapi.from_dict(
    _generated_schema(),
    config=SchemathesisConfig.from_dict(
        {
            "generation": {
                "mode": "all",
                "max-examples": 30,
                "deterministic": True,
                # The key goes in every request; a generated Authorization header would only
                # ever be refused.
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)


@pytest.fixture
def live_key(
    transactional_db: None, live_server: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """A key holding every scope on a Business account that has a fax number and faxes in
    several states. Schemathesis makes real HTTP requests, so the data is committed
    (transactional_db) for the live server's thread to see."""
    settings.API_SEND_RATE = settings.API_READ_RATE = "1000000/m"
    # Accepted faxes are handed to Celery by name after commit; nothing here needs a broker.
    monkeypatch.setattr("celery.app.base.Celery.send_task", lambda *args, **kwargs: None)
    account = factories.AccountFactory(plan_slug="business", with_number=True)
    # Every nullable field of the fax resource both null and set, in lists the run will fetch.
    done = timezone.now()
    factories.FaxFactory(account=account, status="queued")
    factories.FaxFactory(
        account=account,
        status="delivered",
        pages_delivered=1,
        client_reference="order-1",
        completed_at=done,
    )
    factories.FaxFactory(
        account=account,
        status="failed",
        failure_reason="busy",
        failure_message="The line was busy.",
        completed_at=done,
    )
    factories.FaxFactory(
        account=account,
        document_source="url",
        document_url="https://a.example/x.pdf",
        document_content_type="",
        document_size_bytes=None,
        page_count=None,
    )
    # Test helpers answer only test keys (a live one is a documented 403 test_mode_only).
    return {"live": make_key(account)[1], "test": make_key(account, livemode=False)[1]}


def _values(container: dict[str, Any] | None, name: str) -> list[Any]:
    value = (container or {}).get(name)
    return value if isinstance(value, list) else [value]


@API.parametrize()
@hypothesis_settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_it_answers_every_generated_request_as_documented(
    case: schemathesis.Case, live_server: Any, live_key: dict[str, str]
) -> None:
    """No 5xx, and every answer (status, content type, headers, body) is one the schema
    documents, to requests generated from the schema and sent with a valid key."""
    key = live_key["test" if case.path.startswith("/v1/test_helpers/") else "live"]
    response = case.call_and_validate(
        base_url=live_server.url, headers={"Authorization": f"Bearer {key}"}, checks=CHECKS
    )
    # 401 and 403 are documented, so the checks would pass if the key stopped working and every
    # request were refused; the run would then test nothing past authentication.
    assert response.status_code not in (401, 403), response.text


# --- Bugs the run found, kept as regression tests -----------------------------------------


@pytest.mark.parametrize("name", ["created_after", "created_before"])
def test_it_answers_a_time_with_any_valid_utc_offset(api_client: Any, name: str) -> None:
    response = api_client.get(f"/v1/faxes?{name}=2026-11-26T23:00:00%2B18:00")

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/v1/faxes/fax_%0A", "/v1/nowhere%0A/x"])
def test_it_answers_404_in_the_envelope_for_a_path_with_a_newline(
    api_client: Any, path: str
) -> None:
    response = api_client.get(path)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
