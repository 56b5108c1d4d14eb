"""POST /v1/faxes with documents whose base64 text is long enough (over 256 KB) for the parser to
leave it in the body's bytes: every answer is the one a short document gets."""

from __future__ import annotations

import json

import pytest

from faxes.models import Fax
from sendfaxmail.lib.api import LARGE_STRING
from tests import documents
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

URL = "/v1/faxes"


@pytest.fixture
def content() -> str:
    text = documents.b64(documents.large_pdf_bytes(600_000))
    assert len(text) > LARGE_STRING
    return text


def post(client: ApiClient, body: str | bytes, **extra: str):
    return client.post(URL, data=body, content_type="application/json", **extra)


def send_body(content: str, **fields: object) -> str:
    document = {"content": content, "content_type": "application/pdf"}
    return json.dumps({"to": "+15551234567", "document": document, **fields})


def test_it_accepts_a_large_document_and_stores_it_whole(api_client: ApiClient, content) -> None:
    response = post(api_client, send_body(content))

    assert response.status_code == 201, response.content
    fax = Fax.objects.get(pk=response.json()["id"])
    assert fax.document_size_bytes == len(documents.large_pdf_bytes(600_000))
    assert fax.page_count == 1


def test_it_accepts_a_large_document_with_escaped_slashes(api_client: ApiClient, content) -> None:
    # PHP's json_encode writes "/" as "\/" by default.
    body = send_body(content).replace("/", "\\/")

    assert post(api_client, body).status_code == 201


def test_broken_json_around_a_large_document_is_invalid_json(api_client, content) -> None:
    response = post(api_client, send_body(content)[:-1])

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_bad_base64_in_a_large_document_names_the_character(api_client, content) -> None:
    bad = content[:1000] + "*" + content[1001:]

    response = post(api_client, send_body(bad))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "document.content"
    assert "'*' (character 1001)" in error["message"]


def test_a_large_document_retried_with_its_idempotency_key_is_sent_once(
    api_client: ApiClient, content
) -> None:
    first = post(api_client, send_body(content), HTTP_IDEMPOTENCY_KEY="large-1")
    again = post(
        api_client,
        json.dumps(
            {
                "document": {"content_type": "application/pdf", "content": content},
                "to": "+15551234567",
            }
        ),
        HTTP_IDEMPOTENCY_KEY="large-1",
    )

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Fax.objects.count() == 1


def test_a_different_large_document_with_the_same_key_is_refused(api_client, content) -> None:
    post(api_client, send_body(content), HTTP_IDEMPOTENCY_KEY="large-2")
    other = documents.b64(documents.large_pdf_bytes(600_001))

    response = post(api_client, send_body(other), HTTP_IDEMPOTENCY_KEY="large-2")

    assert response.status_code == 422


def test_a_large_text_outside_a_document_is_refused_as_before(api_client, content) -> None:
    response = post(api_client, send_body(content, client_reference=content))

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "client_reference"
