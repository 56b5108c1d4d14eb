"""Inline documents arrive as base64; fetched ones as bytes of any kind. This module decodes the
one and says what the other is (by its magic bytes), in words a customer can act on."""

from __future__ import annotations

import binascii
import re

from django.conf import settings

from faxes.documents.base import (
    CONTENT_PARAM,
    TYPE_NAMES,
    DocumentError,
    check_size,
)
from sendfaxmail.lib.api import LargeString

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

_BASE64_JUNK = re.compile(r"[^A-Za-z0-9+/=\r\n]")


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
        raise DocumentError(
            "The content must be a string of base64-encoded bytes.", param=CONTENT_PARAM
        )
    compact = text.replace("\r", "").replace("\n", "")
    if not compact.strip():
        raise DocumentError(
            "The content is empty. Send the document's bytes encoded as base64.",
            param=CONTENT_PARAM,
        )
    check_size(_decoded_length(compact), limit=limit)
    try:
        return binascii.a2b_base64(compact, strict_mode=True)
    except (binascii.Error, ValueError):
        raise DocumentError(_explain_bad_base64(text, compact), param=CONTENT_PARAM) from None


def _decode_large(text: LargeString, *, limit: int) -> bytes:
    """Decode base64 that the JSON parser left in the request body's bytes: straight from there,
    with no copy of the text. It has no escapes, so no line breaks either."""
    view = text.view
    padding = 2 if view[-2:] == b"==" else 1 if view[-1:] == b"=" else 0
    check_size(len(view) * 3 // 4 - padding, limit=limit)
    try:
        return binascii.a2b_base64(view, strict_mode=True)
    except (binascii.Error, ValueError):
        # The error path may copy the text: it says where the first bad character is.
        whole = text.as_str()
        compact = whole.replace("\r", "").replace("\n", "")
        raise DocumentError(_explain_bad_base64(whole, compact), param=CONTENT_PARAM) from None


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


def describe(data: bytes) -> str | None:
    """Name what `data` looks like ("a PNG image", "an HTML page", …), or None if unknown."""
    sniffed = sniff_content_type(data)
    if sniffed is not None:
        return TYPE_NAMES[sniffed]
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
    return f"{TYPE_NAMES[sniffed]} that was base64-encoded twice"
