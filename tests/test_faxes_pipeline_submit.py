"""Submitting to Telnyx: exactly once, whatever fails."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from faxes.models import Fax, FaxStatus
from faxes.services import pipeline as fax_pipeline
from faxes.services import sweeper
from tests import documents
from tests.telnyx import API

pytestmark = pytest.mark.django_db


def test_it_uploads_the_document_and_sends_with_our_id(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    carrier_fax_id = telnyx.accepts_fax()

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    fax.refresh_from_db()
    assert fax.status == FaxStatus.SENDING
    assert fax.carrier_fax_id == carrier_fax_id
    assert fax.carrier == "telnyx"
    [post] = telnyx.posts_to("/faxes")
    sent = json.loads(post.request.body)
    assert sent == {
        "connection_id": "conn-test-1",
        "from": fax.from_number,
        "to": fax.to_number,
        "media_name": "m",
        "client_state": base64.b64encode(fax.id.encode()).decode(),
        "webhook_url": "http://127.0.0.1:8000/webhooks/telnyx",
    }
    assert post.request.headers["Authorization"] == "Bearer KEY_test_not_real"
    [upload] = telnyx.posts_to("/media")
    assert b"%PDF" in upload.request.body


def test_it_uploads_the_stored_document_unchanged_when_the_header_is_off(
    telnyx, accepted_fax
) -> None:
    fax = accepted_fax()
    Fax.objects.filter(pk=fax.pk).update(header=False)
    telnyx.accepts_media()
    telnyx.accepts_fax()

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    [upload] = telnyx.posts_to("/media")
    assert fax.document.open("rb").read() in upload.request.body


def test_running_the_task_twice_sends_once(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.accepts_fax()

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    assert len(telnyx.posts_to("/faxes")) == 1


def test_a_second_worker_cannot_claim_a_leased_fax(accepted_fax) -> None:
    fax = accepted_fax()

    first = fax_pipeline.fax_claim(fax_id=fax.id)
    second = fax_pipeline.fax_claim(fax_id=fax.id)

    assert first
    assert second is None


def test_a_rejection_fails_the_fax_with_telnyx_detail(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.mock.add(
        "POST",
        f"{API}/faxes",
        status=422,
        json={
            "errors": [
                {
                    "code": "10015",
                    "title": "Invalid value",
                    "detail": "The 'to' number is not allowed.",
                }
            ]
        },
    )

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    fax.refresh_from_db()
    assert fax.status == FaxStatus.FAILED
    assert fax.failure_reason == "carrier_rejected"
    assert "The 'to' number is not allowed." in fax.failure_message
    assert fax.completed_at is not None


@pytest.mark.parametrize(
    ("status", "headers", "countdown"),
    [(429, {"x-ratelimit-reset": "7"}, 7.0), (503, {"Retry-After": "30"}, 30.0)],
)
def test_a_busy_carrier_means_retry_later_honouring_its_hint(
    telnyx, accepted_fax, status, headers, countdown
) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.mock.add("POST", f"{API}/faxes", status=status, headers=headers, json={"errors": []})

    with pytest.raises(fax_pipeline.RetryLater) as later:
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    assert later.value.countdown == countdown
    fax.refresh_from_db()
    assert fax.status == FaxStatus.SUBMITTING


def test_a_refused_connection_means_retry_later(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.mock.add("POST", f"{API}/faxes", body=requests.exceptions.ConnectTimeout("refused"))

    with pytest.raises(fax_pipeline.RetryLater):
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)


def retry_with_lease(fax: Fax, token: str) -> None:
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id, token=token)


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "json": {"errors": [{"title": "Internal error"}]}},
        {"status": 504, "json": {}},
        {"body": requests.exceptions.ReadTimeout("no answer")},
    ],
)
def test_after_an_unknown_outcome_it_adopts_the_fax_telnyx_already_has(
    telnyx, accepted_fax, failure
) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.mock.add("POST", f"{API}/faxes", **failure)
    with pytest.raises(fax_pipeline.RetryLater) as later:
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    telnyx.mock.add(
        "GET",
        f"{API}/faxes",
        json={
            "data": [
                {
                    "id": "someone-elses",
                    "status": "queued",
                    "to": fax.to_number,
                    "client_state": base64.b64encode(b"fax_other").decode(),
                },
                {
                    "id": "ours-1",
                    "status": "sending",
                    "to": fax.to_number,
                    "client_state": base64.b64encode(fax.id.encode()).decode(),
                },
            ],
            "meta": {"total_pages": 1},
        },
    )

    retry_with_lease(fax, later.value.token)

    fax.refresh_from_db()
    assert fax.carrier_fax_id == "ours-1"
    assert fax.status == FaxStatus.SENDING
    assert len(telnyx.posts_to("/faxes")) == 1
    lookup = next(c for c in telnyx.mock.calls if c.request.method == "GET").request
    assert f"filter%5Bto%5D%5Beq%5D=%2B{fax.to_number[1:]}" in lookup.url


def test_after_an_unknown_outcome_it_sends_again_only_when_telnyx_has_nothing(
    telnyx, accepted_fax
) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.mock.add("POST", f"{API}/faxes", status=502, json={})
    with pytest.raises(fax_pipeline.RetryLater) as later:
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    telnyx.mock.add("GET", f"{API}/faxes", json={"data": [], "meta": {"total_pages": 1}})
    telnyx.accepts_media()
    carrier_fax_id = telnyx.accepts_fax()

    retry_with_lease(fax, later.value.token)

    fax.refresh_from_db()
    assert fax.carrier_fax_id == carrier_fax_id
    assert len(telnyx.posts_to("/faxes")) == 2


def test_retries_spent_on_an_unreachable_carrier_fail_the_fax(accepted_fax) -> None:
    fax = accepted_fax()
    fax_pipeline.fax_claim(fax_id=fax.id)

    fax_pipeline.fax_give_up(fax_id=fax.id, reason="Telnyx answered 503")

    fax.refresh_from_db()
    assert fax.status == FaxStatus.FAILED
    assert fax.failure_reason == "carrier_error"


def test_retries_spent_after_an_unknown_outcome_leave_the_fax_to_reconciliation(
    accepted_fax,
) -> None:
    fax = accepted_fax()
    fax_pipeline.fax_claim(fax_id=fax.id)
    Fax.objects.filter(pk=fax.pk).update(submitted_at=fax.created_at)

    fax_pipeline.fax_give_up(fax_id=fax.id, reason="timeout")

    fax.refresh_from_db()
    assert fax.status == FaxStatus.SUBMITTING


def test_the_sending_task_retries_with_backoff_and_keeps_its_lease(
    telnyx, accepted_fax, monkeypatch
) -> None:
    from faxes import tasks

    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.mock.add("POST", f"{API}/faxes", status=503, json={})
    retries: list[dict] = []

    def retry(**kwargs):
        retries.append(kwargs)
        return RuntimeError("retry")

    monkeypatch.setattr(tasks.fax_submit_task, "retry", retry)

    with pytest.raises(RuntimeError):
        tasks.fax_submit_task.run(fax.id)

    [call] = retries
    assert call["args"] == [fax.id]
    assert call["kwargs"]["token"]
    assert 2.5 <= call["countdown"] <= 300


def test_a_retry_due_after_the_lease_is_not_restarted_before_it_is_due(
    telnyx, accepted_fax, pipeline, monkeypatch
) -> None:
    from datetime import timedelta

    from django.db.models import F

    from faxes import tasks

    fax = accepted_fax()
    telnyx.accepts_media()
    # Telnyx asks for 20 minutes: longer than the lease, which then runs out.
    telnyx.mock.add("POST", f"{API}/faxes", status=503, headers={"Retry-After": "1200"}, json={})
    monkeypatch.setattr(tasks.fax_submit_task, "retry", lambda **kwargs: RuntimeError("retry"))
    with pytest.raises(RuntimeError):
        tasks.fax_submit_task.run(fax.id)
    eleven_minutes = {
        name: F(name) - timedelta(minutes=11)
        for name in ("created_at", "enqueued_at", "lease_expires_at")
    }
    Fax.objects.filter(pk=fax.pk).update(**eleven_minutes)

    assert sweeper.faxes_restart_stalled().restarted == []


def test_backoff_grows_and_is_capped() -> None:
    from faxes.tasks import backoff

    assert 2.5 <= backoff(0) <= 7.5
    assert 40 <= backoff(4) <= 120
    assert backoff(20) <= 450
    assert backoff(0, at_least=60) >= 60


def test_a_worker_that_lost_its_lease_does_not_send(telnyx, accepted_fax) -> None:
    from datetime import timedelta

    from django.utils import timezone

    fax = accepted_fax()
    token = fax_pipeline.fax_claim(fax_id=fax.id)
    telnyx.accepts_media()
    telnyx.accepts_fax()
    # The lease ran out while this worker stalled, and the sweeper gave the fax to another.
    Fax.objects.filter(pk=fax.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert fax_pipeline.fax_claim(fax_id=fax.id) not in (None, token)

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id, token=token)

    assert telnyx.posts_to("/faxes") == []


def test_a_missing_document_fails_the_fax_instead_of_crashing(telnyx, accepted_fax) -> None:
    import os

    fax = accepted_fax()
    os.remove(fax.document.path)

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    fax.refresh_from_db()
    assert (fax.status, fax.failure_reason) == (FaxStatus.FAILED, "document_invalid")
    assert telnyx.posts_to("/faxes") == []


def test_an_inconclusive_reconciliation_retries_later(telnyx, accepted_fax, monkeypatch) -> None:
    from faxes.carrier import CarrierError, TelnyxClient

    fax = accepted_fax()
    fax_pipeline.fax_claim(fax_id=fax.id)
    Fax.objects.filter(pk=fax.pk).update(submitted_at=fax.created_at)

    def too_many_pages(self, **kwargs):
        raise CarrierError("More than 10 pages of faxes to that number.")

    monkeypatch.setattr(TelnyxClient, "find_faxes", too_many_pages)
    token = Fax.objects.get(pk=fax.pk).submit_token

    with pytest.raises(fax_pipeline.RetryLater):
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id, token=token)
    assert telnyx.posts_to("/faxes") == []


def test_each_attempt_uploads_under_a_new_media_name(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.mock.add("POST", f"{API}/faxes", status=503, json={})
    with pytest.raises(fax_pipeline.RetryLater) as later:
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    telnyx.accepts_media()
    telnyx.accepts_fax()

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id, token=later.value.token)

    names = [json.loads(p.request.body)["media_name"] for p in telnyx.posts_to("/faxes")]
    uploads = [p.request.body for p in telnyx.posts_to("/media")]
    assert len(uploads) == 2
    assert f"{fax.id}-1.pdf".encode() in uploads[0]
    assert f"{fax.id}-2.pdf".encode() in uploads[1]
    assert len(names) == 2


def test_an_altered_document_fails_the_fax_as_document_invalid(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    documents.alter_last_byte(fax.document.path)

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    fax.refresh_from_db()
    assert (fax.status, fax.failure_reason) == (FaxStatus.FAILED, "document_invalid")
    assert "could not be read back" in fax.failure_message
    assert telnyx.posts_to("/media") == []


def test_a_document_under_a_dropped_key_fails_the_fax(telnyx, accepted_fax, settings) -> None:
    from sendfaxmail.lib.crypto import generate_key

    fax = accepted_fax()
    settings.DOCUMENT_ENCRYPTION_KEYS = [generate_key()]

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    fax.refresh_from_db()
    assert (fax.status, fax.failure_reason) == (FaxStatus.FAILED, "document_invalid")


def test_a_storage_outage_means_retry_later(telnyx, accepted_fax, monkeypatch) -> None:
    from botocore.exceptions import EndpointConnectionError

    from sendfaxmail.lib.storage import EncryptedStorage

    def unreachable(self, name):
        raise EndpointConnectionError(endpoint_url="http://s3.invalid")

    fax = accepted_fax()
    monkeypatch.setattr(EncryptedStorage, "open_plaintext", unreachable)

    with pytest.raises(fax_pipeline.RetryLater, match="document storage unavailable") as later:
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    fax.refresh_from_db()
    assert fax.status == FaxStatus.SUBMITTING
    assert later.value.token == fax.submit_token
