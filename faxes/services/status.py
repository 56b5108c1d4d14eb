"""Moving a fax's status forward, never back, with its history and its customer event.

Every stage (intake aside) ends a step by calling `fax_advance` or `fax_fail`: a conditional
update that only moves forward, the history row, and the customer's webhook event, all in one
transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from developers.services.webhook_deliveries import webhook_event_emit
from faxes import metrics as fax_metrics
from faxes.events import CarrierEvent
from faxes.models import TERMINAL_STATUSES, Fax, FaxEvent, FaxStatus
from faxes.serializers import fax_public
from sendfaxmail.lib.events import FAX_STATUS_EVENTS
from sendfaxmail.lib.sql import (
    insert_row,
    insert_unless_duplicate,
    refresh_from,
    update_returning,
)

logger = logging.getLogger(__name__)

STATUS_RANK = {
    FaxStatus.SCHEDULED: 0,
    FaxStatus.QUEUED: 1,
    FaxStatus.SUBMITTING: 2,
    FaxStatus.SENDING: 3,
    FaxStatus.RECEIVING: 3,
    FaxStatus.DELIVERED: 4,
    FaxStatus.RECEIVED: 4,
    FaxStatus.FAILED: 4,
    FaxStatus.CANCELED: 4,
}


def _earlier_statuses(target: FaxStatus) -> list[FaxStatus]:
    return [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[target]]


def status_reached(current: str, target: FaxStatus) -> bool:
    """Whether a fax in `current` is at `target` or further: `fax_advance` to it would not move
    the fax."""
    return current not in _earlier_statuses(target)


def fax_event_record(
    *, fax: Fax, source: str, type: str, payload: dict[str, Any] | None = None
) -> None:
    """Add a line to the fax's history (one prepared INSERT; nothing is read back)."""
    insert_row(
        FaxEvent(
            fax=fax, source=source, type=type, occurred_at=timezone.now(), payload=payload or {}
        )
    )


def fax_carrier_event_record(*, fax: Fax, event: CarrierEvent, source: str) -> bool:
    """Add a carrier's event to the fax's history once: False, and nothing written, when its id
    is stored already (an earlier or a concurrent delivery of the same event). One statement
    (INSERT … ON CONFLICT DO NOTHING), not a savepoint catching IntegrityError."""
    recorded = FaxEvent(
        fax=fax,
        source=source,
        type=event.event_type,
        carrier_event_id=event.event_id,
        occurred_at=event.occurred_at,
        payload=event.payload,
    )
    return insert_unless_duplicate(recorded, unique="carrier_event_id")


# The status changes join their caller's transaction without a savepoint: nothing catches their
# errors to go on, and a savepoint cost two more round trips each, several per fax.
@transaction.atomic(savepoint=False)
def fax_advance(
    *, fax: Fax, status: FaxStatus, source: str, only_if: Q | None = None, **fields: Any
) -> bool:
    """Move `fax` forward to `status`, never back, with `fields`, if the row also matches
    `only_if`, and give the caller's `fax` the row as it is now. False if it was already there
    or further (a late or duplicate report), or does not match; the caller's row is then left
    as it was."""
    now = timezone.now()
    if status in TERMINAL_STATUSES:
        fields.setdefault("completed_at", now)
    rows = Fax.objects.filter(pk=fax.pk, status__in=_earlier_statuses(status))
    if only_if is not None:
        rows = rows.filter(only_if)
    changed = update_returning(rows, status=status, updated_at=now, **fields)
    if not changed:
        return False
    # The row as it is now, which the customer's event carries: other fields may have changed
    # since the caller read it (a cancel requested, an attempt stamped).
    refresh_from(fax, changed[0])
    fax_event_record(fax=fax, source=source, type=f"status.{status}", payload={"status": status})
    _status_changed(fax)
    return True


def _status_changed(fax: Fax) -> None:
    """What follows a status change, inside its transaction: the customer's webhook event (an
    outbox row, so a rollback takes it back), carrying the fax as GET /v1/faxes/{id} shows it."""
    logger.info("Fax %s is now %s", fax.id, fax.status)
    fax_metrics.fax_status_changed(fax)
    event_type = FAX_STATUS_EVENTS.get(fax.status)
    if event_type is not None:
        fax_customer_event_emit(fax=fax, type=event_type)


def fax_customer_event_emit(*, fax: Fax, type: str) -> None:
    """The customer's webhook event `type` about the fax as GET /v1/faxes/{id} shows it, in the
    caller's transaction (an outbox row). `fax` is the row as the caller's update left it
    (`update_returning`): the update's lock keeps it so until the transaction ends."""
    webhook_event_emit(
        account_id=fax.account_id,
        livemode=fax.livemode,
        type=type,
        object_id=fax.id,
        data={"object": fax_public(fax)},
    )


@transaction.atomic(savepoint=False)
def fax_fail(*, fax: Fax, reason: str, message: str, source: str = "pipeline") -> bool:
    """Fail the fax (unless it has finished already) with our `reason` code and a `message`
    for the customer; any submission lease is dropped."""
    return fax_advance(
        fax=fax,
        status=FaxStatus.FAILED,
        source=source,
        failure_reason=reason,
        failure_message=message,
        submit_token="",
        lease_expires_at=None,
    )


# A fax nobody has handed to the carrier yet: scheduled, queued, or claimed by a worker that has
# not yet stamped its POST (`_upload_and_send` stamps `submitted_at` only while the fax is
# submitting).
NOT_WITH_THE_CARRIER = Q(status__in=[FaxStatus.SCHEDULED, FaxStatus.QUEUED]) | Q(
    status=FaxStatus.SUBMITTING, submitted_at__isnull=True
)


@transaction.atomic(savepoint=False)
def fax_cancel_unsent(*, fax: Fax, source: str, requested: bool = False) -> bool:
    """Cancel the fax if it is not with the carrier (NOT_WITH_THE_CARRIER); with `requested`,
    only if the customer asked for it earlier (a worker finding a cancel it must honour).

    One conditional update: a worker's stamp of its POST and this cannot both succeed.
    """
    condition = NOT_WITH_THE_CARRIER
    if requested:
        condition &= Q(cancel_requested_at__isnull=False)
    return fax_advance(
        fax=fax,
        status=FaxStatus.CANCELED,
        source=source,
        only_if=condition,
        submit_token="",
        lease_expires_at=None,
    )
