"""A person adds a webhook endpoint, sends a fax with the simulator, and sees the delivery."""

from __future__ import annotations

import json

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from developers.services import webhook_deliveries, webhook_endpoints
from faxes import tasks
from faxes.services import pipeline as fax_pipeline
from tests import documents
from tests.conftest import log_in, make_key
from tests.factories import AccountFactory
from tests.receiver import Answer

pytestmark = pytest.mark.browser


def test_a_fax_sent_with_the_simulator_shows_up_in_the_delivery_log(
    live_server, transactional_db, page, receiver, pipeline
) -> None:
    account = AccountFactory(plan_slug="business", with_number=True)
    _, secret = make_key(account)

    log_in(page, live_server.url, account)
    page.goto(f"{live_server.url}/dashboard/developers")
    page.click("text=Add an endpoint")
    page.fill("#id_url", receiver.url())
    page.fill("#id_description", "Local receiver")
    page.click("#webhook-form button[type=submit]")
    signing_secret = page.text_content("#webhook-secret").strip()
    assert signing_secret.startswith("whsec_")

    response = requests.post(
        f"{live_server.url}/v1/faxes",
        json={"to": "+15551234567", "document": documents.inline_pdf(pages=2)},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    assert response.status_code == 201
    fax_id = response.json()["id"]
    # The worker's part, run here in order: submit, the simulator's events, webhook delivery.
    fax_pipeline.fax_submit_to_carrier(fax_id=fax_id)
    for name, _, kwargs in list(pipeline):
        if name == "faxes.tasks.simulator_step_task":
            tasks.simulator_step_task.run(**kwargs)
    # An endpoint takes one delivery at a time: claim again until nothing is due.
    while claimed := webhook_deliveries.webhook_deliveries_claim():
        for delivery_id in claimed:
            webhook_deliveries.webhook_delivery_attempt(delivery_id=delivery_id)

    page.reload()
    log = page.locator("#deliveries").inner_text()
    assert "fax.delivered" in log
    assert "fax.sending" in log
    assert fax_id in log
    delivered = [r for r in receiver.received if json.loads(r.body)["type"] == "fax.delivered"]
    [event] = [Webhook(signing_secret).verify(r.body, dict(r.headers)) for r in delivered]
    assert event["data"]["object"]["id"] == fax_id
    assert event["data"]["object"]["pages_delivered"] == 2


def test_a_test_event_shows_sending_then_its_answer_without_a_reload(
    live_server, transactional_db, page, receiver, pipeline
) -> None:
    account = AccountFactory(plan_slug="business", with_number=True)
    endpoint = webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url())
    receiver.answer(Answer(status=202, body=b"pong"))

    log_in(page, live_server.url, account)
    page.goto(f"{live_server.url}/dashboard/developers/webhooks/{endpoint.pk}")
    page.click("text=Send test event")
    assert "Sending" in page.text_content("#ping-result")
    assert receiver.received == []
    # The webhooks worker's part.
    for delivery_id in webhook_deliveries.webhook_deliveries_claim():
        webhook_deliveries.webhook_delivery_attempt(delivery_id=delivery_id)

    page.wait_for_selector("#ping-result >> text=Delivered", timeout=10_000)
    assert "202" in page.text_content("#ping-result")
    assert [name for name, _, _ in pipeline] == [
        "developers.tasks.webhook_deliveries_dispatch_task"
    ]
