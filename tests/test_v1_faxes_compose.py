"""POST /v1/faxes composing a fax: several documents, a cover page, the header line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from accounts.models import Account
from faxes.models import Fax
from faxes.services import intake
from faxes.services import pipeline as fax_pipeline
from tests import documents
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

URL = "/v1/faxes"
TO = "+15551234567"


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(
        "faxes.services.intake.fax_pipeline_start", lambda *, fax: calls.append(fax.id)
    )
    return calls


def inline(*texts: str) -> dict[str, str]:
    return {"content": documents.b64(documents.text_pdf(*texts)), "content_type": "application/pdf"}


def stored_texts(fax_id: str) -> list[str]:
    with Fax.objects.get(pk=fax_id).document.open("rb") as stored:
        return documents.page_texts(stored.read())


def refused(response, param: str) -> str:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("validation_error", param)
    assert not Fax.objects.exists()
    return error["message"]


def test_it_faxes_several_documents_in_order(api_client: ApiClient, queued: list[str]) -> None:
    body = {"to": TO, "documents": [inline("a1", "a2"), inline("b1"), inline("c1", "c2")]}

    response = api_client.post_json(URL, body)

    assert response.status_code == 201, response.content
    fax = response.json()
    assert fax["page_count"] == 5
    assert fax["document"]["count"] == 3
    assert stored_texts(fax["id"]) == ["a1", "a2", "b1", "c1", "c2"]


def test_it_converts_images_among_the_documents(api_client: ApiClient, queued: list[str]) -> None:
    png = {"content": documents.b64(documents.png_bytes()), "content_type": "image/png"}

    response = api_client.post_json(URL, {"to": TO, "documents": [inline("a1"), png]})

    assert response.status_code == 201, response.content
    assert response.json()["page_count"] == 2
    assert response.json()["document"]["content_type"] is None  # the types differ


@pytest.mark.parametrize(
    ("bad", "param"),
    [
        ({"content": "not base64!", "content_type": "application/pdf"}, "documents[2].content"),
        (
            {"content": documents.b64(b"%PDF-1.4"), "content_type": "text/plain"},
            "documents[2].content_type",
        ),
        (
            {"content": documents.b64(documents.png_bytes()), "content_type": "application/pdf"},
            "documents[2].content",
        ),
        ({"content": documents.b64(documents.pdf_bytes())}, "documents[2].content_type"),
        ({"url": "http://docs.example.com/a.pdf"}, "documents[2].url"),
        ({"url": "https://a.example/a.pdf", "content": "x"}, "documents[2].url"),
        ({"path": "/etc/passwd"}, "documents[2].path"),
    ],
    ids=["base64", "type", "magic", "no-type", "http-url", "both", "unknown"],
)
def test_it_names_the_document_at_fault_by_its_index(
    api_client: ApiClient, queued: list[str], bad: dict, param: str
) -> None:
    body = {"to": TO, "documents": [inline("a"), inline("b"), bad]}

    refused(api_client.post_json(URL, body), param)


@pytest.mark.parametrize(
    ("forms", "param"),
    [
        (("document", "documents"), "document"),
        (("document_url", "documents"), "document_url"),
        (("document", "document_url", "documents"), "document"),
    ],
)
def test_it_refuses_more_than_one_form_of_document(
    api_client: ApiClient, queued: list[str], forms: tuple[str, ...], param: str
) -> None:
    values = {
        "document": inline("a"),
        "document_url": "https://docs.example.com/a.pdf",
        "documents": [inline("b")],
    }
    body = {"to": TO, **{form: values[form] for form in forms}}

    message = refused(api_client.post_json(URL, body), param)

    assert "exactly one of" in message


@pytest.mark.parametrize("count", [0, 11])
def test_it_takes_one_to_ten_documents(
    api_client: ApiClient, queued: list[str], count: int
) -> None:
    body = {"to": TO, "documents": [inline("a")] * count}

    refused(api_client.post_json(URL, body), "documents")


def test_it_refuses_documents_over_20_mb_in_all_before_converting_any(
    api_client: ApiClient, queued: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    converted: list[bytes] = []
    monkeypatch.setattr(intake, "convert_document", lambda data, **kw: converted.append(data))
    half = {
        "content": documents.b64(b"%PDF-1.4\n" + b"0" * 10_500_000),
        "content_type": "application/pdf",
    }

    message = refused(api_client.post_json(URL, {"to": TO, "documents": [half, half]}), "documents")

    assert "The documents are too large (21 MB); it must be at most 20 MB." in message
    assert converted == []


def test_it_refuses_more_than_350_pages_in_all(api_client: ApiClient, queued: list[str]) -> None:
    half = {
        "content": documents.b64(documents.pdf_bytes(pages=200)),
        "content_type": "application/pdf",
    }

    message = refused(api_client.post_json(URL, {"to": TO, "documents": [half, half]}), "documents")

    assert "400 pages" in message


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes | Exception]:
    """What each URL answers; the fetcher itself is tested in test_fetch.py."""
    from sendfaxmail.lib.fetch import FetchedBody

    answers: dict[str, bytes | Exception] = {}

    def fake_fetch(url: str, *, max_bytes: int, timeout: float = 30.0) -> FetchedBody:
        answer = answers[url]
        if isinstance(answer, Exception):
            raise answer
        return FetchedBody(content=answer, content_type="application/pdf", final_url=url)

    monkeypatch.setattr(fax_pipeline, "fetch", fake_fetch)
    return answers


def test_it_fetches_several_url_documents_and_faxes_them_in_order(
    api_client: ApiClient, pipeline, served: dict, django_capture_on_commit_callbacks
) -> None:
    first, second = "https://a.example/one.pdf?token=s3cr3t", "https://b.example/two.pdf"
    served[first] = documents.text_pdf("one 1", "one 2")
    served[second] = documents.text_pdf("two 1")
    body = {"to": TO, "documents": [{"url": first}, {"url": second}], "cover_page": {}}
    fax = api_client.post_json(URL, body).json()
    assert (fax["document"]["source"], fax["document"]["count"]) == ("url", 2)

    with django_capture_on_commit_callbacks(execute=True):
        assert fax_pipeline.fax_fetch_document(fax_id=fax["id"])

    stored = Fax.objects.get(pk=fax["id"])
    assert stored.page_count == 4
    assert stored_texts(fax["id"])[1:] == ["one 1", "one 2", "two 1"]
    assert pipeline[-1] == ("faxes.tasks.fax_submit_task", [fax["id"]], {})


def test_a_url_document_that_fails_fails_the_fax_naming_it(
    api_client: ApiClient, pipeline, served: dict
) -> None:
    from sendfaxmail.lib.fetch import FetchError

    first, second = "https://a.example/one.pdf", "https://b.example/two.pdf?token=s3cr3t"
    served[first] = documents.text_pdf("one")
    served[second] = FetchError("The server answered 404 Not Found.")
    body = {"to": TO, "documents": [{"url": first}, {"url": second}]}
    fax_id = api_client.post_json(URL, body).json()["id"]

    assert not fax_pipeline.fax_fetch_document(fax_id=fax_id)

    fax = Fax.objects.get(pk=fax_id)
    assert fax.failure_reason == "document_fetch_failed"
    assert fax.failure_message == (
        "Document 2 (https://b.example/two.pdf): The server answered 404 Not Found."
    )
    assert not fax.document


def test_it_accepts_one_url_document_in_the_list(api_client: ApiClient, queued: list[str]) -> None:
    body = {"to": TO, "documents": [{"url": "https://docs.example.com/a.pdf"}]}

    response = api_client.post_json(URL, body)

    assert response.status_code == 201, response.content
    assert response.json()["document"]["source"] == "url"
    assert Fax.objects.get().document_url == "https://docs.example.com/a.pdf"


def test_it_puts_a_cover_page_first(
    api_client: ApiClient, account: Account, queued: list[str]
) -> None:
    cover = {"to_name": "Dr. Rivera", "subject": "Referral", "message": "Two pages follow."}

    response = api_client.post_json(
        URL, {"to": TO, "documents": [inline("a1", "a2")], "cover_page": cover}
    )

    assert response.status_code == 201, response.content
    fax = response.json()
    assert fax["page_count"] == 3
    assert fax["document"]["cover_page"] is True
    first, *rest = stored_texts(fax["id"])
    assert rest == ["a1", "a2"]
    number = account.fax_numbers.get().number
    for text in ("To: Dr. Rivera", "Subject: Referral", "Two pages follow.", account.name, number):
        assert text in first
    assert "Pages: 3" in first


@pytest.mark.parametrize(
    ("cover", "param"),
    [
        ({"message": "x" * 2001}, "cover_page.message"),
        ({"message": "\n" * 30}, "cover_page.message"),
        ({"subject": "s" * 61}, "cover_page.subject"),
        ({"to_name": 5 * [1]}, "cover_page.to_name"),
        ({"logo": "x"}, "cover_page.logo"),
    ],
)
def test_it_refuses_a_bad_cover_page(
    api_client: ApiClient, queued: list[str], cover: dict, param: str
) -> None:
    body = {"to": TO, "document": inline("a"), "cover_page": cover}

    refused(api_client.post_json(URL, body), param)


@pytest.mark.parametrize(("field", "value"), [("header_text", "h" * 61), ("header", "maybe")])
def test_it_refuses_a_bad_header_option(
    api_client: ApiClient, queued: list[str], field: str, value: str
) -> None:
    body = {"to": TO, "document": inline("a"), field: value}

    refused(api_client.post_json(URL, body), field)


def test_it_refuses_a_cover_page_it_cannot_print(api_client: ApiClient, queued: list[str]) -> None:
    body = {"to": TO, "document": inline("a"), "cover_page": {"to_name": "Dr. Иванов"}}

    message = refused(api_client.post_json(URL, body), "cover_page.to_name")

    assert message.startswith("The cover page cannot print И, в, а, н, о:")


def test_a_cover_message_keeps_its_line_breaks_and_tabs(
    api_client: ApiClient, queued: list[str]
) -> None:
    cover = {"message": "Dear Dr. Rivera,\r\n\tthe results.\nRegards"}
    body = {"to": TO, "document": inline("a"), "cover_page": cover}

    assert api_client.post_json(URL, body).status_code == 201


def test_it_refuses_header_text_the_header_line_cannot_print(
    api_client: ApiClient, queued: list[str]
) -> None:
    body = {"to": TO, "document": inline("a"), "header_text": "Клиника Rivera"}

    message = refused(api_client.post_json(URL, body), "header_text")

    assert message.startswith("The fax header line cannot print К, л, и, н, к, а:")


def test_header_text_keeps_its_accents(
    telnyx, api_client: ApiClient, account: Account, pipeline
) -> None:
    body = {"to": TO, "document": inline("a"), "header_text": "Clínica Señor – Müller"}
    fax_id = api_client.post_json(URL, body).json()["id"]

    [page] = submit(telnyx, fax_id)

    assert "Clínica Señor – Müller" in page


@pytest.mark.parametrize(
    "change",
    [
        {"cover_page": {"subject": "Other"}},
        {"header": False},
        {"header_text": "Other name"},
        {"documents": [inline("a"), inline("c")]},
    ],
    ids=["cover_page", "header", "header_text", "documents"],
)
def test_the_idempotency_key_covers_the_new_fields(
    api_client: ApiClient, queued: list[str], change: dict
) -> None:
    body = {"to": TO, "documents": [inline("a"), inline("b")], "cover_page": {"subject": "S"}}
    first = api_client.post_json(URL, body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201

    again = api_client.post_json(URL, {**body, **change}, HTTP_IDEMPOTENCY_KEY="k-1")

    assert again.status_code == 422
    assert again.json()["error"]["code"] == "idempotency_key_reused"


def test_the_same_documents_replay(api_client: ApiClient, queued: list[str]) -> None:
    body = {"to": TO, "documents": [inline("a"), inline("b")]}
    first = api_client.post_json(URL, body, HTTP_IDEMPOTENCY_KEY="k-2")

    again = api_client.post_json(URL, body, HTTP_IDEMPOTENCY_KEY="k-2")

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


# The header line, stamped when the fax is submitted.


def uploaded_pages(telnyx) -> list[str]:
    [upload] = telnyx.posts_to("/media")
    body = upload.request.body
    pdf = body[body.index(b"%PDF") : body.rindex(b"%%EOF") + 5]
    return documents.page_texts(pdf)


def submit(telnyx, fax_id: str) -> list[str]:
    telnyx.accepts_media()
    telnyx.accepts_fax()
    fax_pipeline.fax_submit_to_carrier(fax_id=fax_id)
    return uploaded_pages(telnyx)


def test_it_stamps_the_header_on_every_page_when_sent(
    telnyx, api_client: ApiClient, account: Account, pipeline
) -> None:
    Account.objects.filter(pk=account.pk).update(time_zone="Europe/Paris")
    fax_id = api_client.post_json(
        URL, {"to": TO, "documents": [inline("a1"), inline("b1", "b2")]}
    ).json()["id"]
    number = account.fax_numbers.get().number

    with time_machine.travel(datetime(2026, 11, 30, 12, 5, tzinfo=UTC), tick=False):
        pages = submit(telnyx, fax_id)

    assert len(pages) == 3
    for n, text in enumerate(pages, start=1):
        assert f"2026-11-30 13:05 CET {account.name} Fax {number}" in text
        assert f"Page {n}/3" in text


def test_it_stamps_the_default_time_zone_new_york(
    telnyx, api_client: ApiClient, account: Account, pipeline
) -> None:
    fax_id = api_client.post_json(URL, {"to": TO, "document": inline("a")}).json()["id"]

    with time_machine.travel(datetime(2026, 11, 30, 12, 5, tzinfo=UTC), tick=False):
        [page] = submit(telnyx, fax_id)

    assert "2026-11-30 07:05 EST" in page


def test_header_text_replaces_the_business_name(
    telnyx, api_client: ApiClient, account: Account, pipeline
) -> None:
    body = {"to": TO, "document": inline("a"), "header_text": "Rivera Family Practice"}
    fax_id = api_client.post_json(URL, body).json()["id"]

    [page] = submit(telnyx, fax_id)

    assert "Rivera Family Practice" in page
    assert account.name not in page


def test_header_false_sends_the_pages_unstamped(telnyx, api_client: ApiClient, pipeline) -> None:
    body = {"to": TO, "document": inline("a"), "header": False}
    fax_id = api_client.post_json(URL, body).json()["id"]

    assert submit(telnyx, fax_id) == ["a"]


def test_a_url_document_gets_its_cover_page_once_fetched(
    api_client: ApiClient, pipeline, served: dict
) -> None:
    url = "https://docs.example.com/a.pdf"
    served[url] = documents.text_pdf("u1", "u2")
    body = {"to": TO, "document_url": url, "cover_page": {"subject": "Fetched"}}
    fax_id = api_client.post_json(URL, body).json()["id"]

    assert fax_pipeline.fax_fetch_document(fax_id=fax_id)

    assert Fax.objects.get(pk=fax_id).page_count == 3
    first, *rest = stored_texts(fax_id)
    assert "Subject: Fetched" in first
    assert "Pages: 3" in first
    assert rest == ["u1", "u2"]


def test_the_account_time_zone_must_be_a_real_zone(account: Account) -> None:
    from django.core.exceptions import ValidationError

    account.time_zone = "Mars/Olympus_Mons"

    with pytest.raises(ValidationError) as error:
        account.full_clean()

    assert "time_zone" in error.value.message_dict
