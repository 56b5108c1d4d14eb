"""A person turns on two-factor login in the browser with a code computed from the secret the
page shows, logs out, and logs in again with a code."""

from __future__ import annotations

import re
import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP

from tests.conftest import log_in
from tests.factories import PASSWORD, AccountFactory

pytestmark = pytest.mark.browser


def code_from_secret(secret: str, *, later: int = 0) -> str:
    """What an authenticator app shows for the typed-in secret, `later` seconds from now."""
    key = b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    totp = TOTP(key)
    totp.time = time.time() + later
    return f"{totp.token():06d}"


def test_enrol_log_out_and_log_in_with_a_code(live_server, transactional_db, page) -> None:
    account = AccountFactory(plan_slug="business", with_number=True)
    log_in(page, live_server.url, account)

    page.click("nav a:has-text('Two-factor')")
    page.click("a:has-text('Set up two-factor login')")
    assert page.locator("#qr-code svg").is_visible()
    secret = page.text_content("#totp-secret").strip()
    page.fill("#id_code", code_from_secret(secret))
    page.click("button:has-text('Turn on')")
    codes = page.locator("#recovery-codes li").all_text_contents()
    assert len(codes) == 10
    page.click("a:has-text('I saved them')")
    page.wait_for_url(re.compile(r".*/dashboard/$"))

    page.click("button:has-text('Log out')")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", account.owner.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/accounts/login/code/$"))
    # The enrolment used this 30-second step's code, and a code is accepted once: type the
    # next step's code, as an app whose clock runs a little ahead would show it.
    page.fill("#id_code", code_from_secret(secret, later=30))
    page.click("button:has-text('Verify')")
    page.wait_for_url(re.compile(r".*/dashboard/$"))
    assert page.locator("h1").text_content() == account.name

    page.goto(f"{live_server.url}/accounts/two-factor/")
    assert page.locator("#two-factor-on").is_visible()
