"""Applying carrier events (faxes/services/carrier_events.py), whoever reported them."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from faxes.carrier import encode_client_state
from faxes.events import CarrierEvent
from faxes.models import Fax, FaxStatus
from faxes.services import carrier_events
from tests.concurrency import at_once
from tests.factories import FaxFactory

pytestmark = pytest.mark.django_db


def event(fax: Fax, event_type: str, **fields: object) -> CarrierEvent:
    values: dict = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": timezone.now(),
        "carrier_fax_id": fax.carrier_fax_id,
        "client_state": encode_client_state(fax.id),
        "status": {"fax.delivered": FaxStatus.DELIVERED, "fax.failed": FaxStatus.FAILED}.get(
            event_type
        ),
        "page_count": 3,
        "failure_reason": None,
        "payload": {},
        **fields,
    }
    return CarrierEvent(**values)


def apply(carrier_event: CarrierEvent) -> str:
    return carrier_events.fax_apply_carrier_event(event=carrier_event, source="carrier")


def test_it_finds_the_fax_by_our_id_before_the_carriers_is_stored(account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SUBMITTING)

    outcome = apply(event(fax, "fax.delivered", carrier_fax_id="telnyx-1"))

    fax.refresh_from_db()
    assert outcome == "applied"
    assert (fax.status, fax.carrier_fax_id, fax.pages_delivered) == ("delivered", "telnyx-1", 3)


def test_it_answers_duplicate_for_an_event_seen_before(account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SENDING, carrier_fax_id="telnyx-1")
    delivered = event(fax, "fax.delivered")
    apply(delivered)

    assert apply(delivered) == "duplicate"
    assert fax.events.filter(carrier_event_id=delivered.event_id).count() == 1


def test_it_ignores_an_event_about_no_fax_of_ours(account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SENDING)

    outcome = apply(event(fax, "fax.delivered", carrier_fax_id="x", client_state=None))

    assert outcome == "unknown_fax"
    assert Fax.objects.get(pk=fax.pk).status == FaxStatus.SENDING


def test_a_late_event_never_moves_a_fax_back(account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SENDING, carrier_fax_id="telnyx-1")
    apply(event(fax, "fax.failed", failure_reason="user_busy", page_count=0))

    apply(event(fax, "fax.delivered"))

    fax.refresh_from_db()
    assert (fax.status, fax.failure_reason) == ("failed", "busy")


def test_a_simulator_step_is_applied_as_the_event_telnyx_would_send(account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SENDING, carrier_fax_id="sim-1")
    fax.page_count = 2
    fax.save(update_fields=["page_count"])
    steps = 4  # queued, media processed, sending started, delivered

    for index in range(steps):
        carrier_events.simulator_step_apply(
            carrier_fax_id="sim-1",
            index=index,
            to=fax.to_number,
            from_=fax.from_number,
            client_state=encode_client_state(fax.id),
        )

    fax.refresh_from_db()
    delivered = fax.events.get(type="fax.delivered")
    assert (fax.status, fax.pages_delivered) == ("delivered", 2)
    assert delivered.payload["fax_id"] == "sim-1"
    assert delivered.payload["status"] == "delivered"
    assert delivered.payload["page_count"] == 2


def test_a_delivery_is_one_lookup_one_insert_and_one_update(account) -> None:
    """The event is stored by one INSERT … ON CONFLICT DO NOTHING (no savepoint to catch a
    duplicate's error), and the status change writes the event's bookkeeping in its own UPDATE.
    (Inside the test's transaction the outer block is itself a savepoint.)"""
    fax = FaxFactory(account=account, status=FaxStatus.SENDING, carrier_fax_id="telnyx-1")

    with CaptureQueriesContext(connection) as captured:
        assert apply(event(fax, "fax.delivered")) == "applied"

    sql = [query["sql"] for query in captured.captured_queries]
    assert sum(statement.startswith("SAVEPOINT") for statement in sql) == 1  # the test's own
    assert sum("FOR UPDATE" in statement for statement in sql) == 1
    assert sum(statement.startswith('UPDATE "faxes_fax"') for statement in sql) == 1
    fax.refresh_from_db()
    assert (fax.status, fax.last_event_at is not None) == (FaxStatus.DELIVERED, True)


@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_twice_at_once_is_applied_once(account) -> None:
    """Telnyx may deliver an event twice at the same moment: two requests, two connections. One
    applies it; the other, blocked on the fax's row lock, then finds it stored."""
    fax = FaxFactory(account=account, status=FaxStatus.SENDING, carrier_fax_id="telnyx-1")
    delivered = event(fax, "fax.delivered")

    outcomes = sorted(at_once(2, lambda: apply(delivered)))

    assert outcomes == ["applied", "duplicate"]
    assert fax.events.filter(carrier_event_id=delivered.event_id).count() == 1
    assert fax.events.filter(type="status.delivered").count() == 1
