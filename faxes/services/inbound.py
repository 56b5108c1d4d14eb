"""Receiving faxes: Telnyx's inbound events, fetching the received pages, and simulated faxes.

An inbound fax is a `Fax` with `direction=inbound`: it is created by the first event Telnyx
sends for it (the `to` number picks the account), is `receiving` until its pages are stored,
then `received`; or `failed`. Its pages are fetched at once by a worker (queue `fetch`) through
the same guarded fetcher as customers' documents; Telnyx's signed media link lasts about ten
minutes, so an expired one (403/404) is renewed through the carrier before the fetch is retried.
"""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from accounts.models import Account
from audit.models import Action
from audit.services import Actor, audit_record
from fax_numbers.selectors import fax_number_by_number
from faxes.carrier import CarrierError, CarrierRejected, TelnyxClient
from faxes.documents import DocumentError, PreparedDocument, prepare_document
from faxes.documents.images import image_to_pdf
from faxes.documents.render import render_page_png
from faxes.events import CarrierEvent, failure_for
from faxes.models import Direction as FaxDirection
from faxes.models import DocumentSource, Fax, FaxEvent, FaxStatus
from faxes.services.fax_email import fax_emails_queue
from faxes.services.status import (
    fax_advance,
    fax_carrier_event_record,
    fax_event_record,
    fax_fail,
)
from sendfaxmail.lib.fetch import FetchError, HttpStatusError, fetch

logger = logging.getLogger(__name__)

MEDIA_TASK = "faxes.tasks.inbound_media_fetch_task"
# Longer than the media task's hard time limit: a fetch that still holds it is running.
MEDIA_LEASE = timedelta(minutes=2)
# The media host's answers for a link that has expired.
EXPIRED_LINK_STATUSES = frozenset({403, 404})

# The media task retries for about 10 minutes; a fax still receiving after this lost its task.
MEDIA_RESEND_AFTER = timedelta(minutes=15)
MEDIA_GIVE_UP_AFTER = timedelta(hours=1)
SWEEP_BATCH = 200

MEDIA_UNAVAILABLE = (
    "The received pages could not be fetched from the carrier; the carrier's copy is the "
    "only one. Contact support with this fax's id."
)
MEDIA_INVALID = "The carrier's copy of the received fax is not a readable PDF."


class MediaRetryLater(Exception):
    """The media could not be fetched now but may be later."""


# --- Telnyx's events ---------------------------------------------------------------------------


@transaction.atomic
def inbound_fax_apply_carrier_event(*, event: CarrierEvent, source: str) -> str:
    """Apply one inbound carrier event: `duplicate`, `unknown_number`, `unknown_fax` or
    `applied`.

    The fax is found by the carrier's id, or created for the account holding the `to` number;
    an event for a number nobody holds stores nothing. Each event is stored once (unique event
    id) and the status only moves forward, so duplicates and events out of order do no harm.
    """
    if not event.carrier_fax_id:
        return "unknown_fax"
    # Checked first, so that a replayed event creates no fax (the unique id still decides races).
    if FaxEvent.objects.filter(carrier_event_id=event.event_id).exists():
        return "duplicate"
    fax = _inbound_fax_for_event(event)
    if fax is None:
        logger.warning("Inbound event %s for a number we do not hold; ignored", event.event_id)
        return "unknown_number"
    if not fax_carrier_event_record(fax=fax, event=event, source=source):
        return "duplicate"
    updates: dict[str, Any] = {"last_event_at": timezone.now()}
    if event.status == FaxStatus.RECEIVED:
        # The sweeper's clock: a fax still receiving long after this lost its media task.
        updates["enqueued_at"] = timezone.now()
    if event.page_count is not None:
        updates["page_count"] = event.page_count
    if event.status == FaxStatus.RECEIVED and event.media_url:
        updates["document_url"] = event.media_url
    Fax.objects.filter(pk=fax.pk).update(**updates)
    if event.status == FaxStatus.RECEIVED and fax.status == FaxStatus.RECEIVING:
        transaction.on_commit(lambda: inbound_media_fetch_send(fax.id))
    elif event.status == FaxStatus.FAILED:
        reason, message = failure_for(event.failure_reason)
        fax_fail(fax=fax, reason=reason, message=message, source=source)
    return "applied"


def _inbound_fax_for_event(event: CarrierEvent) -> Fax | None:
    """The inbound fax the event is about, created on its first event; None when the `to`
    number is not one of ours."""
    found = Fax.objects.select_for_update().filter(carrier_fax_id=event.carrier_fax_id).first()
    if found is not None:
        return found
    number = fax_number_by_number(number=event.to or "")
    if number is None:
        return None
    try:
        with transaction.atomic():
            fax = Fax.objects.create(
                account_id=number.account_id,
                livemode=True,
                direction=FaxDirection.INBOUND,
                status=FaxStatus.RECEIVING,
                to_number=number.number,
                from_number=event.from_,
                document_source=DocumentSource.CARRIER,
                # We stamp no header line on a fax we did not send.
                header=False,
                carrier="telnyx",
                carrier_fax_id=event.carrier_fax_id,
                page_count=event.page_count,
            )
    except IntegrityError:
        # Another event for the same fax created it first.
        return Fax.objects.select_for_update().get(carrier_fax_id=event.carrier_fax_id)
    fax_event_record(fax=fax, source="carrier", type="status.receiving", payload={})
    return fax


def inbound_media_fetch_send(fax_id: str) -> None:
    current_app.send_task(MEDIA_TASK, args=[fax_id])


# --- The received pages ------------------------------------------------------------------------


def inbound_media_fetch(*, fax_id: str) -> bool:
    """Fetch the received fax's pages from the carrier's media link, store them encrypted and
    mark the fax `received`. True when this run stored them.

    One run at a time holds a fax (a lease). An expired link is renewed through the carrier and
    fetched again at once. Raises MediaRetryLater when the pages cannot be had now (the task
    retries with backoff, then calls `inbound_media_give_up`); bytes that are not a PDF fail the
    fax at once.
    """
    now = timezone.now()
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    claimed = Fax.objects.filter(
        free,
        pk=fax_id,
        direction=FaxDirection.INBOUND,
        status=FaxStatus.RECEIVING,
        document="",
    ).update(lease_expires_at=now + MEDIA_LEASE)
    if not claimed:
        return False
    fax = Fax.objects.get(pk=fax_id)
    try:
        content = _fetch_media(fax)
    except MediaRetryLater:
        Fax.objects.filter(pk=fax.pk).update(lease_expires_at=None)
        raise
    try:
        prepared = prepare_document(content, declared_type="application/pdf")
    except DocumentError:
        fax_fail(fax=fax, reason="media_invalid", message=MEDIA_INVALID, source="pipeline")
        return False
    return inbound_fax_store(fax=fax, prepared=prepared, source="pipeline")


def _fetch_media(fax: Fax) -> bytes:
    """The media's bytes; an expired link (or none, when only the status said `received`) is
    renewed once. MediaRetryLater otherwise."""
    if not fax.document_url:
        return _fetch_renewed(fax)
    try:
        return fetch(fax.document_url, max_bytes=settings.MAX_DOCUMENT_BYTES).content
    except HttpStatusError as error:
        if error.status not in EXPIRED_LINK_STATUSES:
            raise MediaRetryLater(error.message) from None
    except FetchError as error:
        raise MediaRetryLater(error.message) from None
    return _fetch_renewed(fax)


def _fetch_renewed(fax: Fax) -> bytes:
    url = _renewed_media_url(fax)
    try:
        return fetch(url, max_bytes=settings.MAX_DOCUMENT_BYTES).content
    except FetchError as error:
        raise MediaRetryLater(error.message) from None


def _renewed_media_url(fax: Fax) -> str:
    """Ask the carrier for a fresh media link and keep it on the fax."""
    try:
        url = TelnyxClient.from_settings().refresh_media_url(fax.carrier_fax_id or "")
    except (CarrierError, ValueError) as error:
        message = error.message if isinstance(error, CarrierError) else str(error)
        if isinstance(error, CarrierRejected):
            logger.warning("Fax %s: the carrier refused to renew its media link", fax.id)
        raise MediaRetryLater(f"Renewing the media link failed: {message}") from None
    if not url:
        raise MediaRetryLater("The carrier gave no new media link.")
    Fax.objects.filter(pk=fax.pk).update(document_url=url)
    fax_event_record(fax=fax, source="pipeline", type="media.link_renewed")
    return url


def inbound_fax_store(*, fax: Fax, prepared: PreparedDocument, source: str) -> bool:
    """Store the received pages encrypted (the default storage), mark the fax `received`
    (its customer event: `fax.received`) and queue its emails, all once."""
    name = fax.document.storage.save(f"faxes/{fax.id}.pdf", ContentFile(prepared.pdf))
    try:
        with transaction.atomic():
            stored = fax_advance(
                fax=fax,
                status=FaxStatus.RECEIVED,
                source=source,
                document=name,
                document_content_type=prepared.content_type,
                document_size_bytes=prepared.size_bytes,
                document_sha256=prepared.sha256,
                page_count=prepared.page_count,
                lease_expires_at=None,
            )
            if stored:
                fax_emails_queue(fax=fax)
    except BaseException:
        fax.document.storage.delete(name)
        raise
    if not stored:
        fax.document.storage.delete(name)
    return stored


def inbound_media_give_up(*, fax_id: str) -> None:
    """Retries are spent: the fax is `failed` with `media_unavailable`. Its events are kept,
    since Telnyx's copy is the only one."""
    fax = Fax.objects.filter(pk=fax_id, direction=FaxDirection.INBOUND).first()
    if fax is None or fax.is_terminal:
        return
    fax_fail(fax=fax, reason="media_unavailable", message=MEDIA_UNAVAILABLE)


def inbound_faxes_sweep() -> tuple[int, int]:
    """Periodic: a fax still `receiving` MEDIA_RESEND_AFTER after Telnyx said it was received
    lost its media task (the broker was down, a worker died): send the task again, or, past
    MEDIA_GIVE_UP_AFTER, fail it `media_unavailable`. Returns (resent, failed)."""
    now = timezone.now()
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    stale = Fax.objects.filter(
        free,
        status=FaxStatus.RECEIVING,
        direction=FaxDirection.INBOUND,
        document="",
        enqueued_at__lt=now - MEDIA_RESEND_AFTER,
    ).values_list("id", "created_at")[:SWEEP_BATCH]
    resent = failed = 0
    for fax_id, created_at in stale:
        if created_at < now - MEDIA_GIVE_UP_AFTER:
            inbound_media_give_up(fax_id=fax_id)
            failed += 1
            continue
        Fax.objects.filter(pk=fax_id).update(enqueued_at=now)
        inbound_media_fetch_send(fax_id)
        resent += 1
    return resent, failed


# --- Simulated faxes ---------------------------------------------------------------------------


def sample_received_pdf() -> bytes:
    """A one-page fax for simulations: a few lines of text on a US Letter page."""
    page = Image.new("L", (1700, 2200), color=255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=64)
    for line, text in enumerate(["SIMULATED FAX", "SendFaxMail sandbox", "Page 1 of 1"]):
        draw.text((150, 200 + line * 120), text, fill=0, font=font)
    out = io.BytesIO()
    page.save(out, format="PNG")
    return image_to_pdf(out.getvalue(), content_type="image/png")


def inbound_fax_simulate(
    *,
    number: str,
    from_: str,
    document: bytes,
    livemode: bool,
    content_type: str = "application/pdf",
    account: Account | None = None,
) -> Fax:
    """A received fax that never came from a carrier (the sandbox's test helper, the operator's
    `simulate_inbound_fax`): created on `number`, then stored, webhooked and emailed exactly as
    a real one. DocumentError when `document` is not one we accept; LookupError when the number
    is nobody's (or, given `account`, not that account's)."""
    fax_number = fax_number_by_number(number=number)
    if fax_number is None or (account is not None and fax_number.account_id != account.pk):
        raise LookupError(number)
    prepared = prepare_document(document, declared_type=content_type)
    with transaction.atomic():
        fax = Fax.objects.create(
            account_id=fax_number.account_id,
            livemode=livemode,
            direction=FaxDirection.INBOUND,
            status=FaxStatus.RECEIVING,
            to_number=fax_number.number,
            from_number=from_[:64],
            document_source=DocumentSource.CARRIER,
            # We stamp no header line on a fax we did not send.
            header=False,
            carrier="simulator",
        )
        fax_event_record(fax=fax, source="simulator", type="status.receiving")
        inbound_fax_store(fax=fax, prepared=prepared, source="simulator")
    fax.refresh_from_db()
    return fax


# --- The inbox ---------------------------------------------------------------------------------


def fax_mark_read(*, fax: Fax) -> bool:
    """A member opened the received fax: it is no longer unread in the inbox (only the first
    opening counts)."""
    now = timezone.now()
    marked = Fax.objects.filter(
        pk=fax.pk, direction=FaxDirection.INBOUND, read_at__isnull=True
    ).update(read_at=now)
    if marked:
        fax.read_at = now
    return bool(marked)


def fax_page_view(*, fax: Fax, page_number: int, actor: Actor) -> bytes:
    """Page `page_number` of the fax's stored document as a PNG, for a member's screen; the
    viewing is recorded in the audit log. DocumentError when the page cannot be rendered."""
    with fax.document.open("rb") as document:
        image = render_page_png(document.read(), page_number=page_number)
    audit_record(
        action=Action.DOCUMENT_VIEWED,
        account_id=fax.account_id,
        actor=actor,
        target_type="fax",
        target_id=fax.pk,
        target_label=fax.pk,
        details={"page": page_number, "direction": fax.direction},
    )
    return image
