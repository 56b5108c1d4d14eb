"""`manage.py check --deploy` refuses production settings that would start but fail in use."""

from __future__ import annotations

import base64

import pytest
from django.core.checks import Tags, run_checks
from django.test import override_settings

GOOD_KEY = base64.b64encode(bytes(range(32))).decode()
TELNYX = {
    "FAX_CARRIER": "telnyx",
    "PUBLIC_BASE_URL": "https://fax.example.com",
    "TELNYX_API_BASE": "https://api.telnyx.com/v2",
    "TELNYX_PUBLIC_KEY": GOOD_KEY,
    "API_KEY_PEPPER": "Zq8#x-k2Lp0-wR5tY-9mNc3-vB7dF-6hJ",
}


def deploy_errors() -> set[str]:
    messages = run_checks(include_deployment_checks=True, tags=[Tags.security])
    return {m.id for m in messages if m.id.startswith("sendfaxmail.")}


def test_it_passes_a_sound_telnyx_configuration() -> None:
    with override_settings(**TELNYX):
        assert deploy_errors() == set()


@pytest.mark.parametrize(
    "pepper", ["x", "p" * 40, "insecure-development-pepper-but-long-enough-now"]
)
def test_a_weak_api_key_pepper_is_e001(pepper: str) -> None:
    with override_settings(**{**TELNYX, "API_KEY_PEPPER": pepper}):
        assert deploy_errors() == {"sendfaxmail.E001"}


def test_an_http_public_base_url_with_telnyx_is_e002() -> None:
    with override_settings(**{**TELNYX, "PUBLIC_BASE_URL": "http://fax.example.com"}):
        assert deploy_errors() == {"sendfaxmail.E002"}


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:8000",
        "https://localhost",
        "https://10.0.0.5",
        "https://[::1]:8443",
        "https://web",
        "https://fax.internal",
    ],
)
def test_a_public_base_url_telnyx_cannot_reach_is_e003(url: str) -> None:
    with override_settings(**{**TELNYX, "PUBLIC_BASE_URL": url}):
        assert deploy_errors() == {"sendfaxmail.E003"}


def test_localhost_over_http_with_telnyx_is_both_e002_and_e003() -> None:
    with override_settings(**{**TELNYX, "PUBLIC_BASE_URL": "http://127.0.0.1:8000"}):
        assert deploy_errors() == {"sendfaxmail.E002", "sendfaxmail.E003"}


def test_a_local_public_base_url_is_fine_with_the_simulator() -> None:
    settings = {**TELNYX, "FAX_CARRIER": "simulator", "PUBLIC_BASE_URL": "http://127.0.0.1:8000"}
    with override_settings(**settings):
        assert deploy_errors() == set()


@pytest.mark.parametrize(
    "key", ["not-a-key", base64.b64encode(b"k" * 31).decode(), GOOD_KEY + "=="]
)
def test_an_unparsable_telnyx_public_key_is_e004(key: str) -> None:
    with override_settings(**{**TELNYX, "TELNYX_PUBLIC_KEY": key}):
        assert deploy_errors() == {"sendfaxmail.E004"}


def test_an_http_telnyx_api_base_is_e005() -> None:
    with override_settings(**{**TELNYX, "TELNYX_API_BASE": "http://api.telnyx.com/v2"}):
        assert deploy_errors() == {"sendfaxmail.E005"}
