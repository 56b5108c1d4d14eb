"""The sweeper (a periodic task): restart faxes whose step's task was lost, fail those that
never finish, and ask the carrier about faxes it has gone silent on."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from faxes.carrier import CarrierFax, CarrierRejected, CarrierUnavailable
from faxes.events import CarrierEvent
from faxes.models import Fax, FaxStatus
from faxes.services.carrier_events import fax_apply_carrier_event
from faxes.services.pipeline import carrier_for, pipeline_step_send
from faxes.services.status import fax_fail

logger = logging.getLogger(__name__)

# A step's task is overdue this long after it was sent: more than any pipeline task's hard time
# limit (120 s) plus a busy queue's wait. Each restart doubles the wait, up to the maximum; after
# MAX_PIPELINE_RESTARTS the fax fails (restarts at 5, 15, 35, 65 and 95 minutes, failure at 125).
RESTART_AFTER = timedelta(minutes=5)
RESTART_AFTER_MAX = timedelta(minutes=30)
MAX_PIPELINE_RESTARTS = 5
POLL_AFTER = timedelta(minutes=10)
SWEEP_BATCH = 500


@dataclass(frozen=True)
class SweepOutcome:
    """What one sweep did: (fax id, step) sent again, and the ids of faxes failed for good."""

    restarted: list[tuple[str, str]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def restart_wait(restarts: int) -> timedelta:
    """How long after its last sending a step restarted `restarts` times is overdue."""
    return min(RESTART_AFTER * 2**restarts, RESTART_AFTER_MAX)


def _overdue(now: datetime) -> Q:
    """Faxes whose step's task was never sent (the broker refused it), or is overdue."""
    overdue = Q(enqueued_at__isnull=True)
    for restarts in range(MAX_PIPELINE_RESTARTS):
        overdue |= Q(pipeline_restarts=restarts, enqueued_at__lt=now - restart_wait(restarts))
    return overdue | Q(
        pipeline_restarts__gte=MAX_PIPELINE_RESTARTS,
        enqueued_at__lt=now - restart_wait(MAX_PIPELINE_RESTARTS),
    )


def _waiting_for_a_step() -> Q:
    """Faxes that a task is due to move on: queued or submitting ones, and scheduled ones whose
    document is still to be fetched (or copied). A scheduled fax with its document waits for its
    `send_at`, not for a task: its release (`faxes_release_scheduled`) moves it on, so it is
    never stalled."""
    return Q(status__in=[FaxStatus.QUEUED, FaxStatus.SUBMITTING]) | Q(
        status=FaxStatus.SCHEDULED, document=""
    )


def faxes_restart_stalled() -> SweepOutcome:
    """Send again the task of faxes whose step is overdue (its task lost with a worker, the
    broker down, a queue stalled), each at most once per wait; fail those out of restarts.

    A fax counts as stalled while it is queued or submitting (or scheduled with its document
    still to fetch), no worker holds an unexpired lease on it, and its `enqueued_at` is
    overdue. Each restart is a conditional update of that stamp, so two sweeps never restart a
    fax twice.
    """
    now = timezone.now()
    unleased = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    stalled = Fax.objects.filter(unleased, _overdue(now), _waiting_for_a_step()).order_by(
        F("enqueued_at").asc(nulls_first=True)
    )
    outcome = SweepOutcome()
    rows = stalled.values_list("id", "status", "document", "enqueued_at", "pipeline_restarts")
    for fax_id, status, document, enqueued_at, restarts in rows[:SWEEP_BATCH]:
        step = "submit" if document or status == FaxStatus.SUBMITTING else "fetch"
        seen = {
            "pk": fax_id,
            "status": status,
            "enqueued_at": enqueued_at,
            "pipeline_restarts": restarts,
        }
        if enqueued_at is not None and restarts >= MAX_PIPELINE_RESTARTS:
            if _fail_stalled(seen, step=step, now=now):
                outcome.failed.append(fax_id)
            continue
        # A task the broker refused was never sent: sending it is not a restart.
        counted = restarts + (enqueued_at is not None)
        if Fax.objects.filter(**seen).update(enqueued_at=now, pipeline_restarts=counted):
            undo = {"enqueued_at": enqueued_at, "pipeline_restarts": restarts}
            pipeline_step_send(fax_id, step, stamp=now, undo=undo)
            outcome.restarted.append((fax_id, step))
    return outcome


# Why a fax whose step never finished failed, by step: (failure_reason, what did not happen).
STALLED_FAILURES = {
    "fetch": ("document_fetch_failed", "The document could not be fetched in time"),
    "submit": ("carrier_error", "The fax could not be handed to the carrier in time"),
}


@transaction.atomic
def _fail_stalled(seen: dict[str, Any], *, step: str, now: datetime) -> bool:
    """Fail the fax matching `seen` (unchanged since the sweep read it): its step's task was sent
    1 + MAX_PIPELINE_RESTARTS times and never finished."""
    fax = Fax.objects.select_for_update().filter(**seen).first()
    if fax is None:
        return False
    reason, what = STALLED_FAILURES[step]
    minutes = (now - fax.created_at) // timedelta(minutes=1)
    message = f"{what}: {MAX_PIPELINE_RESTARTS + 1} attempts over {minutes} minutes did not finish."
    if fax.submitted_at is not None and not fax.carrier_fax_id:
        message += (
            " The last attempt may have reached the carrier: check with the recipient before"
            " sending the fax again."
        )
    else:
        message += " Send the fax again."
    return fax_fail(fax=fax, reason=reason, message=message)


def faxes_poll_silent() -> int:
    """Ask the carrier about faxes `sending` with no event for a while, so that a lost webhook
    never leaves a fax hanging. Returns how many were asked about."""
    now = timezone.now()
    silent = Fax.objects.filter(
        status=FaxStatus.SENDING, carrier_fax_id__isnull=False, updated_at__lt=now - POLL_AFTER
    ).filter(Q(last_event_at__isnull=True) | Q(last_event_at__lt=now - POLL_AFTER))
    asked = 0
    for fax in silent[:SWEEP_BATCH]:
        asked += 1
        try:
            report = carrier_for(fax).get_fax(fax.carrier_fax_id)
        except (CarrierUnavailable, CarrierRejected) as error:
            logger.warning("Fax %s: carrier status unavailable (%s)", fax.id, error.message)
            report = None
        Fax.objects.filter(pk=fax.pk).update(last_event_at=now)
        if report is not None and report.status in ("delivered", "failed"):
            fax_apply_carrier_event(event=_polled_event(report), source="poll")
    return asked


def _polled_event(report: CarrierFax) -> CarrierEvent:
    """A carrier fax object read by polling, in the shape of the event we missed."""
    return CarrierEvent(
        event_id=f"poll-{report.id}-{report.status}"[:64],
        event_type=f"fax.{report.status}",
        occurred_at=timezone.now(),
        carrier_fax_id=report.id,
        client_state=report.client_state,
        status=FaxStatus(report.status),
        page_count=report.page_count,
        failure_reason=report.failure_reason,
        payload={"polled": True, "status": report.status},
    )
