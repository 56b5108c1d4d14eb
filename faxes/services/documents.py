"""A fax's stored document once the fax is accepted: downloading it (decrypted as it streams,
audited), previewing its first page, deleting it on request, and purging documents past their
account's retention.

The stored document of a sent fax is the composed fax (documents merged, cover page) without
its header line, which each submission stamps with its own time. A download and a preview stamp
it again with the header line the latest submission recorded (`Fax.header_line`; before any,
the one it would get now): stamping is deterministic, so the bytes downloaded are the bytes the
carrier got. Such a document is decrypted and stamped in memory, never on disk in plaintext:
at most the document (20 MB) and its stamped copy at once.

A purge deletes the stored object first and then marks the fax (`document_purged_at`, the
`document` name cleared, a `document.purged` line in its history), so a run interrupted between
the two deletes again next time (deleting a missing object is harmless) and never leaves a
marked fax with its object still stored. Only finished faxes (delivered, failed, canceled,
received) are ever purged: their status cannot change any more.

Error contract of `fax_document_download` and `fax_document_preview`: DocumentPurged,
DocumentNotReady (a `document_url` not fetched yet), DocumentMissing (the fax finished without a
stored document), DocumentUnreadable (the stored object is gone or cannot be decrypted: altered,
or its key is no longer configured, or cannot be rendered; logged), StorageUnavailable (the
storage could not be reached; retry).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pikepdf
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Account
from audit.models import Action
from audit.services import Actor, audit_record
from faxes.documents import DocumentError
from faxes.documents.compose import first_page_stamped, stamp_header
from faxes.documents.render import render_page_png
from faxes.models import TERMINAL_STATUSES, Fax, FaxEvent
from faxes.services.compose import fax_header_line_shown
from sendfaxmail.lib import ratelimit
from sendfaxmail.lib.crypto import DocumentCryptoError
from sendfaxmail.lib.storage import storage_outage_errors

logger = logging.getLogger(__name__)

# Faxes loaded per query by the retention purge, and purged per run at most (a run a minute).
PURGE_BATCH = 200
PURGE_RUN_LIMIT = 5000
# A stamped document is streamed this much at a time.
STREAM_CHUNK = 64 * 1024
# The preview's resolution: 1.5 x 72 dpi, a US Letter page 918 x 1188 pixels in grey, where the
# 9 pt header line is 13 pixels tall and legible; a dense page of text is about 30 KB as PNG.
PREVIEW_SCALE = 1.5


class DocumentUnavailable(Exception):
    """The document cannot be handed out; `message` says why, for the customer."""

    message = "The document cannot be downloaded."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class DocumentPurged(DocumentUnavailable):
    message = (
        "This fax's document was deleted (its retention ran out, or it was deleted on request)."
    )


class DocumentNotReady(DocumentUnavailable):
    message = (
        "The document at document_url has not been fetched yet. Try again once the fax is "
        "sending, delivered or failed."
    )


class DocumentMissing(DocumentUnavailable):
    message = "This fax has no stored document: it finished before its document_url was fetched."


class DocumentUnreadable(DocumentUnavailable):
    message = (
        "The stored document cannot be read back (it is missing or fails its integrity check). "
        "Contact support with the fax id."
    )


class StorageUnavailable(DocumentUnavailable):
    message = "The document storage cannot be reached right now. Try again in a minute."


class FaxInProgress(Exception):
    """The fax is still queued or sending: its document is still needed."""


@dataclass
class DocumentDownload:
    """A document ready to stream: `size` bytes of PDF in `chunks` (decrypted as they go)."""

    filename: str
    content_type: str
    size: int
    chunks: Iterator[bytes]


def document_downloads_exhausted(*, account_id: int) -> int | None:
    """Count one download of the account's documents (the API's and the dashboard's together)
    against DOCUMENT_DOWNLOAD_RATE; the seconds until the next window when the budget is spent,
    else None. A sent fax's document is stamped with its header line at each download, up to
    half a second of CPU for 350 pages, so that reads alone must not let one account spend the
    web tier on it. Fails open when Redis does not answer, as every budget does."""
    usage = ratelimit.hit(
        bucket="document-download",
        key_id=str(account_id),
        rate=ratelimit.Rate.parse(settings.DOCUMENT_DOWNLOAD_RATE),
    )
    if usage is None or usage.allowed:
        return None
    return usage.reset


def fax_document_download(*, fax: Fax, actor: Actor, via: str) -> DocumentDownload:
    """Open the fax's document for download and record who downloaded it (`actor`, with their
    address) in the audit log; `via` is "api", "dashboard" or "admin". A sent fax's document
    comes with its header line, exactly as its latest submission sent it (see the module's
    docstring). The first chunk is decrypted before this returns (a stamped document, all of
    it), so a missing key or an altered header is an exception here, not a broken download."""
    header = fax_header_line_shown(fax)
    reader, first, chunks = _open_document(fax)
    if header is None:
        size = (
            reader.size if reader.size is not None else fax.document.storage.size(fax.document.name)
        )
        stream = _rest(fax.id, first, chunks, reader)
    else:
        stamped = _stamped(fax, _read_all(fax, reader, first, chunks), header=header)
        size, stream = len(stamped), _chunked(stamped)
    _audit_seen(fax, actor, Action.DOCUMENT_DOWNLOADED, {"via": via, "livemode": fax.livemode})
    return DocumentDownload(
        filename=f"{fax.id}.pdf", content_type="application/pdf", size=size, chunks=stream
    )


def fax_document_preview(*, fax: Fax, actor: Actor, via: str) -> bytes:
    """The first page of the fax as a PNG, exactly as it was (or will be) sent: a sent fax's
    cover page and header line included; a received fax's first page. Recorded in the audit
    log as the page viewed. Raises what `fax_document_download` raises; a document that cannot
    be rendered is DocumentUnreadable."""
    header = fax_header_line_shown(fax)
    reader, first, chunks = _open_document(fax)
    pdf = _read_all(fax, reader, first, chunks)
    try:
        page = first_page_stamped(pdf, text=header)
        del pdf
        image = render_page_png(page, page_number=1, scale=PREVIEW_SCALE)
    except (pikepdf.PdfError, DocumentError) as error:
        logger.error(
            "Fax %s: its stored document cannot be rendered (%s)", fax.id, type(error).__name__
        )
        raise DocumentUnreadable() from None
    details = {"page": 1, "via": via, "direction": fax.direction, "livemode": fax.livemode}
    _audit_seen(fax, actor, Action.DOCUMENT_VIEWED, details)
    return image


def _stamped(fax: Fax, pdf: bytes, *, header: str) -> bytes:
    """`pdf` with the header line; DocumentUnreadable when it cannot be stamped (it was when
    accepted, so that means damage: logged by type only, a library's message may quote it)."""
    try:
        return stamp_header(pdf, text=header)
    except pikepdf.PdfError as error:
        logger.error(
            "Fax %s: its stored document cannot be stamped (%s)", fax.id, type(error).__name__
        )
        raise DocumentUnreadable() from None


def _audit_seen(fax: Fax, actor: Actor, action: str, details: dict[str, Any]) -> None:
    audit_record(
        action=action,
        account_id=fax.account_id,
        actor=actor,
        target_type="fax",
        target_id=fax.id,
        target_label=fax.id,
        details=details,
    )


def _open_document(fax: Fax) -> tuple[Any, bytes, Iterator[bytes]]:
    """The fax's stored document opened for reading: the decrypting reader, its first chunk
    (already decrypted) and the rest of its chunks. Raises DocumentUnavailable."""
    if fax.document_purged_at is not None:
        raise DocumentPurged()
    if not fax.document:
        raise DocumentNotReady() if not fax.is_terminal else DocumentMissing()
    storage = fax.document.storage
    try:
        reader = storage.open_plaintext(fax.document.name)
    except FileNotFoundError:
        logger.error("Fax %s: its stored document is missing", fax.id)
        raise DocumentUnreadable() from None
    except DocumentCryptoError as error:
        logger.error("Fax %s: its stored document cannot be decrypted: %s", fax.id, error)
        raise DocumentUnreadable() from None
    except storage_outage_errors() as error:
        logger.warning("Fax %s: document storage unavailable: %s", fax.id, type(error).__name__)
        raise StorageUnavailable() from None
    try:
        chunks = reader.chunks()
        first = next(chunks, b"")
    except DocumentCryptoError as error:
        reader.close()
        logger.error("Fax %s: its stored document cannot be decrypted: %s", fax.id, error)
        raise DocumentUnreadable() from None
    except storage_outage_errors() as error:
        reader.close()
        logger.warning("Fax %s: document storage unavailable: %s", fax.id, type(error).__name__)
        raise StorageUnavailable() from None
    return reader, first, chunks


def _read_all(fax: Fax, reader: Any, first: bytes, chunks: Iterator[bytes]) -> bytes:
    """The whole decrypted document; DocumentUnreadable or StorageUnavailable when a chunk
    fails (nothing has been sent yet, so the client gets a proper error)."""
    parts = [first]
    try:
        parts.extend(chunks)
    except DocumentCryptoError as error:
        logger.error("Fax %s: its stored document cannot be decrypted: %s", fax.id, error)
        raise DocumentUnreadable() from None
    except storage_outage_errors() as error:
        logger.warning("Fax %s: document storage unavailable: %s", fax.id, type(error).__name__)
        raise StorageUnavailable() from None
    finally:
        reader.close()
    return b"".join(parts)


def _chunked(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), STREAM_CHUNK):
        yield bytes(view[start : start + STREAM_CHUNK])


def _rest(fax_id: str, first: bytes, chunks: Iterator[bytes], reader: object) -> Iterator[bytes]:
    """The document's chunks, the first already decrypted. A chunk failing later (altered in
    the middle, storage gone) cuts the download short: the error is logged and raised, so the
    server drops the connection and the client sees fewer bytes than Content-Length."""
    try:
        yield first
        try:
            yield from chunks
        except (DocumentCryptoError, *storage_outage_errors()) as error:
            logger.error("Fax %s: download cut short: %s", fax_id, type(error).__name__)
            raise
    finally:
        reader.close()  # type: ignore[attr-defined]


def fax_parts_delete(*, fax: Fax) -> None:
    """Delete the inline documents a fax mixing inline and URL documents keeps for its fetch
    (`Fax.document_parts`): once its document is assembled, when it fails, and when it is
    purged. Deleting one already gone is harmless."""
    for part in fax.document_parts:
        if part.get("stored"):
            fax.document.storage.delete(part["stored"])


def fax_document_delete(*, fax: Fax) -> Fax:
    """Delete the fax's document now, on the customer's request: FaxInProgress unless the fax is
    delivered, failed or canceled. Deleting it again changes nothing. Returns the fax as it is
    now."""
    if not fax.is_terminal:
        raise FaxInProgress()
    fax_document_purge(fax=fax, reason="request")
    fax.refresh_from_db()
    return fax


def fax_document_purge(*, fax: Fax, reason: str) -> bool:
    """Delete the stored document of a finished fax and mark it purged, keeping every other
    field. True if this call marked it; False if it was already purged (or is not finished).
    `reason` ("retention" or "request") goes into the fax's history."""
    return faxes_documents_purge(faxes=[fax], reason=reason) == 1


def faxes_documents_purge(*, faxes: list[Fax], reason: str) -> int:
    """`fax_document_purge` for many faxes at once: each object deleted, then the lot marked in
    one transaction (one commit per batch, not per fax). Returns how many this call marked."""
    finished = [f for f in faxes if f.is_terminal and f.document_purged_at is None]
    for fax in finished:
        if fax.document.name:
            fax.document.storage.delete(fax.document.name)
        # A mixed fax canceled or failed before its fetch ran still has its inline documents.
        fax_parts_delete(fax=fax)
    if not finished:
        return 0
    now = timezone.now()
    with transaction.atomic():
        marked = list(
            Fax.objects.select_for_update()
            .filter(
                pk__in=[fax.pk for fax in finished],
                document_purged_at__isnull=True,
                status__in=TERMINAL_STATUSES,
            )
            .values_list("pk", flat=True)
        )
        Fax.objects.filter(pk__in=marked).update(
            document_purged_at=now, document="", updated_at=now
        )
        FaxEvent.objects.bulk_create(
            FaxEvent(
                fax_id=fax_id,
                source="retention" if reason == "retention" else "api",
                type="document.purged",
                occurred_at=now,
                payload={"reason": reason},
            )
            for fax_id in marked
        )
    return len(marked)


def faxes_past_retention(*, now: datetime) -> QuerySet[Fax]:
    """Finished faxes whose document is still stored and whose account's retention has run out
    (counted from `completed_at`), oldest first.

    The cutoff is written out for each retention the accounts use (a handful of values), rather
    than as `now - days * interval` in SQL: SQLite, the embedded default of `make run`, cannot
    multiply an interval."""
    retentions = Account.objects.values_list("document_retention_days", flat=True).distinct()
    past = Q(pk__in=[])
    for days in retentions.order_by():
        past |= Q(
            account__document_retention_days=days, completed_at__lte=now - timedelta(days=days)
        )
    return (
        Fax.objects.filter(
            past,
            document_purged_at__isnull=True,
            completed_at__isnull=False,
            status__in=TERMINAL_STATUSES,
        )
        .only("id", "status", "document", "document_parts", "document_purged_at", "completed_at")
        .order_by("completed_at", "id")
    )


def documents_purge_due(
    *, now: datetime | None = None, batch: int = PURGE_BATCH, limit: int = PURGE_RUN_LIMIT
) -> int:
    """Purge the documents whose retention has run out, `batch` faxes a query, at most `limit`
    in this run (the next run goes on). Safe to run twice at once. Returns how many were
    purged."""
    now = now or timezone.now()
    purged = 0
    while purged < limit:
        faxes = list(faxes_past_retention(now=now)[: min(batch, limit - purged)])
        marked = faxes_documents_purge(faxes=faxes, reason="retention")
        purged += marked
        # A short batch is the last; one where another run marked every fax first may be too.
        if len(faxes) < batch or not marked:
            break
    return purged
