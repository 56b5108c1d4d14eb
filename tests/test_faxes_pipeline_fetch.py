"""The pipeline's fetch step (faxes/services/pipeline.py): URL documents, and the whole URL path
to a failure."""

from __future__ import annotations

import img2pdf
import pikepdf
import pytest
from celery.exceptions import SoftTimeLimitExceeded

from faxes import tasks
from faxes.models import Fax
from faxes.services import pipeline as fax_pipeline
from sendfaxmail.lib.fetch import FetchedBody, FetchError, UnsafeUrl
from tests import documents

pytestmark = pytest.mark.django_db

URL = "https://docs.example.com/referral.pdf"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict:
    """What the customer's server answers; the fetcher itself is tested in test_fetch.py."""
    answer: dict = {"content": documents.pdf_bytes(pages=2)}
    fetched: list[str] = []

    def fake_fetch(url: str, *, max_bytes: int, timeout: float = 30.0) -> FetchedBody:
        fetched.append(url)
        if isinstance(answer.get("error"), Exception):
            raise answer["error"]
        if "meanwhile" in answer:
            answer.pop("meanwhile")()
        return FetchedBody(content=answer["content"], content_type="application/pdf", final_url=url)

    monkeypatch.setattr(fax_pipeline, "fetch", fake_fetch)
    answer["fetched"] = fetched
    return answer


def test_a_url_fax_is_fetched_submitted_and_can_fail(
    telnyx, api_client, served, pipeline, django_capture_on_commit_callbacks
) -> None:
    client = api_client
    with django_capture_on_commit_callbacks(execute=True):
        fax_id = client.post_json("/v1/faxes", {"to": "+15551234567", "document_url": URL}).json()[
            "id"
        ]
    assert pipeline[-1] == ("faxes.tasks.fax_fetch_task", [fax_id], {})

    assert fax_pipeline.fax_fetch_document(fax_id=fax_id)
    fax = Fax.objects.get(pk=fax_id)
    assert fax.page_count == 2
    assert fax.document_content_type == "application/pdf"
    assert served["fetched"] == [URL]

    telnyx.accepts_media()
    carrier_fax_id = telnyx.accepts_fax()
    fax_pipeline.fax_submit_to_carrier(fax_id=fax_id)
    telnyx.deliver(
        telnyx.event(
            "fax.failed",
            fax=fax,
            carrier_fax_id=carrier_fax_id,
            failure_reason="receiver_no_answer",
        )
    )

    body = client.get(f"/v1/faxes/{fax_id}").json()
    assert body["status"] == "failed"
    assert body["failure_reason"] == "no_answer"
    assert body["page_count"] == 2
    assert body["document"]["url"] == URL


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            UnsafeUrl("The URL's host resolves to an address that is not on the public internet."),
            "document_fetch_failed",
        ),
        (FetchError("The server answered 404."), "document_fetch_failed"),
    ],
)
def test_a_failed_fetch_fails_the_fax_saying_why(
    api_client, served, pipeline, error, reason
) -> None:
    served["error"] = error
    fax_id = api_client.post_json("/v1/faxes", {"to": "+15551234567", "document_url": URL}).json()[
        "id"
    ]

    assert not fax_pipeline.fax_fetch_document(fax_id=fax_id)

    body = api_client.get(f"/v1/faxes/{fax_id}").json()
    assert body["status"] == "failed"
    assert body["failure_reason"] == reason
    assert body["failure_message"] == error.message


def test_html_served_as_a_pdf_fails_as_document_invalid(api_client, served, pipeline) -> None:
    served["content"] = b"<!doctype html><html><body>Sign in</body></html>"
    fax_id = api_client.post_json("/v1/faxes", {"to": "+15551234567", "document_url": URL}).json()[
        "id"
    ]

    fax_pipeline.fax_fetch_document(fax_id=fax_id)

    body = api_client.get(f"/v1/faxes/{fax_id}").json()
    assert body["failure_reason"] == "document_invalid"
    assert "HTML" in body["failure_message"]


def send_url_fax(api_client) -> str:
    response = api_client.post_json("/v1/faxes", {"to": "+15551234567", "document_url": URL})
    assert response.status_code == 201
    return response.json()["id"]


def fetches(pipeline: list) -> list[str]:
    return [args[0] for name, args, _ in pipeline if name == "faxes.tasks.fax_fetch_task"]


def submissions(pipeline: list) -> list[str]:
    return [args[0] for name, args, _ in pipeline if name == "faxes.tasks.fax_submit_task"]


def test_fetching_twice_fetches_and_hands_over_once(
    api_client, served, pipeline, django_capture_on_commit_callbacks
) -> None:
    fax_id = send_url_fax(api_client)

    with django_capture_on_commit_callbacks(execute=True):
        assert fax_pipeline.fax_fetch_document(fax_id=fax_id)
        assert not fax_pipeline.fax_fetch_document(fax_id=fax_id)

    assert served["fetched"] == [URL]
    assert submissions(pipeline) == [fax_id]


def test_a_fetch_while_another_runs_does_nothing(
    api_client, served, pipeline, django_capture_on_commit_callbacks
) -> None:
    fax_id = send_url_fax(api_client)
    # A second worker runs the same fax's fetch while the first is waiting for the server.
    served["meanwhile"] = lambda: fax_pipeline.fax_fetch_document(fax_id=fax_id)

    with django_capture_on_commit_callbacks(execute=True):
        fax_pipeline.fax_fetch_document(fax_id=fax_id)

    assert served["fetched"] == [URL]
    assert submissions(pipeline) == [fax_id]


def test_the_fetch_task_hands_over_to_submission(
    api_client, served, pipeline, django_capture_on_commit_callbacks
) -> None:
    fax_id = send_url_fax(api_client)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.fax_fetch_task.run(fax_id)

    assert submissions(pipeline) == [fax_id]


def test_a_fetch_that_hits_the_time_limit_fails_the_fax(api_client, served, pipeline) -> None:
    served["error"] = SoftTimeLimitExceeded()
    fax_id = send_url_fax(api_client)

    tasks.fax_fetch_task.run(fax_id)

    body = api_client.get(f"/v1/faxes/{fax_id}").json()
    assert (body["status"], body["failure_reason"]) == ("failed", "document_fetch_failed")
    assert "took too long" in body["failure_message"]
    assert submissions(pipeline) == []


def test_an_image_conversion_that_hits_the_time_limit_fails_the_fax(
    api_client, served, pipeline, monkeypatch
) -> None:
    served["content"] = documents.png_bytes()
    conversions: list[int] = []

    def slow_convert(*args: object, **kwargs: object) -> bytes:
        conversions.append(1)
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(img2pdf, "convert", slow_convert)
    fax_id = send_url_fax(api_client)

    tasks.fax_fetch_task.run(fax_id)

    body = api_client.get(f"/v1/faxes/{fax_id}").json()
    assert (body["status"], body["failure_reason"]) == ("failed", "document_invalid")
    assert "took too long" in body["failure_message"]
    assert conversions == [1]  # not redrawn and converted again after the limit


def test_a_pdf_check_that_hits_the_time_limit_fails_the_fax_saying_so(
    api_client, served, pipeline, monkeypatch
) -> None:
    def slow_open(*args: object, **kwargs: object) -> None:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(pikepdf, "open", slow_open)
    fax_id = send_url_fax(api_client)

    tasks.fax_fetch_task.run(fax_id)

    body = api_client.get(f"/v1/faxes/{fax_id}").json()
    assert body["failure_reason"] == "document_invalid"
    assert "took too long" in body["failure_message"]
