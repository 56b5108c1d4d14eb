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
