"""A person creates a key in the browser, uses it, and revokes it."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import log_in
from tests.factories import AccountFactory

pytestmark = pytest.mark.browser


def test_a_key_created_in_the_browser_works_until_revoked(
    live_server, transactional_db, page
) -> None:
    account = AccountFactory(plan_slug="business", with_number=True)
    numbers_url = f"{live_server.url}/v1/numbers"

    log_in(page, live_server.url, account)

    page.goto(f"{live_server.url}/dashboard/developers")
    page.fill("#id_name", "Browser key")
    page.check("input[value='faxes:read']")
    page.check("input[value='numbers:read']")
    page.click("#create-key-form button[type=submit]")
    secret = page.text_content("#new-key-secret").strip()
    assert re.fullmatch(r"sfm_live_[A-Za-z0-9]{46}", secret)

    answer = requests.get(numbers_url, headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["data"][0]["number"] == account.fax_numbers.get().number

    page.reload()
    assert secret not in page.content()
    assert page.locator("#api-keys").get_by_text("Browser key").is_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#api-keys button:has-text('Revoke')")
    page.wait_for_selector("#api-keys .badge.bad")

    answer = requests.get(numbers_url, headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_api_key"
