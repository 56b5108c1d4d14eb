"""A person asks for a password reset again and again: past the address's budget the form says
so, under the address, and nothing more is mailed."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def test_the_reset_form_says_when_an_address_has_had_its_emails(
    live_server, transactional_db, page, settings, mailoutbox: list
) -> None:
    settings.ACCOUNT_EMAIL_RATE = "2/h"
    UserFactory(email="owner@example.com")

    for _ in range(2):
        page.goto(f"{live_server.url}/accounts/password_reset/")
        page.fill("#id_email", "owner@example.com")
        page.click("button[type=submit]")
        page.wait_for_url("**/accounts/password_reset/done/")
    page.goto(f"{live_server.url}/accounts/password_reset/")
    page.fill("#id_email", "owner@example.com")
    with page.expect_response("**/accounts/password_reset/") as answer:
        page.click("button[type=submit]")

    assert answer.value.status == 429
    assert page.get_by_text("We have already sent several emails to this address").is_visible()
    assert page.input_value("#id_email") == "owner@example.com"
    assert len(mailoutbox) == 2
