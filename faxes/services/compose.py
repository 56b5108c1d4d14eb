"""The fax as it goes out, composed: documents merged in order, the cover page, the header line.

Two kinds of caller: the dashboard's send page previews a fax before it exists
(`compose_preview`), and a stored fax is shown as it was (or will be) sent (`fax_header_text`,
`fax_header_line_shown`). Both stamp through faxes/documents/compose.py, so what is previewed,
downloaded and submitted is one rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from accounts.models import Account
from faxes.documents import PreparedDocument
from faxes.documents.compose import CoverPage, FaxParties, assemble, header_line, stamp_header
from faxes.models import Direction, Fax


@dataclass(frozen=True)
class ComposedFax:
    """A fax as it would be sent: `pdf` (cover page and header included) and its page count.
    `pdf` stays out of `repr()`, so that logging this never logs the document."""

    pdf: bytes = field(repr=False)
    page_count: int


def compose_preview(
    *,
    documents: Sequence[PreparedDocument],
    cover: CoverPage | None,
    header: bool,
    header_text: str,
    account: Account,
    from_number: str,
    to: str,
    send_at: datetime | None = None,
) -> ComposedFax:
    """The fax these `documents` (in order) would make, exactly as it would go to the carrier if
    sent at `send_at` (default now): after the cover page when there is one, with the header
    line on every page unless `header` is False (`header_text`, when given, in place of the
    account's name). The same composition a send makes, for the dashboard's preview step.

    Raises DocumentError(param="documents") when the whole has more than 350 pages.
    """
    assembled = assemble(documents, cover=cover, parties=FaxParties(account.name, from_number, to))
    pdf = assembled.pdf
    if header:
        text = header_line(
            sent_at=send_at or timezone.now(),
            time_zone=account.time_zone,
            business_name=header_text or account.name,
            from_number=from_number,
        )
        pdf = stamp_header(pdf, text=text)
    return ComposedFax(pdf=pdf, page_count=assembled.page_count)


def fax_stamped(fax: Fax) -> bool:
    """Whether the fax's pages carry the header line: sent faxes that did not turn it off."""
    return fax.direction == Direction.OUTBOUND and fax.header


def fax_header_text(fax: Fax, *, sent_at: datetime) -> str:
    """The fax's header line (before "Page n/N") for a submission at `sent_at`: the date and
    time in the account's time zone, the business name (or the fax's `header_text`) and the
    number it is sent from."""
    return header_line(
        sent_at=sent_at,
        time_zone=fax.account.time_zone,
        business_name=fax.header_text or fax.account.name,
        from_number=fax.from_number,
    )


def fax_send_time(fax: Fax) -> datetime:
    """When a fax not yet submitted would go out, for the header it is shown with: its
    `send_at` while it is scheduled for later, else now. (At submission it is stamped with the
    time it really leaves.)"""
    now = timezone.now()
    return fax.send_at if fax.send_at is not None and fax.send_at > now else now


def fax_header_line_shown(fax: Fax) -> str | None:
    """The header line the fax's document is shown with (downloaded, previewed): the one its
    latest submission was stamped with, or, before any, the one it would get if sent now.
    None when its pages carry no header."""
    if not fax_stamped(fax):
        return None
    return fax.header_line or fax_header_text(fax, sent_at=fax_send_time(fax))
