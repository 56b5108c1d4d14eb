"""Automatic redial: busy lines, no answer and broken transmissions are called again later."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from developers.models import WebhookEvent
from faxes import tasks
from faxes.carrier import decode_client_state
from faxes.models import Fax, FaxStatus
from faxes.services import pipeline as fax_pipeline
from faxes.services.redial import faxes_redial_due
from tests import documents
from tests.conftest import ApiClient, make_key
from tests.factories import endpoint_for_every_event

pytestmark = pytest.mark.django_db

RETRY = {"attempts": 2, "interval_seconds": 60}


@pytest.fixture
def calls(telnyx, accepted_fax):
    """Send a fax with `retry`, and hand it to Telnyx: returns (fax, a function that makes
    Telnyx take the next call and returns the carrier id)."""
    telnyx.accepts_media()
    counter = iter(range(1, 10))

    def call(fax: Fax) -> str:
        carrier_fax_id = telnyx.accepts_fax(f"tx-{next(counter)}")
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
        fax.refresh_from_db()
        assert fax.carrier_fax_id == carrier_fax_id
        return carrier_fax_id

    return call


def fails(telnyx, fax: Fax, carrier_fax_id: str, reason: str = "user_busy") -> None:
    """Telnyx reports that the call failed for `reason`, no page through (a new event id)."""
    raw = telnyx.event(
        "fax.failed", fax=fax, carrier_fax_id=carrier_fax_id, failure_reason=reason, page_count=0
    )
    body = json.loads(raw)
    body["data"]["id"] = str(uuid.uuid4())
    assert telnyx.deliver(json.dumps(body).encode()).status_code == 200
    fax.refresh_from_db()


def later(seconds: float):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=True)


def test_a_busy_line_queues_the_fax_for_its_next_call(
    api_client: ApiClient, telnyx, accepted_fax, calls
) -> None:
    fax = accepted_fax(retry=RETRY)
    first = calls(fax)

    fails(telnyx, fax, first)

    body = api_client.get(f"/v1/faxes/{fax.id}").json()
    assert (body["status"], body["failure_reason"]) == ("queued", None)
    assert body["retry"] == RETRY
    [attempt] = body["attempts"]
    assert attempt == {
        **attempt,
        "number": 1,
        "status": "failed",
        "failure_reason": "busy",
        "pages_delivered": 0,
    }
    assert attempt["started_at"].endswith("Z")
    assert attempt["completed_at"].endswith("Z")
    due = fax.next_attempt_at - timezone.now()
    assert timedelta(seconds=50) < due <= timedelta(seconds=60)


def test_a_redial_sequence_ends_delivered(
    api_client: ApiClient, telnyx, accepted_fax, calls, pipeline
) -> None:
    fax = accepted_fax(retry=RETRY)
    fails(telnyx, fax, calls(fax))
    assert faxes_redial_due() == []

    with later(61):
        assert faxes_redial_due() == [fax.id]
        second = calls(fax)
        telnyx.deliver(telnyx.event("fax.delivered", fax=fax, carrier_fax_id=second))

    body = api_client.get(f"/v1/faxes/{fax.id}").json()
    assert body["status"] == "delivered"
    assert [(a["number"], a["status"]) for a in body["attempts"]] == [
        (1, "failed"),
        (2, "delivered"),
    ]
    assert body["next_attempt_at"] is None
    assert len(telnyx.posts_to("/faxes")) == 2


def test_the_last_call_fails_the_fax_with_its_own_reason(
    api_client: ApiClient, telnyx, accepted_fax, calls
) -> None:
    fax = accepted_fax(retry={"attempts": 1, "interval_seconds": 60})
    fails(telnyx, fax, calls(fax), "user_busy")

    with later(61):
        faxes_redial_due()
        fails(telnyx, fax, calls(fax), "receiver_no_answer")

    body = api_client.get(f"/v1/faxes/{fax.id}").json()
    assert (body["status"], body["failure_reason"]) == ("failed", "no_answer")
    assert [a["failure_reason"] for a in body["attempts"]] == ["busy", "no_answer"]


@pytest.mark.parametrize("reason", ["receiver_unallocated_number", "receiver_call_rejected"])
def test_a_failure_a_redial_cannot_mend_fails_at_once(
    telnyx, accepted_fax, calls, reason: str
) -> None:
    fax = accepted_fax(retry=RETRY)

    fails(telnyx, fax, calls(fax), reason)

    assert fax.status == FaxStatus.FAILED
    assert len(fax.attempts) == 1


def test_without_retry_the_account_setting_of_no_redial_applies(
    telnyx, accepted_fax, calls
) -> None:
    fax = accepted_fax()

    fails(telnyx, fax, calls(fax))

    assert (fax.status, fax.failure_reason, fax.retry_attempts) == (FaxStatus.FAILED, "busy", 0)


def test_the_accounts_setting_is_the_default(account: Account, telnyx, accepted_fax, calls) -> None:
    Account.objects.filter(pk=account.pk).update(
        fax_retry_attempts=3, fax_retry_interval_seconds=120
    )
    fax = accepted_fax()

    fails(telnyx, fax, calls(fax))

    assert (fax.status, fax.retry_attempts, fax.retry_interval_seconds) == (
        FaxStatus.QUEUED,
        3,
        120,
    )


def test_the_customer_hears_fax_retry_scheduled(
    account: Account, telnyx, accepted_fax, calls
) -> None:
    endpoint_for_every_event(account)
    fax = accepted_fax(retry=RETRY)

    fails(telnyx, fax, calls(fax))

    types = list(WebhookEvent.objects.filter(object_id=fax.id).values_list("type", flat=True))
    assert "fax.retry_scheduled" in types
    assert "fax.failed" not in types


def test_a_fax_waiting_for_its_redial_is_not_claimed_early(telnyx, accepted_fax, calls) -> None:
    fax = accepted_fax(retry=RETRY)
    fails(telnyx, fax, calls(fax))

    assert fax_pipeline.fax_claim(fax_id=fax.id) is None
    assert len(telnyx.posts_to("/faxes")) == 1


def test_a_late_report_of_the_earlier_call_changes_nothing(telnyx, accepted_fax, calls) -> None:
    fax = accepted_fax(retry=RETRY)
    first = calls(fax)
    fails(telnyx, fax, first)

    telnyx.deliver(telnyx.event("fax.sending.started", fax=fax, carrier_fax_id=first))
    telnyx.deliver(telnyx.event("fax.delivered", fax=fax, carrier_fax_id=first))

    fax.refresh_from_db()
    assert fax.status == FaxStatus.QUEUED
    assert len(fax.attempts) == 1


def test_a_fax_waiting_for_its_redial_can_be_canceled(
    api_client: ApiClient, telnyx, accepted_fax, calls, pipeline
) -> None:
    fax = accepted_fax(retry=RETRY)
    fails(telnyx, fax, calls(fax))

    response = api_client.post(f"/v1/faxes/{fax.id}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    with later(61):
        assert faxes_redial_due() == []


@pytest.mark.django_db(transaction=True)
def test_a_due_redial_fires_once_across_two_sweepers(telnyx, accepted_fax, calls, pipeline):
    fax = accepted_fax(retry=RETRY)
    fails(telnyx, fax, calls(fax))
    Fax.objects.filter(pk=fax.pk).update(next_attempt_at=timezone.now())
    barrier = threading.Barrier(2)
    sent: list[list[str]] = []

    def sweep() -> None:
        try:
            barrier.wait()
            sent.append(faxes_redial_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(sent, key=len) == [[], [fax.id]]
    submits = [p for p in pipeline if p[0] == "faxes.tasks.fax_submit_task" and p[1] == [fax.id]]
    # One when the fax was accepted, one for the redial.
    assert len(submits) == 2


# --- The sandbox -----------------------------------------------------------------------------


def run_calls(fax_id: str, pipeline: list) -> None:
    """Submit the fax and play the simulator's events for it, as a worker would."""
    fax_pipeline.fax_submit_to_carrier(fax_id=fax_id)
    for name, _, kwargs in list(pipeline):
        if (
            name == "faxes.tasks.simulator_step_task"
            and decode_client_state(kwargs["client_state"]) == fax_id
        ):
            pipeline.remove((name, _, kwargs))
            tasks.simulator_step_task.run(**kwargs)


@pytest.mark.parametrize(
    ("to", "status", "calls_made"),
    [("+15550000006", "delivered", 2), ("+15550000002", "failed", 3)],
)
def test_the_sandbox_numbers_redial(
    account: Account, pipeline, to: str, status: str, calls_made: int
) -> None:
    client = ApiClient(make_key(account, livemode=False)[1])
    sent = client.post_json(
        "/v1/faxes", {"to": to, "document": documents.inline_pdf(pages=1), "retry": RETRY}
    ).json()

    run_calls(sent["id"], pipeline)
    for _ in range(2):
        Fax.objects.filter(pk=sent["id"], status=FaxStatus.QUEUED).update(
            next_attempt_at=timezone.now()
        )
        if faxes_redial_due():
            run_calls(sent["id"], pipeline)

    body = client.get(f"/v1/faxes/{sent['id']}").json()
    assert body["status"] == status
    assert len(body["attempts"]) == calls_made


# --- The request ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry", "param"),
    [
        ({"attempts": 6}, "retry.attempts"),
        ({"attempts": -1}, "retry.attempts"),
        ({"attempts": 1, "interval_seconds": 59}, "retry.interval_seconds"),
        ({"attempts": 1, "interval_seconds": 3601}, "retry.interval_seconds"),
        ({"attempts": 1, "every": 60}, "retry.every"),
        ({}, "retry.attempts"),
        ("twice", "retry"),
    ],
)
def test_a_bad_retry_is_400_naming_it(api_client: ApiClient, retry: object, param: str) -> None:
    response = api_client.post_json(
        "/v1/faxes",
        {"to": "+15551234567", "document": documents.inline_pdf(pages=1), "retry": retry},
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_a_redialed_fax_downloads_as_its_last_call_sent_it_with_that_calls_time(
    api_client: ApiClient, telnyx, accepted_fax, calls
) -> None:
    fax = accepted_fax(retry=RETRY)
    fails(telnyx, fax, calls(fax))
    with later(3600):
        faxes_redial_due()
        calls(fax)

    first, second = telnyx.uploaded_media()
    response = api_client.get(f"/v1/faxes/{fax.id}/document")

    assert b"".join(response.streaming_content) == second
    # The pages are the same; only the header's time (an hour later) differs.
    assert documents.page_texts(first) != documents.page_texts(second)
