"""Celery tasks for the fax pipeline: thin wrappers that take ids and call services.

Every task may run twice (late acks, a worker lost mid-task, the sweeper re-enqueueing); the
services' conditional updates make that harmless. Tasks are named `<what they run>_task`, so
that no task shares a name with the service it calls.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.db import OperationalError

from faxes.services import (
    carrier_events,
    documents,
    fax_email,
    inbound,
    intake,
    pipeline,
    redial,
    schedule,
    sweeper,
)

logger = logging.getLogger(__name__)

SUBMIT_MAX_RETRIES = 8
# backoff() over 7 retries sums to about 10 minutes (jitter aside): the life of Telnyx's link.
MEDIA_MAX_RETRIES = 7
EMAIL_MAX_RETRIES = 8
# Seconds between two releases of scheduled faxes: a fax leaves at most this long (plus the
# queues' wait) after its `send_at`. One indexed query finds none most of the time.
RELEASE_PERIOD = 5.0


def backoff(retries: int, *, at_least: float | None = None) -> float:
    """5 s, 10 s, 20 s … capped at 5 minutes, with ±50% jitter; never less than `at_least`."""
    delay = min(300.0, 5.0 * 2**retries) * random.uniform(0.5, 1.5)  # noqa: S311 - jitter
    return max(delay, at_least or 0.0)


@shared_task(bind=True, acks_late=True, ignore_result=True, time_limit=90, soft_time_limit=75)
def fax_fetch_task(self, fax_id: str) -> None:  # noqa: ANN001
    """Fetch a URL document (queue `fetch`); the service hands the fax to submission. The soft
    time limit fails the fax; a library call stuck past the hard limit is killed, and the
    sweeper restarts the fetch until it runs out of restarts."""
    pipeline.fax_fetch_document(fax_id=fax_id)


@shared_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    time_limit=120,
    soft_time_limit=100,
    max_retries=SUBMIT_MAX_RETRIES,
)
def fax_submit_task(self, fax_id: str, token: str = "") -> None:  # noqa: ANN001
    """Submit the fax to the carrier (queue `carrier`), retrying transient failures."""
    try:
        pipeline.fax_submit_to_carrier(fax_id=fax_id, token=token)
    except pipeline.RetryLater as later:
        if self.request.retries >= self.max_retries:
            pipeline.fax_give_up(fax_id=fax_id, reason=str(later))
            return
        countdown = backoff(self.request.retries, at_least=later.countdown)
        logger.warning("Fax %s: %s; retrying in %.0f s", fax_id, later, countdown)
        pipeline.fax_retry_scheduled(fax_id=fax_id, countdown=countdown)
        raise self.retry(
            args=[fax_id], kwargs={"token": later.token}, countdown=countdown
        ) from None


@shared_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    time_limit=90,
    soft_time_limit=75,
    max_retries=MEDIA_MAX_RETRIES,
)
def inbound_media_fetch_task(self, fax_id: str) -> None:  # noqa: ANN001
    """Fetch a received fax's pages from the carrier (queue `fetch`), retrying with backoff for
    about 10 minutes; then the fax fails with `media_unavailable`."""
    try:
        inbound.inbound_media_fetch(fax_id=fax_id)
    except inbound.MediaRetryLater as later:
        if self.request.retries >= self.max_retries:
            inbound.inbound_media_give_up(fax_id=fax_id)
            return
        countdown = backoff(self.request.retries)
        logger.warning("Fax %s media: %s; retrying in %.0f s", fax_id, later, countdown)
        raise self.retry(args=[fax_id], countdown=countdown) from None


@shared_task(
    bind=True, acks_late=True, ignore_result=True, time_limit=60, max_retries=EMAIL_MAX_RETRIES
)
def fax_email_send_task(self, email_id: int) -> None:  # noqa: ANN001
    """Email a received fax to one recipient, retrying SMTP failures with backoff."""
    try:
        fax_email.fax_email_send(email_id=email_id)
    except fax_email.EmailRetryLater as later:
        if self.request.retries >= self.max_retries:
            fax_email.fax_email_give_up(email_id=email_id, error=str(later))
            return
        raise self.retry(args=[email_id], countdown=backoff(self.request.retries)) from None


@shared_task(
    acks_late=True,
    ignore_result=True,
    time_limit=30,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def simulator_step_task(
    *, carrier_fax_id: str, index: int, to: str, from_: str, client_state: str, call: int = 1
) -> None:
    """One step of a simulated fax's `call`-th call, applied like a Telnyx webhook (queue
    `events`)."""
    carrier_events.simulator_step_apply(
        carrier_fax_id=carrier_fax_id,
        index=index,
        to=to,
        from_=from_,
        client_state=client_state,
        call=call,
    )


@shared_task(
    acks_late=True,
    ignore_result=True,
    time_limit=30,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def simulator_cancel_task(*, carrier_fax_id: str, to: str, from_: str, client_state: str) -> None:
    """The end of a simulated fax that was canceled, applied like a Telnyx webhook."""
    carrier_events.simulator_cancel_apply(
        carrier_fax_id=carrier_fax_id, to=to, from_=from_, client_state=client_state
    )


@shared_task(ignore_result=True, time_limit=300)
def faxes_sweep_task() -> None:
    """Periodic: restart faxes whose task is overdue (failing those out of restarts); ask the
    carrier about silent ones; fetch received faxes whose media task was lost; send the faxes
    whose redial is due."""
    outcome = sweeper.faxes_restart_stalled()
    if outcome.restarted or outcome.failed:
        logger.warning(
            "Sweep: restarted %d faxes, failed %d out of restarts",
            len(outcome.restarted),
            len(outcome.failed),
        )
    sweeper.faxes_poll_silent()
    resent, failed = inbound.inbound_faxes_sweep()
    if resent or failed:
        logger.warning("Sweep: resent %d received faxes' media tasks, failed %d", resent, failed)
    redialed = redial.faxes_redial_due()
    if redialed:
        logger.info("Sweep: %d faxes redialed", len(redialed))


@shared_task(ignore_result=True, time_limit=60, expires=RELEASE_PERIOD)
def faxes_release_scheduled_task() -> None:
    """Periodic (every RELEASE_PERIOD seconds): queue the scheduled faxes whose `send_at` has
    come. A run that waited longer than a period in the queue is dropped (`expires`): the next
    one releases the same faxes."""
    released = schedule.faxes_release_scheduled()
    if released:
        logger.info("Released %d scheduled faxes", len(released))


@shared_task(ignore_result=True)
def idempotency_keys_purge_task() -> None:
    deleted = intake.idempotency_keys_purge()
    logger.info("Purged %d idempotency keys older than 24 hours.", deleted)


@shared_task(ignore_result=True, time_limit=300, soft_time_limit=240)
def documents_purge_task() -> None:
    """Periodic (each minute): delete documents past their account's retention, in batches."""
    purged = documents.documents_purge_due()
    if purged:
        logger.info("Retention: purged %d documents.", purged)
