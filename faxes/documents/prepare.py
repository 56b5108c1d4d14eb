"""Preparing a document: the declared type, the size and the magic bytes first, then the one
expensive step (converting an image, opening a PDF)."""

from __future__ import annotations

import hashlib
import io

import pikepdf
from django.conf import settings

from faxes.documents.base import (
    ACCEPTED_CONTENT_TYPES,
    CONTENT_PARAM,
    PDF_TYPE,
    TYPE_NAMES,
    DocumentError,
    PreparedDocument,
    check_page_count,
    check_size,
    library_errors,
)
from faxes.documents.encoding import describe, sniff_content_type
from faxes.documents.images import image_to_pdf


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
    return convert_document(data, content_type=check_document(data, declared_type=declared_type))


def check_document(data: bytes, *, declared_type: str | None) -> str:
    """The cheap checks of `prepare_document` (declared type, size, magic bytes), which read no
    more than the first bytes of `data`. Returns the type to convert `data` as."""
    content_type = _check_declared_type(declared_type)
    if not data:
        raise DocumentError("The document is empty.", param=CONTENT_PARAM)
    check_size(len(data), limit=settings.MAX_DOCUMENT_BYTES)
    return _check_magic(data, declared=content_type)


def convert_document(data: bytes, *, content_type: str) -> PreparedDocument:
    """The expensive step of `prepare_document`, for `data` that passed `check_document`."""
    pdf = data if content_type == PDF_TYPE else image_to_pdf(data, content_type=content_type)
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


def _check_magic(data: bytes, *, declared: str | None) -> str:
    """Return the type to process `data` as, once its magic bytes agree with `declared`."""
    sniffed = sniff_content_type(data)
    if sniffed is not None and declared in (None, sniffed):
        return sniffed
    looks_like = describe(data)
    detail = f" (it looks like {looks_like})" if looks_like else ""
    if declared is None:
        message = f"The document is not a PDF, TIFF, PNG or JPEG file{detail}."
    else:
        message = f"The content is not {TYPE_NAMES[declared]}{detail}."
        if sniffed is not None:
            message += f' To send it as it is, set document.content_type to "{sniffed}".'
    raise DocumentError(message, param=CONTENT_PARAM)


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
    with library_errors(_DAMAGED_PDF):
        try:
            with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
                encrypted = pdf.is_encrypted
                page_count = len(pdf.pages)
                damaged = bool(pdf.get_warnings())
        except pikepdf.PasswordError:
            raise DocumentError(
                "The PDF is protected by a password. Remove the password and send it again.",
                param=CONTENT_PARAM,
            ) from None
    if encrypted:
        raise DocumentError(
            "The PDF is encrypted with restrictions (such as on printing or copying) that a fax "
            "cannot honour. Save it without a password or restrictions and send it again.",
            param=CONTENT_PARAM,
        )
    if damaged:
        raise DocumentError(_DAMAGED_PDF, param=CONTENT_PARAM)
    check_page_count(page_count)
    return page_count
