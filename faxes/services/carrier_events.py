"""Applying carrier events to faxes, whoever reported them: Telnyx's webhook, the simulator, or
the sweeper's poll. Events come in one shape, `faxes.events.CarrierEvent`."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from faxes.carrier import decode_client_state
from faxes.events import CarrierEvent, failure_for
from faxes.models import Fax, FaxStatus
from faxes.selectors import fax_page_count
from faxes.services.inbound import inbound_fax_apply_carrier_event
from faxes.services.redial import attempt_record, fax_redial_earned, fax_redial_schedule
from faxes.services.status import fax_advance, fax_carrier_event_record, status_reached
from faxes.simulator import canceled_event, simulated_event
from sendfaxmail.lib.sql import select_prepared

logger = logging.getLogger(__name__)


@transaction.atomic
def fax_apply_carrier_event(*, event: CarrierEvent, source: str) -> str:
    """Apply one carrier event: `duplicate`, `unknown_fax` or `applied`.

    Events may come out of order, twice, or before we stored the carrier's id: the fax is found
    by the carrier's id or by our id in client_state, each event is stored once (unique event
    id), and the status only moves forward. Inbound events (a fax received on one of our
    numbers) are applied by `inbound_fax_apply_carrier_event`, which may also answer
    `unknown_number`.
    """
    if event.inbound:
        return inbound_fax_apply_carrier_event(event=event, source=source)
    fax = _fax_of(event)
    if fax is None:
        logger.warning("Carrier event %s for an unknown fax; ignored", event.event_id)
        return "unknown_fax"
    if not fax_carrier_event_record(fax=fax, event=event, source=source):
        return "duplicate"
    if _of_an_earlier_call(fax, event):
        # A late report about a call already finished (the fax was redialed since): history.
        return "applied"
    # Bookkeeping of every event, written with the status change when there is one (one UPDATE
    # of the row, not two).
    updates: dict[str, Any] = {"last_event_at": timezone.now()}
    if not fax.carrier_fax_id and event.carrier_fax_id:
        updates["carrier_fax_id"] = event.carrier_fax_id
        fax.carrier_fax_id = event.carrier_fax_id
    fields: dict[str, Any] = {}
    if event.status == FaxStatus.DELIVERED:
        fields["pages_delivered"] = event.page_count
        fields["attempts"] = _with_attempt(fax, event, status="delivered", reason=None)
    elif event.status == FaxStatus.FAILED and fax.cancel_requested_at is not None:
        # The end the customer asked for: the carrier stops a canceled fax with a failure.
        fields["pages_delivered"] = event.page_count
        _advance(fax, FaxStatus.CANCELED, source=source, updates=updates, fields=fields)
        return "applied"
    elif event.status == FaxStatus.FAILED:
        # A redial matches the call by the carrier's id: store it first.
        Fax.objects.filter(pk=fax.pk).update(**updates)
        updates = {}
        code, message = failure_for(event.failure_reason)
        attempt = attempt_record(
            fax=fax, status="failed", failure_reason=code, pages_delivered=event.page_count
        )
        if fax_redial_earned(fax=fax, failure_reason=code) and fax_redial_schedule(
            fax=fax, attempt=attempt, source=source
        ):
            return "applied"
        fields["failure_reason"], fields["failure_message"] = code, message
        fields["pages_delivered"] = event.page_count
        fields["attempts"] = [*fax.attempts, attempt]
    if event.status is not None:
        _advance(fax, event.status, source=source, updates=updates, fields=fields)
    else:
        Fax.objects.filter(pk=fax.pk).update(**updates)
    return "applied"


def _advance(
    fax: Fax, status: FaxStatus, *, source: str, updates: dict[str, Any], fields: dict[str, Any]
) -> None:
    """The status change with the event's bookkeeping (`updates`) in its UPDATE; the
    bookkeeping alone when the status does not move (a late or repeated report). The fax is
    locked (`_fax_of`), so its status as read says whether it can move."""
    moved = not status_reached(fax.status, status) and fax_advance(
        fax=fax, status=status, source=source, **updates, **fields
    )
    if not moved and updates:
        Fax.objects.filter(pk=fax.pk).update(**updates)


def _fax_of(event: CarrierEvent) -> Fax | None:
    """The event's fax, locked: the one with the carrier's id, else the one whose id the event's
    client_state carries (an event that came before the carrier's id was stored). One prepared
    query."""
    conditions, params = [], []
    if event.carrier_fax_id:
        conditions.append("carrier_fax_id = %s")
        params.append(event.carrier_fax_id)
    our_id = decode_client_state(event.client_state)
    if our_id:
        conditions.append("id = %s")
        params.append(our_id)
    if not conditions:
        return None
    faxes = select_prepared(Fax, " OR ".join(conditions), params, lock=True)
    by_carrier = [
        fax for fax in faxes if event.carrier_fax_id and fax.carrier_fax_id == event.carrier_fax_id
    ]
    return (by_carrier or faxes or [None])[0]


def _of_an_earlier_call(fax: Fax, event: CarrierEvent) -> bool:
    earlier = {attempt.get("carrier_fax_id") for attempt in fax.attempts}
    return bool(event.carrier_fax_id) and event.carrier_fax_id in earlier


def _with_attempt(
    fax: Fax, event: CarrierEvent, *, status: str, reason: str | None
) -> list[dict[str, Any]]:
    attempt = attempt_record(
        fax=fax, status=status, failure_reason=reason, pages_delivered=event.page_count
    )
    return [*fax.attempts, attempt]


def simulator_step_apply(
    *, carrier_fax_id: str, index: int, to: str, from_: str, client_state: str, call: int = 1
) -> str:
    """Apply step `index` of the script of a simulated fax's `call`-th call, as a Telnyx
    webhook would be applied. A step run twice is a duplicate (its event id is derived from
    the carrier's fax and the step)."""
    page_count = fax_page_count(fax_id=decode_client_state(client_state))
    event = simulated_event(
        carrier_fax_id=carrier_fax_id,
        index=index,
        to=to,
        from_=from_,
        client_state=client_state,
        page_count=page_count,
        call=call,
    )
    return fax_apply_carrier_event(event=event, source="simulator")


def simulator_cancel_apply(*, carrier_fax_id: str, to: str, from_: str, client_state: str) -> str:
    """Report that the simulator stopped a fax it was asked to cancel, as Telnyx would."""
    event = canceled_event(
        carrier_fax_id=carrier_fax_id, to=to, from_=from_, client_state=client_state
    )
    return fax_apply_carrier_event(event=event, source="simulator")
