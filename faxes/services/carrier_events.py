"""Applying carrier events to faxes, whoever reported them: Telnyx's webhook, the simulator, or
the sweeper's poll. Events come in one shape, `faxes.events.CarrierEvent`."""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from faxes.carrier import decode_client_state
from faxes.events import CarrierEvent, failure_for
from faxes.models import Fax, FaxEvent, FaxStatus
from faxes.selectors import fax_page_count
from faxes.services.inbound import inbound_fax_apply_carrier_event
from faxes.services.redial import attempt_record, fax_redial_earned, fax_redial_schedule
from faxes.services.status import fax_advance
from faxes.simulator import canceled_event, simulated_event

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
    fax = None
    if event.carrier_fax_id:
        fax = Fax.objects.select_for_update().filter(carrier_fax_id=event.carrier_fax_id).first()
    our_id = decode_client_state(event.client_state)
    if fax is None and our_id:
        fax = Fax.objects.select_for_update().filter(pk=our_id).first()
    if fax is None:
        logger.warning("Carrier event %s for an unknown fax; ignored", event.event_id)
        return "unknown_fax"
    try:
        with transaction.atomic():
            FaxEvent.objects.create(
                fax=fax,
                source=source,
                type=event.event_type,
                carrier_event_id=event.event_id,
                occurred_at=event.occurred_at,
                payload=event.payload,
            )
    except IntegrityError:
        return "duplicate"
    if _of_an_earlier_call(fax, event):
        # A late report about a call already finished (the fax was redialed since): history.
        return "applied"
    updates: dict[str, Any] = {"last_event_at": timezone.now()}
    if not fax.carrier_fax_id and event.carrier_fax_id:
        updates["carrier_fax_id"] = event.carrier_fax_id
        fax.carrier_fax_id = event.carrier_fax_id
    Fax.objects.filter(pk=fax.pk).update(**updates)
    fields: dict[str, Any] = {}
    if event.status == FaxStatus.DELIVERED:
        fields["pages_delivered"] = event.page_count
        fields["attempts"] = _with_attempt(fax, event, status="delivered", reason=None)
    elif event.status == FaxStatus.FAILED and fax.cancel_requested_at is not None:
        # The end the customer asked for: the carrier stops a canceled fax with a failure.
        fields["pages_delivered"] = event.page_count
        fax_advance(fax=fax, status=FaxStatus.CANCELED, source=source, **fields)
        return "applied"
    elif event.status == FaxStatus.FAILED:
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
        fax_advance(fax=fax, status=event.status, source=source, **fields)
    return "applied"


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
