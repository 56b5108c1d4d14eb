"""Resending a fax: a new fax with the same stored document, `resent_from` the original.

The stored document of a fax is its composed document (documents merged after the cover page),
without the header line, which is stamped at each submission with that submission's time: so a
resend gets its own header with its own date and time. Its cover page is drawn again with the
copy, naming the resend's own numbers. The original is left as it was.

The new fax gets its own copy of the document, never the original's stored object: the
original's retention purge or DELETE /v1/faxes/{id}/document must not take the resend's. The
copy is made by the worker, as a fetched document is stored (`pipeline._copy_resent`), not in
the request: it is a read and a write of up to 20 MB through encryption and, with S3, over the
network, which the client should not wait for, and a storage outage is then retried by the
sweeper instead of failing the request. The request checks only what it can see in the row (the
document is stored and not purged), so that those errors come back at once.

A received fax can be resent too: that forwards it. `to` is then required (sending it back to
our own number makes no sense), it leaves from the number it was received on (or `from`), with
the account's redial defaults, the header line on and no cover page.
"""

from __future__ import annotations

from django.db import transaction

from developers.models import ApiKey
from faxes.documents.compose import CoverPage
from faxes.models import Direction, Fax, FaxStatus
from faxes.services.documents import DocumentMissing, DocumentNotReady, DocumentPurged
from faxes.services.intake import FaxCompose, fax_create, fax_from_number_choose


class ResendRefused(Exception):
    """The resend cannot be made as asked: `param` names the field at fault."""

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def fax_resend_check(*, fax: Fax) -> None:
    """Raise DocumentPurged, DocumentNotReady or DocumentMissing when `fax` has no stored
    document to resend."""
    if fax.document_purged_at is not None:
        raise DocumentPurged()
    if fax.document:
        return
    if fax.direction == Direction.INBOUND:
        if fax.status == FaxStatus.RECEIVING:
            raise DocumentNotReady("The received fax's pages are not stored yet. Try again soon.")
        raise DocumentMissing("This received fax has no stored pages to send.")
    if fax.is_terminal:
        raise DocumentMissing()
    if fax.resent_from_id is not None:
        raise DocumentNotReady("This fax's document is still being copied. Try again soon.")
    raise DocumentNotReady()


@transaction.atomic
def fax_resend(
    *, fax: Fax, api_key: ApiKey | None, to: str | None = None, from_number: str | None = None
) -> Fax:
    """A new fax of `fax`'s stored document to `to` (default: the same number), keeping the
    original's sender, header options, redial settings and client reference (a received fax:
    see the module's docstring). Raises DocumentPurged, DocumentNotReady, DocumentMissing,
    ResendRefused (a received fax without `to`) or FromNumberRefused (the sender is no longer
    one of the account's numbers)."""
    fax_resend_check(fax=fax)
    inbound = fax.direction == Direction.INBOUND
    if inbound and to is None:
        raise ResendRefused("Give 'to', the number to forward this received fax to.", param="to")
    sender = fax_from_number_choose(
        account=fax.account,
        requested=from_number or (fax.to_number if inbound else fax.from_number),
    )
    if inbound:
        compose, retry, reference = FaxCompose(), (None, None), None
    else:
        cover = CoverPage(**fax.cover_page) if fax.cover_page is not None else None
        compose = FaxCompose(
            document_count=fax.document_count,
            cover_page=cover,
            header=fax.header,
            header_text=fax.header_text,
        )
        retry = (fax.retry_attempts, fax.retry_interval_seconds)
        reference = fax.client_reference
    return fax_create(
        account=fax.account,
        api_key=api_key,
        livemode=fax.livemode,
        to=to or fax.to_number,
        from_number=sender,
        document=None,
        document_url=None,
        client_reference=reference,
        retry_attempts=retry[0],
        retry_interval_seconds=retry[1],
        compose=compose,
        resent_from=fax,
    )
