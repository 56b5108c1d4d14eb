"""The pipeline: starting a fax, fetching a URL document, and submitting to the carrier once.

Each step runs in a Celery task (faxes/tasks.py) sent by name, since the task module imports
this one. A step is claimed by a conditional update (a lease), so a task that runs twice, or a
step the sweeper restarted, does no harm.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

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
from faxes.documents.compose import (
    CoverPage,
    FaxParties,
    assemble,
    cover_page_replace,
    render_cover_page,
    stamp_header,
)
from faxes.models import DocumentSource, Fax, FaxStatus
from faxes.selectors import fax_with_account
from faxes.services.compose import fax_header_text
from faxes.services.documents import fax_parts_delete
from faxes.services.status import fax_advance, fax_event_record, fax_fail
from faxes.simulator import SimulatorCarrier
from sendfaxmail.lib.crypto import DocumentCryptoError
from sendfaxmail.lib.fetch import FetchError, fetch, without_query
from sendfaxmail.lib.ids import make_id
from sendfaxmail.lib.storage import storage_outage_errors

logger = logging.getLogger(__name__)

# The pipeline's steps and their tasks, reached through Celery by name.
PIPELINE_TASKS = {"fetch": "faxes.tasks.fax_fetch_task", "submit": "faxes.tasks.fax_submit_task"}

SUBMIT_LEASE = timedelta(minutes=10)
# Longer than the fetch task's hard time limit (90 s): a fetch that still holds it is running.
FETCH_LEASE = timedelta(minutes=2)
# How far back reconciliation looks for a fax the carrier may have created, before our
# timestamp of the attempt (clocks differ).
RECONCILE_SLACK = timedelta(minutes=5)

# Customers' messages when a step hits its Celery soft time limit.
FETCH_TOO_SLOW = (
    "Fetching the document took too long. Serve it from a faster server, or send it inline."
)
CONVERT_TOO_SLOW = "Converting the document to a fax took too long. Send a smaller file, or a PDF."


class RetryLater(Exception):
    """The step could not finish now but may later; retry after `countdown` seconds."""

    def __init__(self, reason: str, *, countdown: float | None = None, token: str = "") -> None:
        super().__init__(reason)
        self.countdown = countdown
        self.token = token


def pipeline_step_send(fax_id: str, step: str, *, stamp: datetime, undo: dict[str, Any]) -> None:
    """Send the task for the fax's `step`, whose sending was stamped `enqueued_at=stamp`.

    If the broker refuses it, the stamp is undone (`undo`), so that the sweeper sends the task
    at its next run without counting a restart.
    """
    try:
        current_app.send_task(PIPELINE_TASKS[step], args=[fax_id])
    except Exception:
        Fax.objects.filter(pk=fax_id, enqueued_at=stamp).update(**undo)
        raise


def fax_pipeline_start(*, fax: Fax) -> None:
    """Start the pipeline of a fax just accepted: a document not stored yet (a URL's, or the
    copy of a resent fax's) is fetched first (on its own queue), a stored one goes straight to
    submission."""
    step = "submit" if fax.document else "fetch"
    pipeline_step_send(fax.id, step, stamp=fax.enqueued_at, undo={"enqueued_at": None})


def carrier_for(fax: Fax) -> TelnyxClient | SimulatorCarrier:
    """Test-mode faxes always go to the simulator, whatever FAX_CARRIER says."""
    if not fax.livemode or settings.FAX_CARRIER == "simulator":
        return SimulatorCarrier()
    return TelnyxClient.from_settings()


# --- Fetching a document_url -------------------------------------------------------------------

# A fax's document is fetched (or copied) while it is queued, or scheduled: so that a URL that
# cannot be fetched fails the fax when it is sent, not at its `send_at`.
DOCUMENT_WAITING = (FaxStatus.QUEUED, FaxStatus.SCHEDULED)


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
    claimed = Fax.objects.filter(free, pk=fax_id, status__in=DOCUMENT_WAITING, document="").update(
        lease_expires_at=now + FETCH_LEASE
    )
    if not claimed:
        return False
    fax = Fax.objects.get(pk=fax_id)
    if fax.document_source == DocumentSource.COPY:
        return _copy_resent(fax)
    prepared = _fetch_and_prepare(fax)
    if prepared is None:
        fax_parts_delete(fax=fax)
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
    # Assembled into the stored document, or no longer needed.
    fax_parts_delete(fax=fax)
    return stored


def _fetch_and_prepare(fax: Fax) -> PreparedDocument | None:
    """The fax's documents in order, merged after its cover page and ready to fax; None when
    the fax was failed instead. URL documents are fetched; a fax mixing them with inline ones
    reads those back from where the intake stored them. All share one budget of
    MAX_DOCUMENT_BYTES. A failure names the document by its place in the list (from 1)."""
    urls = fax.document_urls or [fax.document_url]
    parts = fax.document_parts or [{"url": url} for url in urls]
    budget = settings.MAX_DOCUMENT_BYTES - sum(
        p.get("size_bytes", 0) for p in parts if "stored" in p
    )
    prepared: list[PreparedDocument] = []
    for number, part in enumerate(parts, start=1):
        if "stored" in part:
            document = _stored_part(fax, part, number=number)
        else:
            which = f"Document {number} ({without_query(part['url'])}): " if len(parts) > 1 else ""
            content = _fetch_part(fax, part["url"], budget=budget, which=which)
            if content is None:
                return None
            budget -= len(content)
            document = _prepare_fetched(fax, content, which=which)
        if document is None:
            return None
        prepared.append(document)
    try:
        return _assembled(fax, prepared)
    except SoftTimeLimitExceeded:
        fax_fail(fax=fax, reason="document_invalid", message=CONVERT_TOO_SLOW)
    except DocumentError as error:
        fax_fail(fax=fax, reason="document_invalid", message=error.message)
    return None


def _fetch_part(fax: Fax, url: str, *, budget: int, which: str) -> bytes | None:
    """The bytes at `url`, at most `budget` of them; None when the fax was failed instead."""
    if budget <= 0:
        limit = settings.MAX_DOCUMENT_BYTES // 1_000_000
        message = f"The documents are larger than {limit} MB in all."
        fax_fail(fax=fax, reason="document_invalid", message=message)
        return None
    try:
        return fetch(url, max_bytes=budget).content
    except FetchError as error:
        fax_fail(fax=fax, reason="document_fetch_failed", message=which + error.message)
    except SoftTimeLimitExceeded:
        fax_fail(fax=fax, reason="document_fetch_failed", message=FETCH_TOO_SLOW)
    return None


def _stored_part(fax: Fax, part: dict[str, Any], *, number: int) -> PreparedDocument | None:
    """An inline document the intake stored for this fax, read back; None when it cannot be
    (the fax is failed). A storage outage propagates: the sweeper restarts the fetch."""
    try:
        with fax.document.storage.open(part["stored"], "rb") as stored:
            pdf = stored.read()
    except (FileNotFoundError, DocumentCryptoError) as error:
        logger.error("Fax %s: inline document %d cannot be read back: %r", fax.id, number, error)
        message = (
            f"Document {number} (sent inline) could not be read back intact; send the fax again."
        )
        fax_fail(fax=fax, reason="document_invalid", message=message)
        return None
    return PreparedDocument(
        pdf=pdf,
        page_count=part["page_count"],
        content_type=part["content_type"],
        size_bytes=part["size_bytes"],
        sha256=part["sha256"],
    )


def _prepare_fetched(fax: Fax, content: bytes, *, which: str) -> PreparedDocument | None:
    try:
        return prepare_document(content, declared_type=None)
    except SoftTimeLimitExceeded:
        fax_fail(fax=fax, reason="document_invalid", message=CONVERT_TOO_SLOW)
    except DocumentError as error:
        message = CONVERT_TOO_SLOW if _interrupted_by_time_limit(error) else error.message
        fax_fail(fax=fax, reason="document_invalid", message=which + message)
    return None


def _assembled(fax: Fax, prepared: list[PreparedDocument]) -> PreparedDocument:
    """The fetched documents in order, after the fax's cover page if it asked for one."""
    cover = CoverPage(**fax.cover_page) if fax.cover_page is not None else None
    parties = FaxParties(fax.account.name, fax.from_number, fax.to_number)
    return assemble(prepared, cover=cover, parties=parties)


def _interrupted_by_time_limit(error: BaseException) -> bool:
    """Whether a soft time limit is what `error` reports: the document module turns any
    exception raised inside the PDF and image libraries, this one too, into a DocumentError."""
    cause = error.__context__
    while cause is not None:
        if isinstance(cause, SoftTimeLimitExceeded):
            return True
        cause = cause.__context__
    return False


def _store_fetched(
    fax: Fax, *, name: str, prepared: PreparedDocument, event: str = "document.fetched"
) -> bool:
    """Attach the stored file `name` to the fax, unless it has one or is no longer queued (or
    scheduled), and send its submission after commit if it is queued."""
    now = timezone.now()
    with transaction.atomic():
        # Locked, so that its release (scheduled -> queued) waits: the status read here is the
        # one the update finds, and a scheduled fax is submitted by its release, not here.
        status = (
            Fax.objects.select_for_update()
            .filter(pk=fax.pk, status__in=DOCUMENT_WAITING, document="")
            .values_list("status", flat=True)
            .first()
        )
        if status is None:
            return False
        stored = Fax.objects.filter(pk=fax.pk).update(
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
        fax_event_record(
            fax=fax,
            source="pipeline",
            type=event,
            payload={"pages": prepared.page_count},
        )
        if status == FaxStatus.QUEUED:
            transaction.on_commit(
                lambda: pipeline_step_send(fax.id, "submit", stamp=now, undo={"enqueued_at": None})
            )
    return True


def _copy_resent(fax: Fax) -> bool:
    """Copy the stored document of the fax that `fax` resends into `fax`'s own stored object
    (never shared: the original's retention purge or DELETE must not take the resend's), then
    hand `fax` to submission as a fetch would. The request checked that the document was there;
    if it was deleted since, the resend fails with a reason the customer can act on. A storage
    outage leaves the fax queued: its lease runs out and the sweeper restarts the copy."""
    original = fax.resent_from
    gone = (
        f"The document of fax {fax.resent_from_id} was deleted before it could be copied for "
        "this resend; send the document again."
    )
    if original is None or original.document_purged_at is not None or not original.document:
        fax_fail(fax=fax, reason="document_invalid", message=gone)
        return False
    storage = fax.document.storage
    try:
        with original.document.open("rb") as source:
            if fax.cover_page is None:
                name = storage.save(f"faxes/{fax.id}.pdf", source)
            else:
                content = _with_own_cover_page(fax, source.read(), pages=original.page_count or 0)
                name = storage.save(f"faxes/{fax.id}.pdf", ContentFile(content))
    except (FileNotFoundError, DocumentCryptoError) as error:
        logger.error("Fax %s: the document to copy cannot be read: %s", fax.id, error)
        fax_fail(fax=fax, reason="document_invalid", message=gone)
        return False
    except DocumentError as error:
        logger.error("Fax %s: the copied document's cover page cannot be redrawn", fax.id)
        fax_fail(fax=fax, reason="document_invalid", message=error.message)
        return False
    except storage_outage_errors() as error:
        logger.warning("Fax %s: document storage unavailable: %s", fax.id, type(error).__name__)
        return False
    copied = PreparedDocument(
        pdf=b"",
        page_count=original.page_count or 0,
        content_type=original.document_content_type,
        size_bytes=original.document_size_bytes or 0,
        sha256=original.document_sha256,
    )
    try:
        stored = _store_fetched(fax, name=name, prepared=copied, event="document.copied")
    except BaseException:
        storage.delete(name)
        raise
    if not stored:
        storage.delete(name)
    return stored


def _with_own_cover_page(fax: Fax, content: bytes, *, pages: int) -> bytes:
    """The copied document with its cover page drawn again for the resend: the cover names the
    numbers it goes to and from, which a resend may change, and the account's name as it is now."""
    cover = render_cover_page(
        CoverPage(**fax.cover_page),
        account_name=fax.account.name,
        from_number=fax.from_number,
        to_number=fax.to_number,
        page_count=pages,
    )
    return cover_page_replace(content, cover)


# --- Submitting to the carrier -----------------------------------------------------------------


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
    # A fax waiting for its redial is not due before the sweeper clears `next_attempt_at`.
    fresh = Fax.objects.filter(
        pk=fax_id, status=FaxStatus.QUEUED, next_attempt_at__isnull=True
    ).exclude(document="")
    if fresh.update(status=FaxStatus.SUBMITTING, submit_token=token, **lease):
        return token
    expired = Fax.objects.filter(pk=fax_id, status=FaxStatus.SUBMITTING, lease_expires_at__lt=now)
    return token if expired.update(submit_token=token, **lease) else None


def _reconcile(fax: Fax, carrier: TelnyxClient | SimulatorCarrier) -> CarrierFax | None:
    """After a send whose outcome is unknown: the carrier's fax carrying our id, if it exists."""
    since = (fax.submitted_at or fax.created_at) - RECONCILE_SLACK
    # The carrier's faxes of earlier calls (redials) carry our id too.
    earlier = {attempt.get("carrier_fax_id") for attempt in fax.attempts}
    for candidate in carrier.find_faxes(to=fax.to_number, created_after=since):
        if decode_client_state(candidate.client_state) == fax.id and candidate.id not in earlier:
            return candidate
    return None


def _adopt(fax: Fax, carrier_fax: CarrierFax, *, carrier: str, source: str) -> None:
    """Store the carrier's id for our fax and mark it sending (unless events got further), and
    leave `fax` as the row is then."""
    with transaction.atomic():
        Fax.objects.filter(pk=fax.pk, carrier_fax_id__isnull=True).update(
            carrier_fax_id=carrier_fax.id, carrier=carrier
        )
        fax.carrier_fax_id, fax.carrier = carrier_fax.id, carrier
        if not fax_advance(
            fax=fax, status=FaxStatus.SENDING, source=source, submit_token="", lease_expires_at=None
        ):
            # The carrier's events got further first; `fax_advance` read nothing back.
            fax.refresh_from_db(fields=["cancel_requested_at", "carrier_fax_id", "status"])


def fax_submit_to_carrier(*, fax_id: str, token: str = "") -> None:
    """Hand the fax to the carrier exactly once.

    The lease makes one worker at a time the submitter. `submitted_at` is stored before each
    POST: if a POST's outcome is unknown (timeout, dropped connection, 5xx), every later attempt
    first looks for the carrier's fax carrying our id and adopts it, and only sends again when
    there is none. Raises RetryLater (with the lease token) for transient failures.
    """
    token = fax_claim(fax_id=fax_id, token=token)
    if token is None:
        return
    # With its account: the header line names it, in its time zone.
    fax = fax_with_account(fax_id=fax_id)
    carrier = carrier_for(fax)
    try:
        if fax.submitted_at is not None and not fax.carrier_fax_id:
            found = _reconcile(fax, carrier)
            if found is not None:
                _adopt(fax, found, carrier=carrier.name, source="reconcile")
                _cancel_if_requested_after_adopting(fax)
                return
        sent = _upload_and_send(fax, carrier, token=token)
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
    if sent is not None:
        _adopt(fax, sent, carrier=carrier.name, source="pipeline")
        _cancel_if_requested_after_adopting(fax)


def _cancel_if_requested_after_adopting(fax: Fax) -> None:
    """A cancel the customer asked for while our POST's outcome was unknown: now that the
    carrier's id is stored, pass it on. (The cancel, for its part, passes it on itself when it
    finds the id stored: `_adopt`'s update waits for the cancel's, and reads the row after it,
    so one of them sees both.)"""
    if fax.cancel_requested_at is None or fax.is_terminal or not fax.carrier_fax_id:
        return
    try:
        fax_cancel_at_carrier(fax=fax)
    except CarrierError as error:
        logger.warning("Fax %s: could not pass its cancel on to the carrier (%s)", fax.id, error)


def fax_cancel_at_carrier(*, fax: Fax) -> None:
    """Ask the fax's carrier to cancel it. Raises CarrierRejected when the carrier says the fax
    is past canceling (then the cancel request is withdrawn: the fax ends as the carrier
    reports), CarrierUnavailable when it could not be asked."""
    try:
        carrier_for(fax).cancel_fax(fax.carrier_fax_id)
    except CarrierRejected:
        Fax.objects.filter(pk=fax.pk).update(cancel_requested_at=None)
        raise


def _upload_and_send(
    fax: Fax, carrier: TelnyxClient | SimulatorCarrier, *, token: str
) -> CarrierFax | None:
    """Upload the document and POST the fax, stamping the attempt first. None when nothing was
    sent: the document is missing (the fax is failed) or this worker lost its lease."""
    try:
        with fax.document.open("rb") as document:
            content = document.read()
    except FileNotFoundError:
        fax_fail(
            fax=fax,
            reason="document_invalid",
            message="The stored document is missing; send the fax again.",
        )
        return None
    except DocumentCryptoError as error:
        # Altered at rest, or wrapped by a key no longer configured: retrying cannot help.
        logger.error("Fax %s: its stored document cannot be decrypted: %s", fax.id, error)
        fax_fail(
            fax=fax,
            reason="document_invalid",
            message="The stored document could not be read back intact; send the fax again.",
        )
        return None
    except storage_outage_errors() as error:
        raise RetryLater(
            f"document storage unavailable ({type(error).__name__})", token=token
        ) from None
    header = ""
    if fax.header:
        # Stamped per attempt from the stored document, so that the date and time is when this
        # attempt is sent, as 47 U.S.C. § 227(d) requires. The text is recorded with the
        # attempt, for the download and preview to show these very bytes.
        header = fax_header_text(fax, sent_at=timezone.now())
        content = stamp_header(content, text=header)
    # A new media name per attempt: a retry must not collide with an earlier upload.
    media_name = carrier.upload_media(
        name=f"{fax.id}-{fax.submit_attempts + 1}.pdf", content=content
    )
    # Stamp the attempt only while this worker still holds the lease; a worker that lost it
    # (stalled past its lease, taken over by the sweeper) must not send.
    # Nor must it send a fax the customer canceled: the cancel either changed the status first
    # (then this update matches nothing) or finds `submitted_at` stamped and goes to the carrier.
    now = timezone.now()
    still_mine = Fax.objects.filter(
        pk=fax.pk,
        status=FaxStatus.SUBMITTING,
        submit_token=token,
        lease_expires_at__gt=now,
        cancel_requested_at__isnull=True,
    ).update(submitted_at=now, submit_attempts=F("submit_attempts") + 1, header_line=header)
    if not still_mine:
        # A cancel requested while an earlier POST's outcome was unknown, which reconciliation
        # then showed created nothing: nothing is with the carrier, so the fax ends canceled.
        mine_to_cancel = Q(
            status=FaxStatus.SUBMITTING, submit_token=token, cancel_requested_at__isnull=False
        )
        if not fax_advance(
            fax=fax,
            status=FaxStatus.CANCELED,
            source="pipeline",
            only_if=mine_to_cancel,
            submit_token="",
            lease_expires_at=None,
        ):
            logger.warning("Fax %s: not sent; canceled, or another worker has it", fax.id)
        return None
    try:
        return carrier.send_fax(
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
