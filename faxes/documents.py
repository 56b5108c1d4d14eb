"""Validating and normalising the documents customers ask us to fax.

Two callers use this module: the API, which decodes an inline base64 document at request time, and
the worker, which checks the bytes it fetched from a customer's URL. Both get either a
`PreparedDocument` (a PDF ready for the carrier) or a `DocumentError` whose message tells the
customer what to fix.

Documents are PHI. Nothing here logs their bytes, and errors from the PDF and image libraries are
logged by type only, because their messages can quote fragments of the file.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import img2pdf
import pikepdf
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from PIL import ExifTags, Image, ImageOps, TiffImagePlugin

from sendfaxmail.lib.api import LargeString

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
# them all into the PDF as they are: see _image_to_pdf), per document. A black-and-white pixel
# counts a fifth: it costs about that much less to decode and redraw. The budget bounds the
# worst conversion to under half a second of one CPU (0.37 s on the 2-core test machine).
MAX_DECODED_PIXELS = 20_000_000
BILEVEL_DISCOUNT = 5

# Pillow's own decompression-bomb guard stays in place behind those checks: it refuses to open an
# image of more than twice MAX_IMAGE_PIXELS pixels (and warns above it), wherever it is opened,
# img2pdf included.
Image.MAX_IMAGE_PIXELS = MAX_JPEG_PAGE_PIXELS

_PDF = "application/pdf"
_CONTENT = "document.content"
# A document over a pixel budget is refused as a whole: no change to its content fixes that.
_BUDGET = "document"
_MIB = 1024 * 1024
_KIB = 1024

_NAMES = {
    "application/pdf": "a PDF file",
    "image/tiff": "a TIFF image",
    "image/png": "a PNG image",
    "image/jpeg": "a JPEG image",
}
_PIL_FORMATS = {"image/tiff": "TIFF", "image/png": "PNG", "image/jpeg": "JPEG"}
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
# Other file types customers send by mistake, named so that the error can say what we received.
_OTHER_MAGIC = (
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (such as a Word or Excel file)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a Microsoft Office file"),
    (b"{\\rtf", "an RTF document"),
    (b"%!PS", "a PostScript file"),
)
_HEIC_BRANDS = (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc")
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<meta")

# Images are drawn on US Letter pages, shrunk to fit when they are larger than the page and
# otherwise kept at the size their resolution gives them, so a small image is not blown up.
_LETTER_LAYOUT = img2pdf.get_layout_fun(
    pagesize=(img2pdf.in_to_pt(8.5), img2pdf.in_to_pt(11)), fit=img2pdf.FitMode.shrink
)
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_DEEP_GRAY_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N", "F")
_STRIP_OFFSETS = TiffImagePlugin.STRIPOFFSETS
_STRIP_BYTE_COUNTS = TiffImagePlugin.STRIPBYTECOUNTS
_PHOTOMETRIC = TiffImagePlugin.PHOTOMETRIC_INTERPRETATION
_FILL_ORDER = TiffImagePlugin.FILLORDER
# An empty EXIF block: see _as_png.
_NO_EXIF = Image.Exif().tobytes()

_BASE64_JUNK = re.compile(r"[^A-Za-z0-9+/=\r\n]")


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


# Base64


def decode_base64(text: object, *, max_bytes: int | None = None) -> bytes:
    """Decode an inline document sent as strict, standard base64 (RFC 4648 section 4).

    Line breaks (CR and LF) anywhere in `text` are ignored, so base64 wrapped at 76 or 64 columns
    by MIME or PEM tools, or ending with a newline, is accepted. Everything else must be the
    standard alphabet (A-Z, a-z, 0-9, '+', '/') with correct '=' padding: spaces, other
    whitespace, the URL-safe alphabet, data-URL prefixes and missing or misplaced padding are
    refused. The decoded size is worked out from the length before decoding and must be at most
    `max_bytes` (default: settings.MAX_DOCUMENT_BYTES).

    Raises DocumentError(param="document.content") with a message that says what to fix.
    """
    limit = settings.MAX_DOCUMENT_BYTES if max_bytes is None else max_bytes
    if isinstance(text, LargeString):
        return _decode_large(text, limit=limit)
    if not isinstance(text, str):
        raise DocumentError("The content must be a string of base64-encoded bytes.", param=_CONTENT)
    compact = text.replace("\r", "").replace("\n", "")
    if not compact.strip():
        raise DocumentError(
            "The content is empty. Send the document's bytes encoded as base64.", param=_CONTENT
        )
    _check_size(_decoded_length(compact), limit=limit)
    try:
        return binascii.a2b_base64(compact, strict_mode=True)
    except (binascii.Error, ValueError):
        raise DocumentError(_explain_bad_base64(text, compact), param=_CONTENT) from None


def _decode_large(text: LargeString, *, limit: int) -> bytes:
    """Decode base64 that the JSON parser left in the request body's bytes: straight from there,
    with no copy of the text. It has no escapes, so no line breaks either."""
    view = text.view
    padding = 2 if view[-2:] == b"==" else 1 if view[-1:] == b"=" else 0
    _check_size(len(view) * 3 // 4 - padding, limit=limit)
    try:
        return binascii.a2b_base64(view, strict_mode=True)
    except (binascii.Error, ValueError):
        # The error path may copy the text: it says where the first bad character is.
        whole = text.as_str()
        compact = whole.replace("\r", "").replace("\n", "")
        raise DocumentError(_explain_bad_base64(whole, compact), param=_CONTENT) from None


def _decoded_length(compact: str) -> int:
    """How many bytes `compact` decodes to if it is valid base64 (an upper bound otherwise)."""
    # Not `rstrip("=")`: that copies the whole text, 27 MB for a 20 MB document.
    padding = 2 if compact.endswith("==") else 1 if compact.endswith("=") else 0
    return len(compact) * 3 // 4 - padding


def _explain_bad_base64(text: str, compact: str) -> str:
    """Say what is wrong with base64 that failed to decode, as precisely as we can."""
    if text.lstrip().startswith("data:"):
        return "Send only the base64 text, without the 'data:…;base64,' prefix."
    if "-" in compact or "_" in compact:
        return (
            "The content uses the URL-safe base64 alphabet ('-' and '_'). "
            "Encode it with standard base64, which uses '+' and '/'."
        )
    junk = _BASE64_JUNK.search(text)
    if junk is not None:
        return _explain_junk(junk.group(), position=junk.start() + 1)
    if "=" in compact.rstrip("="):
        return "The content has '=' padding before its end; '=' may only end base64 text."
    return (
        "The content's base64 padding is wrong: its length must be a multiple of 4, "
        "ending with at most two '=' characters."
    )


def _explain_junk(character: str, *, position: int) -> str:
    """Describe a character that is not base64 and where it is."""
    if character == " ":
        return (
            f"The content contains a space (character {position}), which base64 never does. "
            "If the text was URL-encoded or form-encoded, a '+' may have become a space."
        )
    return (
        f"The content contains {character!r} (character {position}), which is not base64. "
        "Base64 uses only A-Z, a-z, 0-9, '+', '/' and '=' padding at the end."
    )


# Recognising file types


def sniff_content_type(data: bytes) -> str | None:
    """Return the accepted content type that `data`'s magic bytes announce, or None.

    PDF must start with '%PDF-' at offset 0; PNG, JPEG (FF D8 FF) and TIFF (II*\\0 or MM\\0*) by
    their signatures. Only the first bytes are read; whether the rest is sound is not checked.
    """
    head = bytes(data[:8])
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    return None


def _describe(data: bytes) -> str | None:
    """Name what `data` looks like ("a PNG image", "an HTML page", …), or None if unknown."""
    sniffed = sniff_content_type(data)
    if sniffed is not None:
        return _NAMES[sniffed]
    head = bytes(data[:1024])
    for magic, name in _OTHER_MAGIC:
        if head.startswith(magic):
            return name
    if head[4:12] in _HEIC_BRANDS:
        return "a HEIC photo (save it as JPEG first)"
    return _describe_text(head)


def _describe_text(head: bytes) -> str | None:
    """Name text-based content: HTML, XML, base64 of an accepted file, or plain text."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if any(marker in text for marker in _HTML_MARKERS):
        return "an HTML page"
    if text.startswith(b"<?xml") or text.startswith(b"<svg"):
        return "an XML or SVG document"
    encoded = _describe_base64(head)
    if encoded is not None:
        return encoded
    try:
        decoded = head.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return None
    if decoded and all(char.isprintable() or char.isspace() for char in decoded):
        return "plain text"
    return None


def _describe_base64(head: bytes) -> str | None:
    """Recognise a document that was base64-encoded twice, a common client mistake."""
    try:
        inner = binascii.a2b_base64(head[:12], strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    sniffed = sniff_content_type(inner)
    if sniffed is None:
        return None
    return f"{_NAMES[sniffed]} that was base64-encoded twice"


# Preparing documents


def prepare_document(data: bytes, *, declared_type: str | None) -> PreparedDocument:
    """Validate `data` and turn it into the PDF we fax.

    `declared_type` None means "trust the magic bytes" (URL fetches, where the server's
    Content-Type is unreliable). Otherwise it must be one of ACCEPTED_CONTENT_TYPES (compared
    without regard to case or surrounding spaces), else
    DocumentError(param="document.content_type"), and `data` must really be that type, else
    DocumentError(param="document.content").

    `data` must be non-empty and at most settings.MAX_DOCUMENT_BYTES. A PDF must open, be
    undamaged, be unencrypted (an owner password alone is refused too, because a fax cannot honour
    its restrictions) and have 1 to MAX_PAGES pages; it is returned unchanged, never re-saved.
    PNG and JPEG images become one page, TIFFs one page per frame, on US Letter pages. The cheap
    checks (type, size, magic bytes) come first. An image is then surveyed from its headers, and
    a frame over MAX_PAGE_PIXELS, or an image needing more than MAX_DECODED_PIXELS decoded, is a
    DocumentError(param="document") before any pixel is decoded. Images that cannot be copied
    into the PDF as they are get transparency flattened onto white and samples deeper than 8
    bits scaled down, because img2pdf refuses or mishandles both. Every other failure is a
    DocumentError(param="document.content"); no exception from pikepdf, img2pdf or Pillow
    escapes.
    """
    content_type = _check_declared_type(declared_type)
    if not data:
        raise DocumentError("The document is empty.", param=_CONTENT)
    _check_size(len(data), limit=settings.MAX_DOCUMENT_BYTES)
    content_type = _check_magic(data, declared=content_type)
    pdf = data if content_type == _PDF else _image_to_pdf(data, content_type=content_type)
    page_count = _inspect_pdf(pdf)
    return PreparedDocument(
        pdf=pdf,
        page_count=page_count,
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _check_declared_type(declared_type: object) -> str | None:
    """Return the declared type in canonical (lower) case, or None when nothing was declared."""
    if declared_type is None:
        return None
    normalized = declared_type.strip().lower() if isinstance(declared_type, str) else None
    if normalized not in ACCEPTED_CONTENT_TYPES:
        raise DocumentError(
            f"{declared_type!r} is not a document type we can fax. "
            f"Use one of: {', '.join(ACCEPTED_CONTENT_TYPES)}.",
            param="document.content_type",
        )
    return normalized


def _check_size(size: int, *, limit: int) -> None:
    """Refuse a document of `size` bytes when it is over `limit`."""
    if size > limit:
        raise DocumentError(
            f"The document is too large ({_human_size(size)}); "
            f"it must be at most {_human_size(limit)}.",
            param=_CONTENT,
        )


def _human_size(size: int) -> str:
    """Render a byte count the way the limit is advertised: "20 MB", "25.3 MB", "512 bytes"."""
    for unit, name in ((_MIB, "MB"), (_KIB, "KB")):
        if size >= unit:
            value = f"{size / unit:.1f}".removesuffix(".0")
            return f"{value} {name}"
    return f"{size} bytes"


def _check_magic(data: bytes, *, declared: str | None) -> str:
    """Return the type to process `data` as, once its magic bytes agree with `declared`."""
    sniffed = sniff_content_type(data)
    if sniffed is not None and declared in (None, sniffed):
        return sniffed
    looks_like = _describe(data)
    detail = f" (it looks like {looks_like})" if looks_like else ""
    if declared is None:
        message = f"The document is not a PDF, TIFF, PNG or JPEG file{detail}."
    else:
        message = f"The content is not {_NAMES[declared]}{detail}."
        if sniffed is not None:
            message += f' To send it as it is, set document.content_type to "{sniffed}".'
    raise DocumentError(message, param=_CONTENT)


@contextmanager
def _library_errors(message: str) -> Iterator[None]:
    """Turn any exception from the PDF and image libraries into DocumentError(message).

    Only the exception's type is logged: its message may quote parts of the document.
    """
    try:
        yield
    except DocumentError:
        raise
    except Image.DecompressionBombError:
        raise DocumentError(_too_many_pixels_message(), param=_BUDGET) from None
    except Exception as error:
        logger.info("Refused a document: %s while reading it.", type(error).__name__)
        raise DocumentError(message, param=_CONTENT) from None


# PDFs

_DAMAGED_PDF = (
    "The PDF is damaged or incomplete, so some pages could be lost. "
    "Open it, save or export it as a new PDF, and send that."
)


def _inspect_pdf(pdf_bytes: bytes) -> int:
    """Return the page count of a sound, unencrypted PDF of 1 to MAX_PAGES pages.

    qpdf repairs damaged files silently and can lose pages doing so, so a PDF that needed any
    repair (qpdf warned while reading it) is refused rather than faxed incomplete.
    """
    with _library_errors(_DAMAGED_PDF):
        try:
            with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
                encrypted = pdf.is_encrypted
                page_count = len(pdf.pages)
                damaged = bool(pdf.get_warnings())
        except pikepdf.PasswordError:
            raise DocumentError(
                "The PDF is protected by a password. Remove the password and send it again.",
                param=_CONTENT,
            ) from None
    if encrypted:
        raise DocumentError(
            "The PDF is encrypted with restrictions (such as on printing or copying) that a fax "
            "cannot honour. Save it without a password or restrictions and send it again.",
            param=_CONTENT,
        )
    if damaged:
        raise DocumentError(_DAMAGED_PDF, param=_CONTENT)
    _check_page_count(page_count)
    return page_count


def _check_page_count(page_count: int) -> None:
    """Refuse documents with no pages or more than MAX_PAGES."""
    if page_count == 0:
        raise DocumentError("The document has no pages.", param=_CONTENT)
    if page_count > MAX_PAGES:
        raise DocumentError(
            f"The document has {page_count} pages; a fax may have at most {MAX_PAGES}. "
            "Split it into several faxes.",
            param=_CONTENT,
        )


# Images
#
# Converting an image costs what decoding its pixels costs, and a small file can declare a huge
# number of them, so every image is surveyed first, from its headers alone: the size of each
# frame, whether img2pdf can copy its compressed data into the PDF without decoding it, and how
# many pixels would have to be decoded otherwise. Budgets are checked on that survey before any
# pixel is decoded.


@dataclass(frozen=True)
class _Frame:
    """One frame (page) of an image, as its header declares it."""

    pixels: int
    bilevel: bool
    # img2pdf copies the frame's compressed data into the PDF as it is (JPEG, a single-strip
    # Group 4 TIFF frame, an opaque non-interlaced PNG).
    copied: bool

    @property
    def decoding_cost(self) -> int:
        """What decoding the frame counts against MAX_DECODED_PIXELS."""
        return self.pixels // BILEVEL_DISCOUNT if self.bilevel else self.pixels


def _image_to_pdf(data: bytes, *, content_type: str) -> bytes:
    """Convert a PNG, JPEG or TIFF into a PDF with one page per frame.

    JPEGs and TIFFs whose frames are all single-strip Group 4 (the usual fax TIFF) are copied
    into the PDF as they are, without decoding a pixel. Other images are decoded, within
    MAX_DECODED_PIXELS, and redrawn as upright, opaque greyscale (or black-and-white) pages: a
    fax is black and white, and grey costs a third of colour to redraw. An opaque PNG is copied
    in colour, though img2pdf decodes it to read it, so it counts against the budget too.
    """
    pil_format = _PIL_FORMATS[content_type]
    unreadable = f"The {pil_format} image could not be read: it is damaged or incomplete."
    with _library_errors(unreadable):
        frames = _survey(data, pil_format=pil_format)
        if pil_format == "JPEG":
            _check_jpeg_is_whole(data)
    pdf = None
    if all(frame.copied for frame in frames):
        if pil_format == "PNG":
            _check_decoding_budget(frames)
        pdf = _try_img2pdf(data)
    if pdf is None:
        _check_decoding_budget(frames)
        pages = _redraw(data, pil_format=pil_format, count=len(frames), unreadable=unreadable)
        with _library_errors(f"The {pil_format} image could not be converted to PDF."):
            pdf = _convert_with_img2pdf(*pages)
    if len(pdf) > settings.MAX_DOCUMENT_BYTES:
        raise DocumentError(
            f"Converted to PDF, the image is too large ({_human_size(len(pdf))}); it must be at "
            f"most {_human_size(settings.MAX_DOCUMENT_BYTES)}. Send it as a JPEG, or split it.",
            param=_CONTENT,
        )
    return pdf


def _survey(data: bytes, *, pil_format: str) -> list[_Frame]:
    """Read every frame's header, decoding no pixel; refuse too many frames or a frame too large.

    Only a TIFF has pages: a PNG or JPEG is faxed as its first frame (an animated PNG's other
    frames can only be reached by decoding every frame before them).
    """
    frames: list[_Frame] = []
    with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
        for index in range(MAX_PAGES + 1 if pil_format == "TIFF" else 1):
            try:
                image.seek(index)
            except EOFError:
                break
            if index == MAX_PAGES:
                raise DocumentError(
                    f"The image has more than {MAX_PAGES} pages; a fax may have at most "
                    f"{MAX_PAGES}. Split it into several faxes.",
                    param=_CONTENT,
                )
            width, height = image.size
            limit = MAX_JPEG_PAGE_PIXELS if pil_format == "JPEG" else MAX_PAGE_PIXELS
            if width * height > limit:
                raise DocumentError(
                    _too_many_pixels_message(f"{width} × {height}", limit=limit), param=_BUDGET
                )
            frames.append(
                _Frame(
                    pixels=width * height,
                    bilevel=image.mode == "1",
                    copied=_img2pdf_copies(image, data=data),
                )
            )
    return frames


def _img2pdf_copies(image: Image.Image, *, data: bytes) -> bool:
    """Whether img2pdf copies the current frame's data into the PDF instead of re-encoding it
    (the same tests img2pdf makes), and, for a Group 4 strip, whether the strip is in the file."""
    if image.format == "JPEG":
        return True
    if image.format == "PNG":
        interlaced = data[28] != 0
        icc_palette = image.mode == "P" and "icc_profile" in image.info
        return not (interlaced or icc_palette or _has_alpha(image))
    tags = image.tag_v2  # type: ignore[attr-defined]
    offsets, lengths = tags.get(_STRIP_OFFSETS, ()), tags.get(_STRIP_BYTE_COUNTS, ())
    return (
        image.info.get("compression") == "group4"
        and len(offsets) == len(lengths) == 1
        and offsets[0] + lengths[0] <= len(data)
        and tags.get(_PHOTOMETRIC, 0) in (0, 1)
        and tags.get(_FILL_ORDER, 1) in (1, 2)
    )


def _check_jpeg_is_whole(data: bytes) -> None:
    """Read all of a JPEG's compressed data, to refuse a truncated one, without decoding it at
    full size: at an eighth of its width and height, a 64th of the pixels."""
    with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
        image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()


def _check_decoding_budget(frames: list[_Frame]) -> None:
    """Refuse an image whose frames would take more than MAX_DECODED_PIXELS to decode."""
    cost = sum(frame.decoding_cost for frame in frames)
    if cost > MAX_DECODED_PIXELS:
        raise DocumentError(
            f"The image is too large to convert: that means decoding {_millions(cost)} million "
            "pixels (a black-and-white pixel counts as a fifth), and an image may need at most "
            f"{_millions(MAX_DECODED_PIXELS)} million, about "
            f"{MAX_DECODED_PIXELS // FAX_PAGE_PIXELS} pages at fax resolution or "
            f"{MAX_DECODED_PIXELS * BILEVEL_DISCOUNT // FAX_PAGE_PIXELS} in black and white. "
            "Send it as a PDF, or split it into several faxes.",
            param=_BUDGET,
        )


def _millions(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f}".removesuffix(".0")


def _too_many_pixels_message(dimensions: str | None = None, *, limit: int = MAX_PAGE_PIXELS) -> str:
    size = f"{dimensions} pixels" if dimensions else "too large"
    return (
        f"The image is {size}; a page may have at most {_millions(limit)} million "
        "pixels (a fax page has about 4 million, a Letter or A4 page scanned at 400 dpi about "
        "15 million). Scale it down and send it again."
    )


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def _try_img2pdf(data: bytes) -> bytes | None:
    """Convert `data` as it is, or return None when img2pdf refuses it. A Celery time limit
    reached meanwhile is not a refusal: it propagates."""
    try:
        return _convert_with_img2pdf(data)
    except SoftTimeLimitExceeded:
        raise
    except Exception as error:
        logger.info("img2pdf refused an image (%s); redrawing it.", type(error).__name__)
        return None


def _convert_with_img2pdf(*images: bytes) -> bytes:
    return img2pdf.convert(*images, layout_fun=_LETTER_LAYOUT, rotation=img2pdf.Rotation.ifvalid)


def _redraw(data: bytes, *, pil_format: str, count: int, unreadable: str) -> list[bytes]:
    """Decode the first `count` frames, one at a time, and redraw each as a PNG page."""
    pages = []
    with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
        for index in range(count):
            with _library_errors(unreadable):
                image.seek(index)
                image.load()
            with _library_errors(f"The {pil_format} image could not be converted to PDF."):
                pages.append(_as_png(image))
    return pages


def _as_png(frame: Image.Image) -> bytes:
    """`frame` as a PNG that img2pdf copies without decoding: upright, opaque, in mode 1 or L,
    at the frame's resolution, with an empty EXIF chunk ahead of the pixels (without one, img2pdf
    decodes the whole PNG looking for EXIF data after them)."""
    page = _flatten(_upright(frame))
    dpi = frame.info.get("dpi")
    options = {"dpi": dpi} if dpi and min(dpi) > 0 else {}
    buffer = io.BytesIO()
    page.save(buffer, format="PNG", compress_level=1, exif=_NO_EXIF, **options)
    return buffer.getvalue()


def _upright(frame: Image.Image) -> Image.Image:
    """`frame` turned as its EXIF orientation says (exif_transpose copies even an upright one)."""
    if frame.getexif().get(ExifTags.Base.Orientation, 1) == 1:
        return frame
    return ImageOps.exif_transpose(frame)


def _flatten(frame: Image.Image) -> Image.Image:
    """Return `frame` in mode 1 or L, with transparency composited onto white paper."""
    if _has_alpha(frame):
        rgba = frame if frame.mode == "RGBA" else frame.convert("RGBA")
        paper = Image.new("L", rgba.size, 255)
        paper.paste(rgba.convert("L"), mask=rgba.getchannel("A"))
        return paper
    if frame.mode in _DEEP_GRAY_MODES:
        return _to_8_bit_gray(frame)
    if frame.mode in ("1", "L"):
        return frame
    return frame.convert("L")


def _to_8_bit_gray(frame: Image.Image) -> Image.Image:
    """Scale 16- and 32-bit grey so that the brightest sample becomes white.

    Pillow's own conversion clips instead, which turns most deep images white; scaling to the
    brightest sample also keeps 12-bit scans (common in medical imaging) visible.
    """
    wide = frame.convert("F")
    _, brightest = wide.getextrema()
    scale = 255 / brightest if brightest > 0 else 1.0
    return wide.point(lambda value: value * scale).convert("L")
