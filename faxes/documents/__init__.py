"""Validating and normalising the documents customers ask us to fax.

Two callers use this module: the API, which decodes an inline base64 document at request time, and
the worker, which checks the bytes it fetched from a customer's URL. Both get either a
`PreparedDocument` (a PDF ready for the carrier) or a `DocumentError` whose message tells the
customer what to fix.

Documents are PHI. Nothing here logs their bytes, and errors from the PDF and image libraries are
logged by type only, because their messages can quote fragments of the file.
"""

from __future__ import annotations

from faxes.documents.base import (
    ACCEPTED_CONTENT_TYPES,
    FAX_PAGE_PIXELS,
    MAX_DECODED_PIXELS,
    MAX_JPEG_PAGE_PIXELS,
    MAX_PAGE_PIXELS,
    MAX_PAGES,
    DocumentError,
    PreparedDocument,
)
from faxes.documents.encoding import decode_base64, sniff_content_type
from faxes.documents.prepare import check_document, convert_document, prepare_document

__all__ = [
    "ACCEPTED_CONTENT_TYPES",
    "FAX_PAGE_PIXELS",
    "MAX_DECODED_PIXELS",
    "MAX_JPEG_PAGE_PIXELS",
    "MAX_PAGES",
    "MAX_PAGE_PIXELS",
    "DocumentError",
    "PreparedDocument",
    "check_document",
    "convert_document",
    "decode_base64",
    "prepare_document",
    "sniff_content_type",
]
