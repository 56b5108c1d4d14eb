"""Deploy checks (`manage.py check --deploy`) for settings that start fine but fail in use.

Each is an Error, so `check --deploy` exits non-zero; the README lists them with their ids.

- sendfaxmail.E001: API_KEY_PEPPER is short or guessable (every stored key digest is keyed by it).
- sendfaxmail.E002: with FAX_CARRIER=telnyx, PUBLIC_BASE_URL is not https (Telnyx would post fax
  events, phone numbers included, in clear).
- sendfaxmail.E003: with FAX_CARRIER=telnyx, PUBLIC_BASE_URL names a host Telnyx cannot reach
  (localhost, a private or loopback address, a name without a dot).
- sendfaxmail.E004: TELNYX_PUBLIC_KEY is not base64 of 32 bytes (every webhook would be refused).
- sendfaxmail.E005: with FAX_CARRIER=telnyx, TELNYX_API_BASE is not https (the API key and the
  documents would travel in clear).
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from sendfaxmail.lib.signing import load_ed25519_public_key

MIN_PEPPER_LENGTH = 32
MIN_PEPPER_CHARACTERS = 5
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


@register(Tags.security, deploy=True)
def check_api_key_pepper(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    pepper = settings.API_KEY_PEPPER
    if (
        len(pepper) >= MIN_PEPPER_LENGTH
        and len(set(pepper)) >= MIN_PEPPER_CHARACTERS
        and not pepper.startswith("insecure-")
    ):
        return []
    return [
        Error(
            f"API_KEY_PEPPER is shorter than {MIN_PEPPER_LENGTH} characters, has fewer than "
            f"{MIN_PEPPER_CHARACTERS} different characters, or is the development default.",
            hint='Generate one: python -c "import secrets; print(secrets.token_urlsafe(50))". '
            "Changing it invalidates every API key.",
            id="sendfaxmail.E001",
        )
    ]


@register(Tags.security, deploy=True)
def check_public_base_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.FAX_CARRIER != "telnyx":
        return []
    url = urlsplit(settings.PUBLIC_BASE_URL)
    errors: list[CheckMessage] = []
    if url.scheme != "https":
        errors.append(
            Error(
                "PUBLIC_BASE_URL is not an https:// URL, so Telnyx would post fax events to it "
                "in clear.",
                hint="Set PUBLIC_BASE_URL to this service's public https:// address.",
                id="sendfaxmail.E002",
            )
        )
    if not _publicly_reachable(url.hostname or ""):
        errors.append(
            Error(
                f"PUBLIC_BASE_URL names {url.hostname or 'no host'!r}, which Telnyx cannot reach: "
                "its webhooks would never arrive.",
                hint="Set PUBLIC_BASE_URL to the public address Telnyx can post to "
                "({PUBLIC_BASE_URL}/webhooks/telnyx).",
                id="sendfaxmail.E003",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def check_telnyx_public_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not settings.TELNYX_PUBLIC_KEY:
        return []
    try:
        load_ed25519_public_key(settings.TELNYX_PUBLIC_KEY)
    except ValueError:
        return [
            Error(
                "TELNYX_PUBLIC_KEY is not base64 of a 32-byte Ed25519 key: every Telnyx webhook "
                "would be refused.",
                hint="Copy the public key from the Telnyx portal (Account settings, Keys).",
                id="sendfaxmail.E004",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_telnyx_api_base(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.FAX_CARRIER != "telnyx" or urlsplit(settings.TELNYX_API_BASE).scheme == "https":
        return []
    return [
        Error(
            "TELNYX_API_BASE is not an https:// URL: the Telnyx API key and fax documents "
            "would travel in clear.",
            hint="Leave TELNYX_API_BASE unset (https://api.telnyx.com/v2).",
            id="sendfaxmail.E005",
        )
    ]


def _publicly_reachable(host: str) -> bool:
    host = host.lower().rstrip(".")
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        pass
    return "." in host and not host.endswith(_LOCAL_SUFFIXES)
