"""Telnyx's inbound events on POST /webhooks/telnyx: saved payloads, signed with a key pair made
here, for faxes received on an account's number."""

from __future__ import annotations

import uuid

import pytest

from accounts.models import Account
from faxes.models import Fax, FaxEvent, FaxStatus
from faxes.services.inbound import MEDIA_TASK
from tests.concurrency import at_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def number(account: Account) -> str:
    return account.fax_numbers.get().number


@pytest.fixture
def carrier_fax_id() -> str:
    return str(uuid.uuid4())


def deliver(telnyx, name: str, carrier_fax_id: str, number: str, **payload: object):
    return telnyx.deliver(
        telnyx.inbound_event(name, carrier_fax_id=carrier_fax_id, to=number, **payload)
    )


def test_it_creates_a_receiving_fax_on_the_numbers_account(
    telnyx, account, number, carrier_fax_id
) -> None:
    response = deliver(telnyx, "fax.receiving.started", carrier_fax_id, number)

    assert response.status_code == 200
    fax = Fax.objects.get(carrier_fax_id=carrier_fax_id)
    assert (fax.account, fax.direction, fax.status) == (account, "inbound", "receiving")
    assert (fax.to_number, fax.from_number, fax.livemode) == (number, "+15551230000", True)


def test_it_fetches_the_media_once_the_fax_is_received(
    telnyx, number, carrier_fax_id, pipeline, django_capture_on_commit_callbacks
) -> None:
    deliver(telnyx, "fax.receiving.started", carrier_fax_id, number)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(telnyx, "fax.received", carrier_fax_id, number)

    fax = Fax.objects.get(carrier_fax_id=carrier_fax_id)
    assert pipeline == [(MEDIA_TASK, [fax.id], {})]
    assert fax.document_url.startswith(f"https://media.telnyx.test/inbound/{carrier_fax_id}")
    assert fax.page_count == 2
    assert fax.status == "receiving"


def test_it_takes_the_status_as_the_truth_when_no_received_event_type_comes(
    telnyx, number, carrier_fax_id, pipeline, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        deliver(telnyx, "fax.updated.received", carrier_fax_id, number)

    fax = Fax.objects.get(carrier_fax_id=carrier_fax_id)
    assert pipeline == [(MEDIA_TASK, [fax.id], {})]


def test_it_stores_nothing_for_a_number_nobody_holds(telnyx, carrier_fax_id) -> None:
    response = deliver(telnyx, "fax.received", carrier_fax_id, "+15559990000")

    assert response.status_code == 200
    assert response.json() == {"status": "unknown_number"}
    assert not Fax.objects.exists()
    assert not FaxEvent.objects.exists()


def test_it_answers_a_duplicate_with_200_and_stores_it_once(telnyx, number, carrier_fax_id) -> None:
    body = telnyx.inbound_event("fax.receiving.started", carrier_fax_id=carrier_fax_id, to=number)

    first, second = telnyx.deliver(body), telnyx.deliver(body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"status": "duplicate"}
    assert Fax.objects.count() == 1
    assert FaxEvent.objects.filter(carrier_event_id__isnull=False).count() == 1


def test_it_creates_no_fax_for_an_event_id_it_has_seen(telnyx, number, carrier_fax_id) -> None:
    deliver(telnyx, "fax.receiving.started", carrier_fax_id, number)

    response = deliver(telnyx, "fax.receiving.started", str(uuid.uuid4()), number)

    assert response.json() == {"status": "duplicate"}
    assert Fax.objects.count() == 1


def test_it_never_moves_back_when_events_come_out_of_order(
    telnyx, number, carrier_fax_id, pipeline
) -> None:
    deliver(telnyx, "fax.failed.inbound", carrier_fax_id, number)
    deliver(telnyx, "fax.receiving.started", carrier_fax_id, number)
    deliver(telnyx, "fax.received", carrier_fax_id, number)

    fax = Fax.objects.get(carrier_fax_id=carrier_fax_id)
    assert fax.status == FaxStatus.FAILED
    assert pipeline == []
    assert fax.events.filter(carrier_event_id__isnull=False).count() == 3


def test_it_keeps_a_received_fax_receiving_when_started_comes_late(
    telnyx, number, carrier_fax_id, pipeline
) -> None:
    deliver(telnyx, "fax.received", carrier_fax_id, number)
    deliver(telnyx, "fax.receiving.started", carrier_fax_id, number)

    fax = Fax.objects.get(carrier_fax_id=carrier_fax_id)
    assert fax.status == FaxStatus.RECEIVING
    assert fax.document_url


def test_it_fails_a_dropped_inbound_call_with_telnyx_reason(telnyx, number, carrier_fax_id) -> None:
    deliver(telnyx, "fax.failed.inbound", carrier_fax_id, number)

    fax = Fax.objects.get(carrier_fax_id=carrier_fax_id)
    assert (fax.status, fax.failure_reason) == ("failed", "transmission_error")
    assert "sender_call_dropped" in fax.failure_message


@pytest.mark.parametrize("sender", ["anonymous", "1234", "", "+44 20 7946 0000 ext 5"])
def test_it_stores_any_sender_as_given(telnyx, number, carrier_fax_id, sender: str) -> None:
    response = deliver(telnyx, "fax.receiving.started", carrier_fax_id, number, from_=sender)

    assert response.status_code == 200
    assert Fax.objects.get(carrier_fax_id=carrier_fax_id).from_number == sender


def test_it_refuses_an_inbound_event_with_a_bad_signature(telnyx, number, carrier_fax_id) -> None:
    body = telnyx.inbound_event("fax.received", carrier_fax_id=carrier_fax_id, to=number)
    headers = telnyx.sign(body)
    headers["HTTP_TELNYX_SIGNATURE_ED25519"] = telnyx.sign(b"other")[
        "HTTP_TELNYX_SIGNATURE_ED25519"
    ]

    assert telnyx.deliver(body, **headers).status_code == 401
    assert not Fax.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_twice_at_once_is_stored_once(
    telnyx, number, carrier_fax_id
) -> None:
    """Two deliveries of one event at the same moment, on two connections, both past the
    early check for its id: the event's unique id decides, and the loser answers duplicate."""
    body = telnyx.inbound_event("fax.receiving.started", carrier_fax_id=carrier_fax_id, to=number)
    headers = telnyx.sign(body)

    outcomes = sorted(at_once(2, lambda: telnyx.deliver(body, **headers).json()["status"]))

    assert outcomes == ["applied", "duplicate"]
    assert Fax.objects.filter(carrier_fax_id=carrier_fax_id).count() == 1
    assert FaxEvent.objects.filter(carrier_event_id__isnull=False).count() == 1
