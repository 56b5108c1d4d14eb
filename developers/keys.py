"""API key secrets: generation, the checksum, and the keyed digest they are stored under.

A key reads `sfm_live_` (or `sfm_test_`), 40 random [A-Za-z0-9] characters (238 bits), then a
6-character checksum of those 40, which lets a mistyped key be refused before any query.

Only `digest()` of a key is stored: HMAC-SHA256 keyed with API_KEY_PEPPER, so a database dump alone
cannot be used to test guesses, and rotating SECRET_KEY leaves keys working.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import zlib

from django.conf import settings

from sendfaxmail.lib.ids import ALPHABET, random_string

LIVE_PREFIX = "sfm_live_"
TEST_PREFIX = "sfm_test_"
RANDOM_LENGTH = 40
CHECKSUM_LENGTH = 6
DISPLAY_LENGTH = 4
KEY_SHAPE = re.compile(
    rf"^sfm_(live|test)_([A-Za-z0-9]{{{RANDOM_LENGTH}}})([A-Za-z0-9]{{{CHECKSUM_LENGTH}}})$"
)


def _checksum(random_part: str) -> str:
    """CRC32 of the random part in 6 base-62 characters (as GitHub's token checksums do)."""
    value = zlib.crc32(random_part.encode())
    chars = []
    for _ in range(CHECKSUM_LENGTH):
        value, rest = divmod(value, len(ALPHABET))
        chars.append(ALPHABET[rest])
    return "".join(reversed(chars))


def generate(*, livemode: bool = True) -> str:
    """A new secret key. It is shown once and never stored."""
    random_part = random_string(RANDOM_LENGTH)
    prefix = LIVE_PREFIX if livemode else TEST_PREFIX
    return f"{prefix}{random_part}{_checksum(random_part)}"


def is_well_formed(raw: str) -> bool:
    """Whether `raw` has a key's shape and a correct checksum. Needs no database."""
    match = KEY_SHAPE.match(raw)
    return bool(match) and hmac.compare_digest(_checksum(match.group(2)), match.group(3))


def digest(raw: str) -> str:
    """The hex HMAC-SHA256 of the key under API_KEY_PEPPER: the only form that is stored."""
    return hmac.new(settings.API_KEY_PEPPER.encode(), raw.encode(), hashlib.sha256).hexdigest()


def display_prefix(raw: str) -> str:
    """What the dashboard shows to tell keys apart, e.g. `sfm_live_AbC1`."""
    return raw[: len(LIVE_PREFIX) + DISPLAY_LENGTH]
