"""E.164 phone number checks with the `phonenumbers` library."""

from __future__ import annotations

import re

import phonenumbers

E164_SHAPE = re.compile(r"^\+[1-9][0-9]{7,14}$")
E164_HELP = (
    "Give the number in E.164 form: '+', the country code and the number, "
    "8 to 15 digits in all, with no spaces (for example +15551234567)."
)


class InvalidPhoneNumber(ValueError):
    """The text is not an E.164 number; the message says what to fix."""


def normalize_e164(raw: object) -> str:
    """Return `raw` if it is an E.164 number (`+` then 8–15 digits) that could exist.

    "Could exist" is phonenumbers' *possible* check (length and country code), not *valid*:
    numbers in unassigned ranges such as +1 555 01xx must still be accepted.
    """
    if not isinstance(raw, str) or not E164_SHAPE.match(raw):
        raise InvalidPhoneNumber(E164_HELP)
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(f"{raw} is not a phone number in any country.") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber(f"{raw} has the wrong length for its country code.")
    return raw
