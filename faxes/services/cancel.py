"""Canceling a fax at the customer's request.

A fax nobody has handed to the carrier yet (scheduled, queued, or claimed by a worker that has
not yet stamped its POST) is canceled at once, by one conditional update that a worker's stamp
cannot also win: a fax canceled here is never sent. A fax with the carrier is canceled there; it
becomes `canceled` when the carrier reports that it stopped it (a failure after the request), or
ends `delivered` if the carrier got there first. A finished fax cannot be canceled.
"""

from __future__ import annotations

import enum

from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, audit_record
from faxes.carrier import CarrierRejected, CarrierUnavailable
from faxes.models import Direction, Fax, FaxStatus
from faxes.services.pipeline import fax_cancel_at_carrier
from faxes.services.status import fax_cancel_unsent, fax_event_record


class CancelOutcome(enum.StrEnum):
    # The fax is canceled and will never be sent.
    CANCELED = "canceled"
    # The carrier has it and accepted (or will be asked, once we know its id) to stop it.
    REQUESTED = "requested"


class FaxNotCancelable(Exception):
    """The fax has finished, or the carrier says it is past canceling. `status` is the fax's
    status as we know it now."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class CancelCarrierUnavailable(Exception):
    """The carrier could not be asked to cancel; nothing changed. Retry after `retry_after`."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("carrier unavailable")
        self.retry_after = retry_after


@transaction.atomic
def fax_cancel(*, fax: Fax, actor: Actor | None = None) -> CancelOutcome:
    """Cancel `fax`, or ask its carrier to, and record in the audit log that `actor` (the
    system if None) did. Raises FaxNotCancelable or CancelCarrierUnavailable (both leave the
    fax as it was, and record nothing).

    For a fax with the carrier, the request is stored and the row stays locked until the
    carrier answered, so that a worker adopting the carrier's id meanwhile waits and then sees
    the request (and passes it on itself).
    """
    if fax.direction == Direction.INBOUND:
        # A received fax is the sender's to stop, not ours.
        raise FaxNotCancelable(fax.public_status)
    if fax_cancel_unsent(fax=fax, source="api"):
        fax.refresh_from_db()
        _audit(fax, CancelOutcome.CANCELED, actor)
        return CancelOutcome.CANCELED
    now = timezone.now()
    requested = Fax.objects.filter(
        pk=fax.pk, status__in=[FaxStatus.SUBMITTING, FaxStatus.SENDING]
    ).update(cancel_requested_at=Coalesce("cancel_requested_at", now), updated_at=now)
    fax.refresh_from_db()
    if not requested:
        raise FaxNotCancelable(fax.public_status)
    if fax.carrier_fax_id:
        try:
            fax_cancel_at_carrier(fax=fax)
        except CarrierRejected:
            raise FaxNotCancelable(fax.public_status) from None
        except CarrierUnavailable as error:
            raise CancelCarrierUnavailable(error.retry_after) from None
    fax_event_record(fax=fax, source="api", type="cancel.requested")
    _audit(fax, CancelOutcome.REQUESTED, actor)
    return CancelOutcome.REQUESTED


def _audit(fax: Fax, outcome: CancelOutcome, actor: Actor | None) -> None:
    # Labelled by its id only: the log never holds phone numbers.
    audit_record(
        action=Action.FAX_CANCELED,
        account_id=fax.account_id,
        actor=actor,
        target_type="fax",
        target_id=fax.id,
        target_label=fax.id,
        details={"outcome": str(outcome), "livemode": fax.livemode},
    )
