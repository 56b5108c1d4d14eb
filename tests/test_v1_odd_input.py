"""Odd input anywhere in a send gets a 400 in the envelope, never a 500."""

from __future__ import annotations

import pytest

from faxes.models import Fax
from tests import documents
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

PDF = documents.inline_pdf()


@pytest.mark.parametrize(
    "body",
    [
        {"to": None, "document": PDF},
        {"to": ["+15551234567"], "document": PDF},
        {"to": {"n": 1}, "document": PDF},
        {"to": True, "document": PDF},
        {"to": "+15551234567", "document": None},
        {"to": "+15551234567", "document": []},
        {"to": "+15551234567", "document": {"content": None, "content_type": "application/pdf"}},
        {"to": "+15551234567", "document": {"content": 12345, "content_type": "application/pdf"}},
        {"to": "+15551234567", "document": {"content": PDF["content"], "content_type": None}},
        {
            "to": "+15551234567",
            "document": {"content": PDF["content"], "content_type": ["application/pdf"]},
        },
        {"to": "+15551234567", "document": {**PDF, "extra": 1}},
        {"to": "+15551234567", "document_url": None},
        {"to": "+15551234567", "document_url": 42},
        {"to": "+15551234567", "document_url": "https://"},
        {"to": "+15551234567", "document_url": "https://exa mple.com/a.pdf"},
        {"to": "+15551234567", "document_url": "https://[::1"},
        {"to": "+15551234567", "document_url": "https://example.com:99999/a.pdf"},
        {"to": "+15551234567", "document_url": "https://\u0000.example.com/"},
        {"to": "+15551234567", "document_url": "https://docs.example.com/a.pdf", "from": None},
        {"to": "+15551234567", "document_url": "https://docs.example.com/a.pdf", "from": 5},
        {
            "to": "+15551234567",
            "document_url": "https://docs.example.com/a.pdf",
            "client_reference": {"a": 1},
        },
        {"to": "+1555\u00a01234567", "document": PDF},
        {"to": "+１５５５１２３４５６７", "document": PDF},
    ],
)
def test_odd_values_are_a_400_naming_a_field(api_client: ApiClient, body: dict) -> None:
    response = api_client.post_json("/v1/faxes", body)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert not Fax.objects.exists()


@pytest.mark.parametrize(
    "params",
    [
        {"page": "9" * 30},
        {"limit": "1e2"},
        {"page": "٣"},
        {"status": "\u0000"},
        {"to": "+1" + "5" * 200},
        {"created_after": "2026-13-45T99:99:99Z"},
    ],
)
def test_odd_list_parameters_are_a_400(api_client: ApiClient, params: dict) -> None:
    response = api_client.get("/v1/faxes", params)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("fax_id", ["x" * 500, "fax_%00", "../../etc/passwd", "fax_' OR 1=1 --"])
def test_odd_fax_ids_are_a_404(api_client: ApiClient, fax_id: str) -> None:
    response = api_client.get(f"/v1/faxes/{fax_id}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
