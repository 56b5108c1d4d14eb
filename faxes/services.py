"""Every write to faxes: creating them (with Idempotency-Key), and moving their status."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Account
from developers.models import ApiKey
from developers.services import webhook_event_emit
from faxes import metrics as fax_metrics
from faxes.carrier import (
    CarrierError,
    CarrierFax,
    CarrierOutcomeUnknown,
    CarrierRejected,
    CarrierUnavailable,
    TelnyxClient,
    decode_client_state,
    encode_client_state,
)
from faxes.documents import DocumentError, PreparedDocument, prepare_document
from faxes.events import CarrierEvent, failure_for
from faxes.models import TERMINAL_STATUSES, DocumentSource, Fax, FaxEvent, FaxStatus, IdempotencyKey
from faxes.serializers import FaxSerializer
from faxes.simulator import SimulatorCarrier
from sendfaxmail.lib.fetch import FetchError, fetch
from sendfaxmail.lib.ids import make_id

logger = logging.getLogger(__name__)

IDEMPOTENCY_TTL = timedelta(hours=24)
# How long a request waits for another request holding the same Idempotency-Key before it is
# told to retry (409). The holder's transaction only stores rows and a file, so this is short.
IDEMPOTENCY_WAIT = "500ms"


@dataclass(frozen=True)
class FaxRequest:
    """A validated send request."""

    to: str
    from_number: str
    document: PreparedDocument | None
    document_url: str | None
    client_reference: str | None


@dataclass(frozen=True)
class SendOutcome:
    """What POST /v1/faxes answers. `replayed` when an earlier request with the key answered."""

    status: int
    body: dict[str, Any]
    fax_id: str | None
    replayed: bool = False


class IdempotencyConflict(Exception):
    """The key was used with a different request (`reused`) or its first request still runs."""

    def __init__(self, *, in_progress: bool) -> None:
        super().__init__("in progress" if in_progress else "reused")
        self.in_progress = in_progress


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    """Hash of the method, path and canonical JSON body (key order does not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


# The pipeline's steps and their tasks, reached through Celery by name: the task module imports
# this one.
PIPELINE_TASKS = {"fetch": "faxes.tasks.fax_fetch", "submit": "faxes.tasks.fax_submit"}


def _send_step(fax_id: str, step: str, *, stamp: datetime, undo: dict[str, Any]) -> None:
    """Send the task for the fax's `step`, whose sending was stamped `enqueued_at=stamp`.

    If the broker refuses it, the stamp is undone (`undo`), so that the sweeper sends the task
    at its next run without counting a restart.
    """
    try:
        current_app.send_task(PIPELINE_TASKS[step], args=[fax_id])
    except Exception:
        Fax.objects.filter(pk=fax_id, enqueued_at=stamp).update(**undo)
        raise


def fax_create(
    *, account: Account, api_key: ApiKey | None, livemode: bool, request: FaxRequest
) -> Fax:
    """Store an accepted fax and its document; processing starts once the transaction commits.

    Inside a caller's transaction, the caller deletes `fax.document` if that transaction fails
    (`_documents_removed_on_failure`); a failure here removes it already.
    """
    fax = Fax(
        account=account,
        api_key=api_key,
        livemode=livemode,
        to_number=request.to,
        from_number=request.from_number,
        client_reference=request.client_reference,
        enqueued_at=timezone.now(),
    )
    if request.document is not None:
        fax.document_source = DocumentSource.INLINE
        fax.document_content_type = request.document.content_type
        fax.document_size_bytes = request.document.size_bytes
        fax.document_sha256 = request.document.sha256
        fax.page_count = request.document.page_count
        fax.document.save(f"{fax.id}.pdf", ContentFile(request.document.pdf), save=False)
    else:
        fax.document_source = DocumentSource.URL
        fax.document_url = request.document_url or ""
    try:
        # No savepoint: callers run this inside their own transaction, which a failure here
        # rolls back whole; a savepoint cost two round trips to PostgreSQL per send.
        with transaction.atomic(savepoint=False):
            fax.save(force_insert=True)
            FaxEvent.objects.create(
                fax=fax, source="api", type="fax.created", occurred_at=fax.created_at
            )
    except Exception:
        if fax.document:
            fax.document.delete(save=False)
        raise
    # Robust: the fax is stored whatever the broker says; if it is down, the sweeper starts the
    # fax at its next run. The client must not get a 500 (and retry) for a fax already accepted.
    transaction.on_commit(lambda: _enqueue_processing(fax), robust=True)
    return fax


def _enqueue_processing(fax: Fax) -> None:
    """Start the pipeline: a URL document is fetched first (on its own queue), an inline one goes
    straight to submission."""
    step = "fetch" if fax.document_source == DocumentSource.URL else "submit"
    _send_step(fax.id, step, stamp=fax.enqueued_at, undo={"enqueued_at": None})


@contextmanager
def _documents_removed_on_failure() -> Iterator[list[Fax]]:
    """Yield a list for the faxes created in a transaction inside this block; if the block
    raises (the transaction rolled back), their document files are deleted. Django has no
    rollback hook, so the files are removed here, where the failure is seen."""
    created: list[Fax] = []
    try:
        yield created
    except BaseException:
        for fax in created:
            if fax.document:
                fax.document.delete(save=False)
        raise


def _replay(record: IdempotencyKey, fingerprint: str) -> SendOutcome:
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict(in_progress=False)
    return SendOutcome(
        status=record.response_status,
        body=record.response_body,
        fax_id=record.fax_id,
        replayed=True,
    )


def _claim_wait_limit() -> None:
    """Make the claim insert give up quickly while another transaction holds the same key."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{IDEMPOTENCY_WAIT}'")


def _lift_wait_limit() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = DEFAULT")


def fax_send(
    *,
    account: Account,
    api_key: ApiKey | None,
    livemode: bool,
    request: FaxRequest,
    idempotency_key: str | None,
    fingerprint: str,
    render: Callable[[Fax], dict[str, Any]],
) -> SendOutcome:
    """Create a fax, at most once per Idempotency-Key.

    The key is claimed by inserting its row in the same transaction that creates the fax, under a
    unique constraint: of N simultaneous identical requests one inserts, the others wait for it
    and then replay its answer (or, if it takes too long, get IdempotencyConflict(in_progress)).
    A request that fails rolls its claim back with it, so a crash never locks a key.
    """
    if idempotency_key is None:
        with _documents_removed_on_failure() as created, transaction.atomic():
            fax = fax_create(account=account, api_key=api_key, livemode=livemode, request=request)
            created.append(fax)
        return SendOutcome(status=201, body=render(fax), fax_id=fax.id)

    scope = {"account": account, "livemode": livemode, "key": idempotency_key}
    existing = IdempotencyKey.objects.filter(**scope).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        with _documents_removed_on_failure() as created, transaction.atomic():
            _claim_wait_limit()
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    **scope, fingerprint=fingerprint, response_status=0, response_body={}
                )
            _lift_wait_limit()
            fax = fax_create(account=account, api_key=api_key, livemode=livemode, request=request)
            created.append(fax)
            record.fax = fax
            record.response_status = 201
            record.response_body = render(fax)
            record.save(update_fields=["fax", "response_status", "response_body"])
    except IntegrityError:
        # Another request with this key committed first: answer as it did.
        return _replay(IdempotencyKey.objects.get(**scope), fingerprint)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            raise IdempotencyConflict(in_progress=True) from None
        raise
    return SendOutcome(status=201, body=record.response_body, fax_id=fax.id)


def idempotency_keys_purge(*, older_than: timedelta = IDEMPOTENCY_TTL) -> int:
    """Delete keys past their retention (at least 24 hours). Returns how many went."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


# --- The pipeline: fetch, submit, carrier events, sweeping -----------------------------------

SUBMIT_LEASE = timedelta(minutes=10)
# Longer than the fetch task's hard time limit (90 s): a fetch that still holds it is running.
FETCH_LEASE = timedelta(minutes=2)
# How far back reconciliation looks for a fax the carrier may have created, before our
# timestamp of the attempt (clocks differ).
RECONCILE_SLACK = timedelta(minutes=5)
STATUS_RANK = {
    FaxStatus.QUEUED: 0,
    FaxStatus.SUBMITTING: 1,
    FaxStatus.SENDING: 2,
    FaxStatus.DELIVERED: 3,
    FaxStatus.FAILED: 3,
    FaxStatus.CANCELED: 3,
}


class RetryLater(Exception):
    """The step could not finish now but may later; retry after `countdown` seconds."""

    def __init__(self, reason: str, *, countdown: float | None = None, token: str = "") -> None:
        super().__init__(reason)
        self.countdown = countdown
        self.token = token


def _earlier_statuses(target: FaxStatus) -> list[FaxStatus]:
    return [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[target]]


def carrier_for(fax: Fax) -> TelnyxClient | SimulatorCarrier:
    """Test-mode faxes always go to the simulator, whatever FAX_CARRIER says."""
    if not fax.livemode or settings.FAX_CARRIER == "simulator":
        return SimulatorCarrier()
    return TelnyxClient.from_settings()


def _record(fax: Fax, *, source: str, type: str, payload: dict[str, Any] | None = None) -> None:
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
    _record(fax, source=source, type=f"status.{status}", payload={"status": status})
    on_status_change(fax)
    return True


# Statuses customers hear about, and the event type each one sends.
CUSTOMER_EVENTS = {
    FaxStatus.SENDING: "fax.sending",
    FaxStatus.DELIVERED: "fax.delivered",
    FaxStatus.FAILED: "fax.failed",
}


def on_status_change(fax: Fax) -> None:
    """What follows a status change, inside its transaction: the customer's webhook event (an
    outbox row, so a rollback takes it back), carrying the fax as GET /v1/faxes/{id} shows it."""
    logger.info("Fax %s is now %s", fax.id, fax.status)
    fax_metrics.fax_status_changed(fax)
    event_type = CUSTOMER_EVENTS.get(fax.status)
    if event_type is None:
        return
    current = Fax.objects.select_related("account").get(pk=fax.pk)
    webhook_event_emit(
        account=current.account,
        livemode=current.livemode,
        type=event_type,
        object_id=current.id,
        data={"object": FaxSerializer(current).data},
    )


@transaction.atomic
def fax_fail(*, fax: Fax, reason: str, message: str, source: str = "pipeline") -> bool:
    return fax_advance(
        fax=fax,
        status=FaxStatus.FAILED,
        source=source,
        failure_reason=reason,
        failure_message=message,
        submit_token="",
        lease_expires_at=None,
    )


# Customers' messages when a step hits its Celery soft time limit.
FETCH_TOO_SLOW = (
    "Fetching the document took too long. Serve it from a faster server, or send it inline."
)
CONVERT_TOO_SLOW = "Converting the document to a fax took too long. Send a smaller file, or a PDF."


def fax_fetch_document(*, fax_id: str) -> bool:
    """Fetch a `document_url` behind the SSRF guard, store it as the fax's PDF, and hand the fax
    to submission once that is committed.

    Returns True when this run stored the document. One run at a time fetches a fax (it holds a
    lease for longer than the task's time limit); a run that finds the fax leased, its document
    stored or the fax no longer queued does nothing, so duplicate tasks cost nothing. A refused or
    failed fetch, bytes that are not a document we can fax, or a fetch or conversion that hits
    the task's soft time limit fail the fax at once with a reason the customer can act on.
    """
    now = timezone.now()
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    claimed = Fax.objects.filter(free, pk=fax_id, status=FaxStatus.QUEUED, document="").update(
        lease_expires_at=now + FETCH_LEASE
    )
    if not claimed:
        return False
    fax = Fax.objects.get(pk=fax_id)
    prepared = _fetch_and_prepare(fax)
    if prepared is None:
        return False
    name = fax.document.storage.save(f"faxes/{fax.id}.pdf", ContentFile(prepared.pdf))
    try:
        stored = _store_fetched(fax, name=name, prepared=prepared)
    except BaseException:
        fax.document.storage.delete(name)
        raise
    if not stored:
        # The fax was failed or canceled meanwhile, or another run stored its document first.
        fax.document.storage.delete(name)
    return stored


def _fetch_and_prepare(fax: Fax) -> PreparedDocument | None:
    """The fax's document, fetched and ready to fax; None when the fax was failed instead."""
    try:
        fetched = fetch(fax.document_url, max_bytes=settings.MAX_DOCUMENT_BYTES)
    except FetchError as error:
        fax_fail(fax=fax, reason="document_fetch_failed", message=error.message)
        return None
    except SoftTimeLimitExceeded:
        fax_fail(fax=fax, reason="document_fetch_failed", message=FETCH_TOO_SLOW)
        return None
    try:
        return prepare_document(fetched.content, declared_type=None)
    except SoftTimeLimitExceeded:
        fax_fail(fax=fax, reason="document_invalid", message=CONVERT_TOO_SLOW)
    except DocumentError as error:
        message = CONVERT_TOO_SLOW if _interrupted_by_time_limit(error) else error.message
        fax_fail(fax=fax, reason="document_invalid", message=message)
    return None


def _interrupted_by_time_limit(error: BaseException) -> bool:
    """Whether a soft time limit is what `error` reports: the document module turns any
    exception raised inside the PDF and image libraries, this one too, into a DocumentError."""
    cause = error.__context__
    while cause is not None:
        if isinstance(cause, SoftTimeLimitExceeded):
            return True
        cause = cause.__context__
    return False


def _store_fetched(fax: Fax, *, name: str, prepared: PreparedDocument) -> bool:
    """Attach the stored file `name` to the fax, unless it has one or is no longer queued, and
    send its submission after commit."""
    now = timezone.now()
    with transaction.atomic():
        stored = Fax.objects.filter(pk=fax.pk, status=FaxStatus.QUEUED, document="").update(
            document=name,
            document_content_type=prepared.content_type,
            document_size_bytes=prepared.size_bytes,
            document_sha256=prepared.sha256,
            page_count=prepared.page_count,
            lease_expires_at=None,
            enqueued_at=now,
            pipeline_restarts=0,
            updated_at=now,
        )
        if not stored:
            return False
        _record(
            fax, source="pipeline", type="document.fetched", payload={"pages": prepared.page_count}
        )
        transaction.on_commit(
            lambda: _send_step(fax.id, "submit", stamp=now, undo={"enqueued_at": None})
        )
    return True


def fax_retry_scheduled(*, fax_id: str, countdown: float) -> None:
    """Stamp a retry of the fax's step due in `countdown` seconds, so that the sweeper sends
    nothing more until that retry is overdue."""
    due = timezone.now() + timedelta(seconds=countdown)
    Fax.objects.filter(pk=fax_id).update(enqueued_at=due)


def fax_claim(*, fax_id: str, token: str = "") -> str | None:
    """Take (or keep) the submission lease. Returns the lease token, or None when the fax is not
    this caller's to submit: already submitted, finished, or leased to another worker."""
    now = timezone.now()
    lease = {"lease_expires_at": now + SUBMIT_LEASE, "updated_at": now}
    if token:
        kept = Fax.objects.filter(pk=fax_id, status=FaxStatus.SUBMITTING, submit_token=token)
        return token if kept.update(**lease) else None
    token = make_id("lease")[6:]
    fresh = Fax.objects.filter(pk=fax_id, status=FaxStatus.QUEUED).exclude(document="")
    if fresh.update(status=FaxStatus.SUBMITTING, submit_token=token, **lease):
        return token
    expired = Fax.objects.filter(pk=fax_id, status=FaxStatus.SUBMITTING, lease_expires_at__lt=now)
    return token if expired.update(submit_token=token, **lease) else None


def _reconcile(fax: Fax, carrier: TelnyxClient | SimulatorCarrier) -> CarrierFax | None:
    """After a send whose outcome is unknown: the carrier's fax carrying our id, if it exists."""
    since = (fax.submitted_at or fax.created_at) - RECONCILE_SLACK
    for candidate in carrier.find_faxes(to=fax.to_number, created_after=since):
        if decode_client_state(candidate.client_state) == fax.id:
            return candidate
    return None


def _adopt(fax: Fax, carrier_fax: CarrierFax, *, carrier: str, source: str) -> None:
    """Store the carrier's id for our fax and mark it sending (unless events got further)."""
    with transaction.atomic():
        Fax.objects.filter(pk=fax.pk, carrier_fax_id__isnull=True).update(
            carrier_fax_id=carrier_fax.id, carrier=carrier
        )
        fax.carrier_fax_id, fax.carrier = carrier_fax.id, carrier
        fax_advance(
            fax=fax, status=FaxStatus.SENDING, source=source, submit_token="", lease_expires_at=None
        )


def fax_submit(*, fax_id: str, token: str = "") -> None:
    """Hand the fax to the carrier exactly once.

    The lease makes one worker at a time the submitter. `submitted_at` is stored before each
    POST: if a POST's outcome is unknown (timeout, dropped connection, 5xx), every later attempt
    first looks for the carrier's fax carrying our id and adopts it, and only sends again when
    there is none. Raises RetryLater (with the lease token) for transient failures.
    """
    token = fax_claim(fax_id=fax_id, token=token)
    if token is None:
        return
    fax = Fax.objects.get(pk=fax_id)
    carrier = carrier_for(fax)
    try:
        if fax.submitted_at is not None and not fax.carrier_fax_id:
            found = _reconcile(fax, carrier)
            if found is not None:
                _adopt(fax, found, carrier=carrier.name, source="reconcile")
                return
        try:
            with fax.document.open("rb") as document:
                content = document.read()
        except FileNotFoundError:
            fax_fail(
                fax=fax,
                reason="document_invalid",
                message="The stored document is missing; send the fax again.",
            )
            return
        # A new media name per attempt: a retry must not collide with an earlier upload.
        media_name = carrier.upload_media(
            name=f"{fax.id}-{fax.submit_attempts + 1}.pdf", content=content
        )
        # Stamp the attempt only while this worker still holds the lease; a worker that lost it
        # (stalled past its lease, taken over by the sweeper) must not send.
        now = timezone.now()
        still_mine = Fax.objects.filter(
            pk=fax.pk,
            status=FaxStatus.SUBMITTING,
            submit_token=token,
            lease_expires_at__gt=now,
        ).update(submitted_at=now, submit_attempts=F("submit_attempts") + 1)
        if not still_mine:
            logger.warning("Fax %s: lease lost before sending; another worker has it", fax.id)
            return
        try:
            sent = carrier.send_fax(
                to=fax.to_number,
                from_=fax.from_number,
                media_name=media_name,
                client_state=encode_client_state(fax.id),
                webhook_url=f"{settings.PUBLIC_BASE_URL}/webhooks/telnyx",
            )
        except CarrierUnavailable:
            # This POST created nothing (and any earlier one was reconciled above), so the next
            # attempt need not look for it.
            Fax.objects.filter(pk=fax.pk, submit_token=token).update(submitted_at=None)
            raise
    except CarrierUnavailable as error:
        raise RetryLater(error.message, countdown=error.retry_after, token=token) from None
    except CarrierOutcomeUnknown as error:
        raise RetryLater(error.message, token=token) from None
    except CarrierRejected as error:
        fax_fail(
            fax=fax,
            reason="carrier_rejected",
            message=f"The carrier refused the fax: {error.detail or error.message}",
        )
        return
    except CarrierError as error:
        # Anything else the client reports (say, too many pages of faxes to reconcile against):
        # try again later rather than leave the fax stuck mid-submission.
        raise RetryLater(error.message, token=token) from None
    _adopt(fax, sent, carrier=carrier.name, source="pipeline")


def fax_give_up(*, fax_id: str, reason: str) -> None:
    """Retries are spent: fail the fax, unless a send may have reached the carrier (then the
    sweeper keeps reconciling rather than risk a fax nobody tracks)."""
    fax = Fax.objects.filter(pk=fax_id).first()
    if fax is None or fax.is_terminal:
        return
    if fax.submitted_at is not None and not fax.carrier_fax_id:
        logger.error("Fax %s: outcome of its last send still unknown after retries", fax_id)
        return
    fax_fail(
        fax=fax,
        reason="carrier_error",
        message=f"The carrier could not be reached to send the fax ({reason}).",
    )


@transaction.atomic
def fax_apply_carrier_event(*, event: CarrierEvent, source: str) -> str:
    """Apply one carrier event: `duplicate`, `unknown_fax` or `applied`.

    Events may come out of order, twice, or before we stored the carrier's id: the fax is found
    by the carrier's id or by our id in client_state, each event is stored once (unique event
    id), and the status only moves forward.
    """
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
    updates: dict[str, Any] = {"last_event_at": timezone.now()}
    if not fax.carrier_fax_id and event.carrier_fax_id:
        updates["carrier_fax_id"] = event.carrier_fax_id
    Fax.objects.filter(pk=fax.pk).update(**updates)
    fields: dict[str, Any] = {}
    if event.status == FaxStatus.DELIVERED:
        fields["pages_delivered"] = event.page_count
    elif event.status == FaxStatus.FAILED:
        fields["failure_reason"], fields["failure_message"] = failure_for(event.failure_reason)
        fields["pages_delivered"] = event.page_count
    if event.status is not None:
        fax_advance(fax=fax, status=event.status, source=source, **fields)
    return "applied"


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


def faxes_restart_stalled() -> SweepOutcome:
    """Send again the task of faxes whose step is overdue (its task lost with a worker, the
    broker down, a queue stalled), each at most once per wait; fail those out of restarts.

    A fax counts as stalled while it is queued or submitting, no worker holds an unexpired lease
    on it, and its `enqueued_at` is overdue. Each restart is a conditional update of that stamp,
    so two sweeps never restart a fax twice.
    """
    now = timezone.now()
    unleased = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    stalled = Fax.objects.filter(
        unleased, _overdue(now), status__in=[FaxStatus.QUEUED, FaxStatus.SUBMITTING]
    ).order_by(F("enqueued_at").asc(nulls_first=True))
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
            _send_step(fax_id, step, stamp=now, undo=undo)
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
