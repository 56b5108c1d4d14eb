"""A person opens the inbox, sees a new fax, opens it and sees its page."""

from __future__ import annotations

import pytest

from faxes.services import inbound
from tests import documents
from tests.conftest import log_in
from tests.factories import AccountFactory

pytestmark = pytest.mark.browser


def test_a_received_fax_opens_from_the_inbox_with_its_page_image(
    live_server, transactional_db, page, pipeline
) -> None:
    account = AccountFactory(plan_slug="starter", with_number=True)
    fax = inbound.inbound_fax_simulate(
        number=account.fax_numbers.get().number,
        from_="anonymous",
        document=documents.pdf_bytes(pages=1),
        livemode=True,
    )

    log_in(page, live_server.url, account)
    page.click("nav >> text=Inbox")
    assert page.locator("#inbox tr.unread").count() == 1
    page.click(f"text={fax.id}")
    image = page.locator("#fax-pages img")
    image.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('#fax-pages img'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )

    assert image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [918, 1188]
    page.goto(f"{live_server.url}/dashboard/inbox")
    assert page.locator("#inbox tr.unread").count() == 0
