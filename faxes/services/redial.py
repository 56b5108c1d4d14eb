"""Automatic redial: a call that met a busy line, no answer or a broken transmission is tried
again `retry_interval_seconds` later, up to `retry_attempts` more calls.

Between calls the fax is `queued` with `next_attempt_at`: a database row that the sweeper's
periodic task claims when it is due (`faxes_redial_due`), never a broker ETA, so that a redial
hours away survives restarts and fires once however many sweepers run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from faxes.models import Fax, FaxStatus
from faxes.services.pipeline import pipeline_step_send
from faxes.services.status import fax_customer_event_emit, fax_event_record
from sendfaxmail.lib.events import FAX_RETRY_SCHEDULED
from sendfaxmail.lib.sql import refresh_from, update_returning

# Our failure codes worth another call; a wrong number, a document the carrier refused or a
# rejection would fail the same way again.
RETRYABLE_FAILURES = frozenset({"busy", "no_answer", "transmission_error"})


def attempt_record(
    *, fax: Fax, status: str, failure_reason: str | None, pages_delivered: int | None
) -> dict[str, Any]:
    """The call the carrier just finished for `fax`, as `Fax.attempts` keeps it."""
    return {
        "number": len(fax.attempts) + 1,
        "started_at": _iso(fax.submitted_at),
        "completed_at": _iso(timezone.now()),
        "status": status,
        "failure_reason": failure_reason,
        "pages_delivered": pages_delivered,
        "carrier_fax_id": fax.carrier_fax_id,
    }


def _iso(moment: datetime | None) -> str | None:
    """As the API shows every time: ISO 8601 in UTC with `Z`, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def fax_redial_earned(*, fax: Fax, failure_reason: str) -> bool:
    """Whether a call that failed with our `failure_reason` earns the fax another call."""
    return (
        failure_reason in RETRYABLE_FAILURES
        and len(fax.attempts) < fax.retry_attempts
        and fax.cancel_requested_at is None
    )


@transaction.atomic(savepoint=False)  # as fax_advance
def fax_redial_schedule(*, fax: Fax, attempt: dict[str, Any], source: str) -> bool:
    """Queue the fax for its next call, `retry_interval_seconds` from now, recording the call
    that failed. Only from `sending` with the carrier's id of that call stored; False (nothing
    changed) otherwise. The customer gets `fax.retry_scheduled`."""
    now = timezone.now()
    due = now + timedelta(seconds=fax.retry_interval_seconds)
    attempts = [*fax.attempts, attempt]
    rows = Fax.objects.filter(
        pk=fax.pk,
        status=FaxStatus.SENDING,
        carrier_fax_id=attempt["carrier_fax_id"],
        cancel_requested_at__isnull=True,
    )
    changed = update_returning(
        rows,
        status=FaxStatus.QUEUED,
        attempts=attempts,
        next_attempt_at=due,
        # The sweeper's restart of stalled faxes waits for this too.
        enqueued_at=due,
        pipeline_restarts=0,
        carrier_fax_id=None,
        submitted_at=None,
        submit_token="",
        lease_expires_at=None,
        updated_at=now,
    )
    if not changed:
        return False
    refresh_from(fax, changed[0])
    fax_event_record(
        fax=fax,
        source=source,
        type="retry.scheduled",
        payload={"attempt": attempt["number"] + 1, "next_attempt_at": due.isoformat()},
    )
    fax_customer_event_emit(fax=fax, type=FAX_RETRY_SCHEDULED)
    return True


def faxes_redial_due(*, now: datetime | None = None) -> list[str]:
    """Send the submission of every fax whose next call is due; each claimed by a conditional
    update of its `next_attempt_at`, so that two sweeps never send one twice. Returns their
    ids."""
    now = now or timezone.now()
    due = Fax.objects.filter(status=FaxStatus.QUEUED, next_attempt_at__lte=now)
    sent = []
    for fax_id, at in due.values_list("id", "next_attempt_at")[:500]:
        claimed = Fax.objects.filter(pk=fax_id, status=FaxStatus.QUEUED, next_attempt_at=at).update(
            next_attempt_at=None, enqueued_at=now
        )
        if claimed:
            pipeline_step_send(fax_id, "submit", stamp=now, undo={"enqueued_at": None})
            sent.append(fax_id)
    return sent
