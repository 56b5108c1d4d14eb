"""What every step of preparing a document shares: the accepted types and limits, the error
customers see, the prepared result, and the checks more than one step makes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image

logger = logging.getLogger(__name__)

ACCEPTED_CONTENT_TYPES = ("application/pdf", "image/tiff", "image/png", "image/jpeg")
MAX_PAGES = 350

# Pixel budgets for images, checked against the sizes an image declares before any pixel is
# decoded. A fax page is about 1728 x 2200 pixels (3.8 million); a page of an image may have
# about four times that, enough for a Letter or A4 page scanned at 400 dpi (15.5 million).
FAX_PAGE_PIXELS = 1728 * 2200
MAX_PAGE_PIXELS = 16_000_000
# A JPEG is copied into the PDF without being decoded (its completeness is checked at an eighth of
# its size), so a photo of a page from a phone camera (12 to 50 million pixels) may be larger.
MAX_JPEG_PAGE_PIXELS = 50_000_000
# The pixels of an image that must be decoded to convert it (every frame, unless img2pdf copies
# them all into the PDF as they are: see image_to_pdf), per document. A black-and-white pixel
# counts a fifth: it costs about that much less to decode and redraw. The budget bounds the
# worst conversion to under half a second of one CPU (0.37 s on the 2-core test machine).
MAX_DECODED_PIXELS = 20_000_000
BILEVEL_DISCOUNT = 5

# Pillow's own decompression-bomb guard stays in place behind those checks: it refuses to open an
# image of more than twice MAX_IMAGE_PIXELS pixels (and warns above it), wherever it is opened,
# img2pdf included.
Image.MAX_IMAGE_PIXELS = MAX_JPEG_PAGE_PIXELS

PDF_TYPE = "application/pdf"
CONTENT_PARAM = "document.content"
# A document over a pixel budget is refused as a whole: no change to its content fixes that.
BUDGET_PARAM = "document"
# Decimal units, as the limits are set and advertised (MAX_DOCUMENT_BYTES is 20 * 1000 * 1000).
_MB = 1000 * 1000
_KB = 1000

TYPE_NAMES = {
    "application/pdf": "a PDF file",
    "image/tiff": "a TIFF image",
    "image/png": "a PNG image",
    "image/jpeg": "a JPEG image",
}
PIL_FORMATS = {"image/tiff": "TIFF", "image/png": "PNG", "image/jpeg": "JPEG"}


class DocumentError(Exception):
    """The document cannot be faxed.

    `message` tells the customer what to fix; `param` names the field at fault
    ("document.content", "document.content_type"), is "document" for an image over a pixel
    budget, or is None; `reason` is always "document_invalid", for callers that record why a fax
    failed.
    """

    reason = "document_invalid"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True)
class PreparedDocument:
    """A document ready to fax.

    `pdf` is what is faxed (images already converted); `content_type`, `size_bytes` and `sha256`
    describe the bytes the customer sent, before any conversion. `pdf` stays out of `repr()` so
    that logging a PreparedDocument never logs the document.
    """

    pdf: bytes = field(repr=False)
    page_count: int
    content_type: str
    size_bytes: int
    sha256: str


def check_size(size: int, *, limit: int) -> None:
    """Refuse a document of `size` bytes when it is over `limit`."""
    if size > limit:
        raise DocumentError(
            f"The document is too large ({human_size(size)}); "
            f"it must be at most {human_size(limit)}.",
            param=CONTENT_PARAM,
        )


def human_size(size: int) -> str:
    """Render a byte count the way the limit is advertised: "20 MB", "25.3 MB", "512 bytes"."""
    for unit, name in ((_MB, "MB"), (_KB, "KB")):
        if size >= unit:
            value = f"{size / unit:.1f}".removesuffix(".0")
            return f"{value} {name}"
    return f"{size} bytes"


@contextmanager
def library_errors(message: str) -> Iterator[None]:
    """Turn any exception from the PDF and image libraries into DocumentError(message).

    Only the exception's type is logged: its message may quote parts of the document.
    """
    try:
        yield
    except DocumentError:
        raise
    except Image.DecompressionBombError:
        raise DocumentError(too_many_pixels_message(), param=BUDGET_PARAM) from None
    except Exception as error:
        logger.info("Refused a document: %s while reading it.", type(error).__name__)
        raise DocumentError(message, param=CONTENT_PARAM) from None


def check_page_count(page_count: int) -> None:
    """Refuse documents with no pages or more than MAX_PAGES."""
    if page_count == 0:
        raise DocumentError("The document has no pages.", param=CONTENT_PARAM)
    if page_count > MAX_PAGES:
        raise DocumentError(
            f"The document has {page_count} pages; a fax may have at most {MAX_PAGES}. "
            "Split it into several faxes.",
            param=CONTENT_PARAM,
        )


def millions(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f}".removesuffix(".0")


def too_many_pixels_message(dimensions: str | None = None, *, limit: int = MAX_PAGE_PIXELS) -> str:
    size = f"{dimensions} pixels" if dimensions else "too large"
    return (
        f"The image is {size}; a page may have at most {millions(limit)} million "
        "pixels (a fax page has about 4 million, a Letter or A4 page scanned at 400 dpi about "
        "15 million). Scale it down and send it again."
    )
