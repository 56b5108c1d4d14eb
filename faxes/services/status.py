"""Moving a fax's status forward, never back, with its history and its customer event.

Every stage (intake aside) ends a step by calling `fax_advance` or `fax_fail`: a conditional
update that only moves forward, the history row, and the customer's webhook event, all in one
transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from developers.services.webhook_deliveries import webhook_event_emit
from faxes.models import TERMINAL_STATUSES, Fax, FaxEvent, FaxStatus
from faxes.selectors import fax_with_account
from faxes.serializers import fax_public
from sendfaxmail.lib.events import FAX_STATUS_EVENTS

logger = logging.getLogger(__name__)

STATUS_RANK = {
    FaxStatus.QUEUED: 0,
    FaxStatus.SUBMITTING: 1,
    FaxStatus.SENDING: 2,
    FaxStatus.RECEIVING: 2,
    FaxStatus.DELIVERED: 3,
    FaxStatus.RECEIVED: 3,
    FaxStatus.FAILED: 3,
    FaxStatus.CANCELED: 3,
}


def _earlier_statuses(target: FaxStatus) -> list[FaxStatus]:
    return [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[target]]


def fax_event_record(
    *, fax: Fax, source: str, type: str, payload: dict[str, Any] | None = None
) -> None:
    """Add a line to the fax's history."""
    FaxEvent.objects.create(
        fax=fax, source=source, type=type, occurred_at=timezone.now(), payload=payload or {}
    )


@transaction.atomic
def fax_advance(*, fax: Fax, status: FaxStatus, source: str, **fields: Any) -> bool:
    """Move `fax` forward to `status`, never back, with `fields`. False if it was already there
    or further (a late or duplicate report); the caller's row is then left as it was."""
    now = timezone.now()
    if status in TERMINAL_STATUSES:
        fields.setdefault("completed_at", now)
    changed = Fax.objects.filter(pk=fax.pk, status__in=_earlier_statuses(status)).update(
        status=status, updated_at=now, **fields
    )
    if not changed:
        return False
    for name, value in {"status": status, "updated_at": now, **fields}.items():
        setattr(fax, name, value)
    fax_event_record(fax=fax, source=source, type=f"status.{status}", payload={"status": status})
    _status_changed(fax)
    return True


def _status_changed(fax: Fax) -> None:
    """What follows a status change, inside its transaction: the customer's webhook event (an
    outbox row, so a rollback takes it back), carrying the fax as GET /v1/faxes/{id} shows it."""
    logger.info("Fax %s is now %s", fax.id, fax.status)
    event_type = FAX_STATUS_EVENTS.get(fax.status)
    if event_type is None:
        return
    current = fax_with_account(fax_id=fax.pk)
    webhook_event_emit(
        account=current.account,
        livemode=current.livemode,
        type=event_type,
        object_id=current.id,
        data={"object": fax_public(current)},
    )


@transaction.atomic
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
