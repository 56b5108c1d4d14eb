"""Fetching URL documents, the whole URL path to a failure, and the sweeper."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from faxes import services, tasks
from faxes.models import Fax, FaxStatus
from sendfaxmail.lib.fetch import FetchedBody, FetchError, UnsafeUrl
from tests import documents
from tests.telnyx import API

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
        return FetchedBody(content=answer["content"], content_type="application/pdf", final_url=url)

    monkeypatch.setattr(services, "fetch", fake_fetch)
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
    assert pipeline[-1] == ("faxes.tasks.fax_fetch", [fax_id], {})

    assert services.fax_fetch_document(fax_id=fax_id)
    fax = Fax.objects.get(pk=fax_id)
    assert fax.page_count == 2
    assert fax.document_content_type == "application/pdf"
    assert served["fetched"] == [URL]

    telnyx.accepts_media()
    carrier_fax_id = telnyx.accepts_fax()
    services.fax_submit(fax_id=fax_id)
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

    assert not services.fax_fetch_document(fax_id=fax_id)

    body = api_client.get(f"/v1/faxes/{fax_id}").json()
    assert body["status"] == "failed"
    assert body["failure_reason"] == reason
    assert body["failure_message"] == error.message


def test_html_served_as_a_pdf_fails_as_document_invalid(api_client, served, pipeline) -> None:
    served["content"] = b"<!doctype html><html><body>Sign in</body></html>"
    fax_id = api_client.post_json("/v1/faxes", {"to": "+15551234567", "document_url": URL}).json()[
        "id"
    ]

    services.fax_fetch_document(fax_id=fax_id)

    body = api_client.get(f"/v1/faxes/{fax_id}").json()
    assert body["failure_reason"] == "document_invalid"
    assert "HTML" in body["failure_message"]


def test_fetching_twice_stores_one_document(api_client, served, pipeline) -> None:
    fax_id = api_client.post_json("/v1/faxes", {"to": "+15551234567", "document_url": URL}).json()[
        "id"
    ]

    assert services.fax_fetch_document(fax_id=fax_id)
    assert services.fax_fetch_document(fax_id=fax_id)

    assert served["fetched"] == [URL]


def test_the_fetch_task_hands_over_to_submission(api_client, served, pipeline, monkeypatch) -> None:
    fax_id = api_client.post_json("/v1/faxes", {"to": "+15551234567", "document_url": URL}).json()[
        "id"
    ]
    submitted: list[str] = []
    monkeypatch.setattr(tasks.fax_submit, "delay", submitted.append)

    tasks.fax_fetch.run(fax_id)

    assert submitted == [fax_id]


def age(fax: Fax, **delta: float) -> None:
    Fax.objects.filter(pk=fax.pk).update(updated_at=timezone.now() - timedelta(**delta))


def test_the_sweeper_restarts_faxes_whose_task_was_lost(accepted_fax, api_client, pipeline) -> None:
    inline = accepted_fax()
    url_fax = Fax.objects.get(
        pk=api_client.post_json("/v1/faxes", {"to": "+15551234567", "document_url": URL}).json()[
            "id"
        ]
    )
    fresh = accepted_fax()
    age(inline, minutes=3)
    age(url_fax, minutes=3)

    restart = services.faxes_to_restart()

    assert sorted(restart) == sorted([(inline.id, "submit"), (url_fax.id, "fetch")])
    assert fresh.id not in dict(restart)


def test_the_sweeper_takes_over_an_expired_lease_and_reconciles_first(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    services.fax_claim(fax_id=fax.id)
    # The worker died after its POST: the outcome is unknown and the lease runs out.
    Fax.objects.filter(pk=fax.pk).update(
        submitted_at=timezone.now() - timedelta(minutes=11),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert services.faxes_to_restart() == [(fax.id, "submit")]
    from faxes.carrier import encode_client_state

    telnyx.mock.add(
        "GET",
        f"{API}/faxes",
        json={
            "data": [
                {"id": "found-1", "status": "sending", "client_state": encode_client_state(fax.id)}
            ]
        },
    )

    services.fax_submit(fax_id=fax.id)

    fax.refresh_from_db()
    assert fax.carrier_fax_id == "found-1"
    assert telnyx.posts_to("/faxes") == []


def test_the_sweeper_asks_telnyx_about_silent_faxes(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    carrier_fax_id = telnyx.accepts_fax()
    services.fax_submit(fax_id=fax.id)
    age(fax, minutes=11)
    telnyx.mock.add(
        "GET",
        f"{API}/faxes/{carrier_fax_id}",
        json={"data": {"id": carrier_fax_id, "status": "delivered", "page_count": 3}},
    )

    assert services.faxes_poll_silent() == 1

    fax.refresh_from_db()
    assert fax.status == FaxStatus.DELIVERED
    assert fax.pages_delivered == 3
    assert services.faxes_poll_silent() == 0


def test_the_sweeper_leaves_recent_sending_faxes_alone(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.accepts_fax()
    services.fax_submit(fax_id=fax.id)

    assert services.faxes_poll_silent() == 0
