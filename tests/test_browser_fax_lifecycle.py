"""A member resends a delivered fax to another number from its page, and sees a scheduled fax
with its send time in the list."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from faxes.models import Fax, FaxStatus
from tests.conftest import log_in
from tests.factories import AccountFactory, FaxFactory

pytestmark = pytest.mark.browser


def test_a_delivered_fax_is_resent_to_another_number_from_its_page(
    live_server, transactional_db, page, pipeline
) -> None:
    account = AccountFactory(plan_slug="business", with_number=True)
    original = FaxFactory(
        account=account,
        status=FaxStatus.DELIVERED,
        completed_at=timezone.now(),
        document="faxes/original.pdf",
    )
    log_in(page, live_server.url, account)

    page.goto(f"{live_server.url}/dashboard/faxes/{original.pk}")
    page.fill("#resend-to", "+15550108888")
    page.click("#resend-fax-form button")

    page.wait_for_selector("#fax-resent-from")
    new = Fax.objects.get(resent_from=original)
    assert page.url.endswith(new.pk)
    assert "Resent from" in page.text_content("#fax-resent-from")
    assert "+15550108888" in page.text_content("main")
    page.click(f"#fax-resent-from >> text={original.pk}")
    page.wait_for_url(re.compile(rf".*/dashboard/faxes/{original.pk}$"))


def test_a_scheduled_fax_shows_its_send_time_in_the_list(
    live_server, transactional_db, page
) -> None:
    account = AccountFactory(plan_slug="business", with_number=True)
    FaxFactory(
        account=account,
        status=FaxStatus.SCHEDULED,
        send_at=datetime(2031, 1, 2, 9, 30, tzinfo=UTC),
    )
    log_in(page, live_server.url, account)

    page.goto(f"{live_server.url}/dashboard/faxes")

    row = page.text_content("#faxes tbody tr")
    assert "scheduled" in row
    assert "2031-01-02 09:30 UTC" in row
