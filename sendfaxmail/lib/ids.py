"""Opaque public identifiers such as `fax_3kTq…`: a type prefix and 24 random characters."""

from __future__ import annotations

import secrets
import string

ALPHABET = string.ascii_letters + string.digits


# Bytes below this, a multiple of 62, map to a character by their remainder: each character is
# then exactly as likely as every other. The rest (8 of 256) are skipped.
_USABLE_BYTE = 256 - 256 % len(ALPHABET)


def random_string(length: int) -> str:
    """Return `length` characters of [A-Za-z0-9] drawn from `secrets` (5.95 bits each).

    One read of the system's random source per call, not one per character: a request id is
    made on every request, and 24 calls of `secrets.choice` cost tens of microseconds.
    """
    chars: list[str] = []
    while len(chars) < length:
        usable = [b for b in secrets.token_bytes(length + 8) if b < _USABLE_BYTE]
        chars.extend(ALPHABET[b % len(ALPHABET)] for b in usable[: length - len(chars)])
    return "".join(chars)


def make_id(prefix: str) -> str:
    """Return a new unguessable id such as `fax_…` (143 bits of randomness)."""
    return f"{prefix}_{random_string(24)}"


def fax_id() -> str:
    return make_id("fax")


def number_id() -> str:
    return make_id("num")


def key_id() -> str:
    return make_id("key")


def webhook_endpoint_id() -> str:
    return make_id("we")


def event_id() -> str:
    return make_id("evt")


def delivery_id() -> str:
    return make_id("whd")


class IdConverter:
    """URL converter `<id:…>` for our ids: letters, digits and `_` only. Anything else (a NUL
    byte, say, which PostgreSQL refuses in text) never reaches a query: the URL does not match."""

    regex = "[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
