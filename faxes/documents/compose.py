"""Composing the fax that is sent: documents merged in order, a cover page, the header line.

The cover page is drawn with reportlab. The header is a form XObject written out here (a white
band and two lines of Helvetica, measured with reportlab's font metrics) and overlaid onto each
page with pikepdf: the page's own content is never re-rasterised or re-encoded.

Stamping is deterministic: the same document and the same header text give the same bytes
(pikepdf's deterministic /ID). That is what lets the document stored
without its header be stamped again on download or preview and give exactly the bytes the
carrier received, once the fax records the header text it was sent with.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pikepdf
from reportlab.lib.pagesizes import LETTER
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from faxes.documents.base import MAX_PAGES, DocumentError, PreparedDocument, library_errors

# The param of an error about the documents taken together (their total pages).
TOTAL_PARAM = "documents"

# The header is 9 pt Helvetica: about 25 pixels tall at fine fax resolution (196 dpi), legible
# once faxed, and it sits in the top 0.25 inch, where printed documents leave a margin.
HEADER_FONT_SIZE = 9
HEADER_BASELINE_FROM_TOP = 12
HEADER_MARGIN = 18
# A header line too long for its page (a 60-character name of wide capitals, an A4 or narrower
# page) is set smaller, down to this size, rather than run over "Page n/N" and off the page.
HEADER_MIN_FONT_SIZE = 6
HEADER_GAP = 12  # at least this much space between the line and "Page n/N"
# The business name the header line prints, at most: the settings page and `header_text` keep
# to it, but an account named before that rule (or after its owner's email address) may not.
HEADER_NAME_MAX_LENGTH = 60
COVER_LINE_WIDTH = 84  # characters of 11 pt Helvetica across a Letter page's text width
# The lines of message that fit below the cover page's fields.
COVER_MESSAGE_MAX_LINES = 26
COVER_FIELD_MAX_LENGTH = 60
COVER_MESSAGE_MAX_LENGTH = 2000


@dataclass(frozen=True)
class CoverPage:
    """What a cover page says; every field optional."""

    to_name: str = ""
    from_name: str = ""
    subject: str = ""
    message: str = ""


@dataclass(frozen=True)
class FaxParties:
    """Who sends to whom, as the cover page names them."""

    account_name: str
    from_number: str
    to_number: str


def assemble(
    documents: Sequence[PreparedDocument], *, cover: CoverPage | None, parties: FaxParties
) -> PreparedDocument:
    """The documents merged in order, after the cover page when there is one: the fax as it is
    stored. DocumentError(param="documents") when the whole has more than MAX_PAGES pages.

    One document and no cover page is returned as it is. Otherwise `content_type` is the
    documents' common type ("" when they differ), `size_bytes` their total, and `sha256` that of
    the single document or, for several, of their digests in order.
    """
    pages = sum(document.page_count for document in documents) + (1 if cover else 0)
    if pages > MAX_PAGES:
        raise DocumentError(
            f"The documents have {pages} pages in all; a fax may have at most {MAX_PAGES}. "
            "Split them into several faxes.",
            param=TOTAL_PARAM,
        )
    if len(documents) == 1 and cover is None:
        return documents[0]
    pdfs = [document.pdf for document in documents]
    if cover is not None:
        cover_pdf = render_cover_page(
            cover,
            account_name=parties.account_name,
            from_number=parties.from_number,
            to_number=parties.to_number,
            page_count=pages,
        )
        pdfs.insert(0, cover_pdf)
    types = {document.content_type for document in documents}
    digests = [document.sha256 for document in documents]
    sha256 = digests[0] if len(digests) == 1 else hashlib.sha256("".join(digests).encode())
    with library_errors("The documents could not be merged into one fax."):
        merged = merge_pdfs(pdfs)
    return PreparedDocument(
        pdf=merged,
        page_count=pages,
        content_type=types.pop() if len(types) == 1 else "",
        size_bytes=sum(document.size_bytes for document in documents),
        sha256=sha256 if isinstance(sha256, str) else sha256.hexdigest(),
    )


def merge_pdfs(pdfs: Sequence[bytes]) -> bytes:
    """One PDF with the pages of `pdfs`, in order. A single PDF is returned unchanged."""
    if len(pdfs) == 1:
        return pdfs[0]
    merged = pikepdf.new()
    sources = [pikepdf.open(io.BytesIO(pdf)) for pdf in pdfs]
    try:
        for source in sources:
            merged.pages.extend(source.pages)
        out = io.BytesIO()
        _save_as_is(merged, out)
    finally:
        for source in sources:
            source.close()
    return out.getvalue()


def cover_page_replace(pdf_bytes: bytes, cover_pdf: bytes) -> bytes:
    """`pdf_bytes` with its first page (a cover page) replaced by `cover_pdf`'s one page, the
    other pages kept as they are."""
    with (
        library_errors("The cover page could not be replaced."),
        pikepdf.open(io.BytesIO(pdf_bytes)) as document,
        pikepdf.open(io.BytesIO(cover_pdf)) as cover,
    ):
        del document.pages[0]
        document.pages.insert(0, cover.pages[0])
        out = io.BytesIO()
        _save_as_is(document, out)
    return out.getvalue()


def render_cover_page(
    cover: CoverPage, *, account_name: str, from_number: str, to_number: str, page_count: int
) -> bytes:
    """A one-page Letter PDF: large plain type, black on white, legible at fax resolution.
    `page_count` is the fax's, this page included."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=LETTER, pageCompression=1, invariant=1)
    width, height = LETTER
    left, y = 72, height - 90
    pdf.setFont("Helvetica-Bold", 32)
    pdf.drawString(left, y, "FAX")
    y -= 28
    pdf.setFont("Helvetica", 12)
    pdf.drawString(left, y, account_name)
    y -= 14
    pdf.line(left, y, width - left, y)
    y -= 30
    rows = [
        ("To", cover.to_name),
        ("Fax number", to_number),
        ("From", cover.from_name or account_name),
        ("From fax number", from_number),
        ("Subject", cover.subject),
        ("Pages", f"{page_count} (including this cover page)"),
    ]
    for label, value in rows:
        pdf.setFont("Helvetica-Bold", 13)
        pdf.drawString(left, y, f"{label}:")
        # A long value is set smaller rather than cut: it must stay on the page.
        size = 13
        while size > 8 and pdf.stringWidth(value, "Helvetica", size) > width - left - 130 - left:
            size -= 1
        pdf.setFont("Helvetica", size)
        pdf.drawString(left + 130, y, value)
        y -= 24
    if cover.message:
        y -= 12
        pdf.line(left, y + 14, width - left, y + 14)
        pdf.setFont("Helvetica", 11)
        for line in cover_message_lines(cover.message)[:COVER_MESSAGE_MAX_LINES]:
            pdf.drawString(left, y, line)
            y -= 15
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def cover_message_lines(message: str) -> list[str]:
    """The lines a cover page's message takes, wrapped to the page's width."""
    return [
        line
        for paragraph in message.splitlines()
        for line in (textwrap.wrap(paragraph, COVER_LINE_WIDTH) or [""])
    ]


def header_line(*, sent_at: datetime, time_zone: str, business_name: str, from_number: str) -> str:
    """The header line's text before "Page n/N": the date and time sent in `time_zone` (UTC if
    that is not a zone), the business name (cut to HEADER_NAME_MAX_LENGTH characters, so that
    the line fits its page) and the number the fax is sent from, as 47 U.S.C. § 227(d)(1)(B)
    asks."""
    try:
        zone = ZoneInfo(time_zone)
    except (ValueError, ZoneInfoNotFoundError):
        zone = ZoneInfo("UTC")
    when = sent_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    if len(business_name) > HEADER_NAME_MAX_LENGTH:
        business_name = business_name[: HEADER_NAME_MAX_LENGTH - 1] + "…"
    return f"{when}   {business_name}   Fax {from_number}"


def stamp_header(pdf_bytes: bytes, *, text: str) -> bytes:
    """`pdf_bytes` with `text` and "Page n/N" drawn in the top margin of every page, upright as
    the page is displayed (its /Rotate and crop box honoured). Deterministic: the same
    arguments give the same bytes."""
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        font = _header_font(pdf)
        total = len(pdf.pages)
        for number, page in enumerate(pdf.pages, start=1):
            _overlay(page, _header_form(pdf, page, font, text=text, number=number, total=total))
        _save_as_is(pdf, out)
    return out.getvalue()


def first_page_stamped(pdf_bytes: bytes, *, text: str | None) -> bytes:
    """A one-page PDF: the first page of `pdf_bytes` as `stamp_header` stamps it ("Page 1/N",
    N the whole document's pages), or as it is when `text` is None. Renders as the first page
    of the stamped document does, without stamping the other pages."""
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        total = len(pdf.pages)
        first = pikepdf.new()
        first.pages.append(pdf.pages[0])
        if text is not None:
            page = first.pages[0]
            form = _header_form(first, page, _header_font(first), text=text, number=1, total=total)
            _overlay(page, form)
        out = io.BytesIO()
        _save_as_is(first, out)
    return out.getvalue()


def _header_font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    """Helvetica, one of the 14 fonts every PDF reader has (nothing embedded), in the encoding
    of `_pdf_text`."""
    return pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica,
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )


def _header_form(
    pdf: pikepdf.Pdf,
    page: pikepdf.Page,
    font: pikepdf.Object,
    *,
    text: str,
    number: int,
    total: int,
) -> pikepdf.Stream:
    """A form XObject the size of `page` as displayed, with the header line at its top: `text`
    at the left, "Page n/N" at the right, on a white band so that it stays legible over a page
    printed to its edge. Its drawing is written out here: a white rectangle and two lines of
    text are a few operators, where a reportlab canvas per document cost more than the rest of
    the stamping."""
    width, height = _displayed_size(page)
    baseline = height - HEADER_BASELINE_FROM_TOP
    label = f"Page {number}/{total}"
    label_width = stringWidth(label, "Helvetica", HEADER_FONT_SIZE)
    room = width - 2 * HEADER_MARGIN - HEADER_GAP - label_width
    drawing = b"".join(
        [
            b"1 g 0 %.2f %.2f %d re f 0 g\n" % (baseline - 3, width, HEADER_FONT_SIZE + 5),
            b"BT /F1 %d Tf %.2f %.2f Td %s Tj ET\n"
            % (HEADER_FONT_SIZE, width - HEADER_MARGIN - label_width, baseline, _pdf_text(label)),
            b"BT /F1 %s Tf %d %.2f Td %s Tj ET\n"
            % (
                str(_header_font_size(text, room)).encode(),
                HEADER_MARGIN,
                baseline,
                _pdf_text(text),
            ),
        ]
    )
    return pikepdf.Stream(
        pdf,
        drawing,
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Form,
        BBox=pikepdf.Array([0, 0, width, height]),
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
    )


def _pdf_text(text: str) -> bytes:
    """`text` as a PDF string in WinAnsiEncoding (Latin-1 and the typographic marks, "…"
    included); a character it lacks is drawn as "?"."""
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _overlay(page: pikepdf.Page, form: pikepdf.Stream) -> None:
    """Draw the form XObject over `page`, as `Page.add_overlay(shrink=False, expand=False)`
    does, but under a resource name chosen deterministically (add_overlay picks a random one)."""
    resources = page.resources
    number = 0
    name = pikepdf.Name("/SfmHeader")
    while any(
        isinstance(names, pikepdf.Dictionary) and name in names
        for names in resources.as_dict().values()
    ):
        number += 1
        name = pikepdf.Name(f"/SfmHeader{number}")
    page.add_resource(form, pikepdf.Name.XObject, name)
    placement = page.calc_form_xobject_placement(
        form, name, pikepdf.Rectangle(page.trimbox), allow_shrink=False, allow_expand=False
    )
    page.contents_add(b"q\n", prepend=True)
    page.contents_add(b"Q\n", prepend=False)
    page.contents_add(placement, prepend=False)
    page.contents_coalesce()


def _save_as_is(pdf: pikepdf.Pdf, out: io.BytesIO) -> None:
    """Save with every stream copied as it is: qpdf's default decodes and recompresses them all,
    which is most of the cost of stamping a long scanned document (1.7 s of 1.9 s for 350
    pages) and changes nothing a fax machine sees. The /ID is derived from the content, so that
    saving the same pages twice gives the same bytes."""
    pdf.save(
        out,
        compress_streams=False,
        stream_decode_level=pikepdf.StreamDecodeLevel.none,
        deterministic_id=True,
    )


def _displayed_size(page: pikepdf.Page) -> tuple[float, float]:
    box = page.trimbox
    width, height = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
    rotate = int(page.obj.get("/Rotate", 0)) % 360
    return (height, width) if rotate in (90, 270) else (width, height)


def _header_font_size(text: str, room: float) -> float:
    """The size `text` is set in to fit in `room` points: HEADER_FONT_SIZE when it fits, else
    smaller, but not below HEADER_MIN_FONT_SIZE."""
    width = stringWidth(text, "Helvetica", HEADER_FONT_SIZE)
    if width <= room:
        return HEADER_FONT_SIZE
    return max(HEADER_MIN_FONT_SIZE, round(HEADER_FONT_SIZE * room / width, 1))
