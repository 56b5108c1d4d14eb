"""POST /v1/faxes with inline and URL documents in one fax: the inline ones are checked and
stored (encrypted) at accept, the URLs fetched by the worker, and all faxed in the given order."""

from __future__ import annotations

import pytest

from faxes.models import Fax, FaxStatus
from faxes.services import pipeline as fax_pipeline
from faxes.services.documents import fax_document_purge
from faxes.services.status import fax_advance
from sendfaxmail.lib import crypto
from sendfaxmail.lib.fetch import FetchedBody, FetchError
from tests import documents
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

URL = "/v1/faxes"
TO = "+15550100002"
FIRST, SECOND = "https://a.example/one.pdf?token=s3cr3t", "https://b.example/two.pdf"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes | Exception]:
    """What each URL answers, and the byte budget each fetch was given (under "budgets")."""
    answers: dict[str, bytes | Exception] = {}
    budgets: list[int] = []

    def fake_fetch(url: str, *, max_bytes: int, timeout: float = 30.0) -> FetchedBody:
        budgets.append(max_bytes)
        answer = answers[url]
        if isinstance(answer, Exception):
            raise answer
        return FetchedBody(content=answer, content_type="application/pdf", final_url=url)

    monkeypatch.setattr(fax_pipeline, "fetch", fake_fetch)
    answers["budgets"] = budgets  # type: ignore[assignment]
    return answers


def inline(*texts: str) -> dict[str, str]:
    return {"content": documents.b64(documents.text_pdf(*texts)), "content_type": "application/pdf"}


def stored_texts(fax: Fax) -> list[str]:
    with fax.document.open("rb") as stored:
        return documents.page_texts(stored.read())


def waiting_parts(fax: Fax) -> list[str]:
    """The inline documents still kept for the fetch."""
    names = [part["stored"] for part in fax.document_parts if "stored" in part]
    return [name for name in names if fax.document.storage.exists(name)]


def send(api_client: ApiClient, *items: dict, **body: object) -> Fax:
    response = api_client.post_json(URL, {"to": TO, "documents": list(items), **body})
    assert response.status_code == 201, response.content
    return Fax.objects.get(pk=response.json()["id"])


def test_it_accepts_inline_and_url_documents_in_one_fax(
    api_client: ApiClient, pipeline: list, django_capture_on_commit_callbacks
) -> None:
    body = {"to": TO, "documents": [inline("a1"), {"url": FIRST}]}
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post_json(URL, body)

    assert response.status_code == 201, response.content
    fax = response.json()
    assert (fax["document"]["source"], fax["document"]["count"]) == ("url", 2)
    assert fax["document"]["url"] == "https://a.example/one.pdf"
    assert fax["page_count"] is None
    assert pipeline == [("faxes.tasks.fax_fetch_task", [fax["id"]], {})]


def test_it_faxes_them_in_the_given_order_after_the_cover_page(
    api_client: ApiClient, pipeline: list, served: dict
) -> None:
    served[FIRST] = documents.text_pdf("u1", "u2")
    served[SECOND] = documents.text_pdf("v1")
    fax = send(
        api_client,
        inline("a1"),
        {"url": FIRST},
        inline("b1", "b2"),
        {"url": SECOND},
        cover_page={"subject": "Mixed"},
    )

    assert fax_pipeline.fax_fetch_document(fax_id=fax.id)

    fax.refresh_from_db()
    assert fax.page_count == 7
    cover, *pages = stored_texts(fax)
    assert "Pages: 7" in cover
    assert pages == ["a1", "u1", "u2", "b1", "b2", "v1"]


def test_the_inline_documents_wait_encrypted_in_storage(
    api_client: ApiClient, pipeline: list
) -> None:
    fax = send(api_client, {"url": FIRST}, inline("secret words"))

    [name] = waiting_parts(fax)
    storage = fax.document.storage
    with storage.inner.open(name, "rb") as raw:
        at_rest = raw.read()
    assert at_rest.startswith(crypto.MAGIC)
    assert b"%PDF" not in at_rest
    with storage.open(name, "rb") as readable:
        assert documents.page_texts(readable.read()) == ["secret words"]


def test_the_inline_documents_go_once_assembled(
    api_client: ApiClient, pipeline: list, served: dict
) -> None:
    served[FIRST] = documents.text_pdf("u1")
    fax = send(api_client, inline("a1"), {"url": FIRST})
    assert waiting_parts(fax)

    assert fax_pipeline.fax_fetch_document(fax_id=fax.id)

    assert waiting_parts(fax) == []


@pytest.mark.parametrize(
    ("bad", "param"),
    [
        ({"content": "not base64!", "content_type": "application/pdf"}, "documents[2].content"),
        (
            {"content": documents.b64(documents.png_bytes()), "content_type": "application/pdf"},
            "documents[2].content",
        ),
        (
            {"content": documents.b64(b"%PDF-1.4"), "content_type": "text/plain"},
            "documents[2].content_type",
        ),
    ],
    ids=["base64", "magic", "type"],
)
def test_an_inline_document_is_checked_at_accept_naming_its_index(
    api_client: ApiClient, pipeline: list, bad: dict, param: str
) -> None:
    body = {"to": TO, "documents": [{"url": FIRST}, inline("a"), bad]}

    response = api_client.post_json(URL, body)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert not Fax.objects.exists()
    assert pipeline == []


def test_inline_documents_over_350_pages_are_refused_at_accept(
    api_client: ApiClient, pipeline: list
) -> None:
    many = {
        "content": documents.b64(documents.pdf_bytes(pages=350)),
        "content_type": "application/pdf",
    }
    body = {"to": TO, "documents": [{"url": FIRST}, many], "cover_page": {}}

    response = api_client.post_json(URL, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "documents"
    assert "351 pages" in error["message"]
    assert not Fax.objects.exists()


def test_a_url_document_that_fails_fails_the_fax_naming_it(
    api_client: ApiClient, pipeline: list, served: dict
) -> None:
    served[SECOND] = FetchError("The server answered 404 Not Found.")
    fax = send(api_client, inline("a1"), {"url": SECOND})

    assert not fax_pipeline.fax_fetch_document(fax_id=fax.id)

    fax.refresh_from_db()
    assert (fax.status, fax.failure_reason) == (FaxStatus.FAILED, "document_fetch_failed")
    assert fax.failure_message == (
        "Document 2 (https://b.example/two.pdf): The server answered 404 Not Found."
    )
    assert waiting_parts(fax) == []


def test_a_fetched_document_that_is_not_one_fails_the_fax_naming_it(
    api_client: ApiClient, pipeline: list, served: dict
) -> None:
    served[FIRST] = b"<html>Not a document</html>"
    fax = send(api_client, inline("a1"), inline("b1"), {"url": FIRST})

    fax_pipeline.fax_fetch_document(fax_id=fax.id)

    fax.refresh_from_db()
    assert fax.failure_reason == "document_invalid"
    assert fax.failure_message.startswith("Document 3 (https://a.example/one.pdf): ")


def test_the_inline_documents_count_in_the_20_mb(
    api_client: ApiClient, pipeline: list, served: dict, settings
) -> None:
    served[FIRST] = documents.text_pdf("u1")
    document = inline("a1")
    fax = send(api_client, document, {"url": FIRST})

    fax_pipeline.fax_fetch_document(fax_id=fax.id)

    inline_size = len(documents.text_pdf("a1"))
    assert served["budgets"] == [settings.MAX_DOCUMENT_BYTES - inline_size]


def test_more_than_350_pages_once_fetched_fails_the_fax(
    api_client: ApiClient, pipeline: list, served: dict
) -> None:
    served[FIRST] = documents.pdf_bytes(pages=200)
    many = {
        "content": documents.b64(documents.pdf_bytes(pages=200)),
        "content_type": "application/pdf",
    }
    fax = send(api_client, many, {"url": FIRST})

    fax_pipeline.fax_fetch_document(fax_id=fax.id)

    fax.refresh_from_db()
    assert fax.failure_reason == "document_invalid"
    assert "400 pages" in fax.failure_message
    assert waiting_parts(fax) == []


def test_an_inline_document_lost_from_storage_fails_the_fax_naming_it(
    api_client: ApiClient, pipeline: list, served: dict
) -> None:
    served[FIRST] = documents.text_pdf("u1")
    fax = send(api_client, {"url": FIRST}, inline("a1"))
    [name] = waiting_parts(fax)
    fax.document.storage.delete(name)

    fax_pipeline.fax_fetch_document(fax_id=fax.id)

    fax.refresh_from_db()
    assert fax.failure_reason == "document_invalid"
    assert fax.failure_message.startswith("Document 2 (sent inline) could not be read back")


def test_a_fax_canceled_before_its_fetch_loses_its_inline_documents_when_purged(
    api_client: ApiClient, pipeline: list
) -> None:
    fax = send(api_client, inline("a1"), {"url": FIRST})
    fax_advance(fax=fax, status=FaxStatus.CANCELED, source="test")
    fax.refresh_from_db()

    assert fax_document_purge(fax=fax, reason="retention")

    assert waiting_parts(fax) == []


def test_the_same_mixed_send_replays(api_client: ApiClient, pipeline: list) -> None:
    body = {"to": TO, "documents": [inline("a1"), {"url": FIRST}]}
    first = api_client.post_json(URL, body, HTTP_IDEMPOTENCY_KEY="mixed-1")

    again = api_client.post_json(URL, body, HTTP_IDEMPOTENCY_KEY="mixed-1")

    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Fax.objects.count() == 1
