"""Pages of a stored fax as images, for the dashboard's fax page: rendered on the server from
the decrypted PDF, so a document is never reachable at a public URL."""

from __future__ import annotations

import io

import pypdfium2

from faxes.documents.base import DocumentError

# 1.5 × 72 dpi: a US Letter page is 918 × 1188 pixels, legible on screen and a few hundred KB.
RENDER_SCALE = 1.5


def render_page_png(pdf: bytes, *, page_number: int, scale: float = RENDER_SCALE) -> bytes:
    """Page `page_number` (from 1) of `pdf` as a grayscale PNG, at `scale` × 72 dpi.
    DocumentError when the PDF cannot be read or has no such page; no message from PDFium is
    passed on."""
    try:
        document = pypdfium2.PdfDocument(pdf)
    except pypdfium2.PdfiumError:
        raise DocumentError("The document cannot be rendered.") from None
    try:
        if not 1 <= page_number <= len(document):
            raise DocumentError("The document has no such page.")
        page = document[page_number - 1]
        image = page.render(scale=scale, grayscale=True).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False)
        return out.getvalue()
    except pypdfium2.PdfiumError:
        raise DocumentError("The document cannot be rendered.") from None
    finally:
        document.close()


# 0.25 × 72 dpi: a US Letter page is 153 × 198 pixels, a few KB as a grayscale PNG; enough to
# recognise a page and its header line's place, not to read it.
THUMBNAIL_SCALE = 0.25


def render_thumbnails_png(pdf: bytes, *, limit: int, scale: float = THUMBNAIL_SCALE) -> list[bytes]:
    """The first `limit` pages of `pdf` as small grayscale PNGs, the document opened once.
    DocumentError when the PDF cannot be read; no message from PDFium is passed on."""
    try:
        document = pypdfium2.PdfDocument(pdf)
    except pypdfium2.PdfiumError:
        raise DocumentError("The document cannot be rendered.") from None
    try:
        images = []
        for index in range(min(limit, len(document))):
            image = document[index].render(scale=scale, grayscale=True).to_pil()
            out = io.BytesIO()
            image.save(out, format="PNG", optimize=False)
            images.append(out.getvalue())
        return images
    except pypdfium2.PdfiumError:
        raise DocumentError("The document cannot be rendered.") from None
    finally:
        document.close()
