"""An integrator quotes a Request-Id; the owner finds that request in Developers → Logs."""

from __future__ import annotations

import time

import pytest
import requests

from developers.models import RequestLogEntry
from developers.services.request_log import request_log_flush
from tests import documents
from tests.conftest import log_in, make_key
from tests.factories import AccountFactory

pytestmark = pytest.mark.browser


def wait_for_entries(account, count: int) -> None:
    """The server buffers each entry once it has sent the answer: give its thread a moment."""
    deadline = time.monotonic() + 5
    while True:
        request_log_flush()
        if RequestLogEntry.objects.filter(account=account).count() >= count:
            return
        assert time.monotonic() < deadline, f"the request log has fewer than {count} entries"
        time.sleep(0.05)


def test_the_owner_finds_a_request_by_its_request_id_and_opens_its_fax(
    live_server, transactional_db, page, pipeline
) -> None:
    account = AccountFactory(plan_slug="business", with_number=True)
    _, secret = make_key(account)
    auth = {"Authorization": f"Bearer {secret}"}
    sent = requests.post(
        f"{live_server.url}/v1/faxes",
        json={"to": "+15551234567", "document": documents.inline_pdf()},
        headers={**auth, "Idempotency-Key": "browser-test-1"},
        timeout=10,
    )
    assert sent.status_code == 201
    for _ in range(3):  # other traffic around it
        assert requests.get(f"{live_server.url}/v1/numbers", headers=auth, timeout=10).ok
    request_id = sent.headers["Request-Id"]
    wait_for_entries(account, 4)

    log_in(page, live_server.url, account)
    page.goto(f"{live_server.url}/dashboard/developers")
    page.click("#logs-link")
    assert page.locator("#request-log tbody tr").count() == 4
    page.fill("#id_request_id", request_id)
    page.click("#log-filters button[type=submit]")

    rows = page.locator("#request-log tbody tr")
    assert rows.count() == 1
    assert "POST /v1/faxes" in rows.inner_text()
    rows.get_by_text(request_id).click()
    assert page.text_content("#detail-request-id").strip() == request_id
    assert "browser-test-1" in page.inner_text("#request-detail")
    page.click("#sent-fax")
    page.wait_for_url(f"**/dashboard/faxes/{sent.json()['id']}")
