"""Sandbox mode: `sfm_test_` keys exercise every outcome without dialing anyone."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import Account
from developers.models import ApiKey, WebhookEvent
from developers.services import webhook_endpoints
from faxes import tasks
from faxes.carrier import decode_client_state
from faxes.models import Fax, FaxStatus
from faxes.services import pipeline as fax_pipeline
from faxes.services import status as fax_status
from tests import documents
from tests.conftest import ApiClient, make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def test_client(account: Account) -> ApiClient:
    return ApiClient(make_key(account, livemode=False)[1])


def send(client: ApiClient, to: str = "+15551234567", **extra) -> dict:
    response = client.post_json(
        "/v1/faxes", {"to": to, "document": documents.inline_pdf(pages=2)}, **extra
    )
    assert response.status_code == 201, response.content
    return response.json()


def marked_as_test(page: str, fax_id: str) -> bool:
    """Whether the fax's own row carries the "test" badge (the mode switch above the table has
    one on every test-mode page)."""
    return re.search(rf'>{fax_id}</a>\s*<span class="badge test">test</span>', page) is not None


def run_pipeline(fax_id: str, pipeline: list) -> None:
    """What the worker does with a fax: submit it, then play the carrier's events."""
    fax_pipeline.fax_submit_to_carrier(fax_id=fax_id)
    for name, _, kwargs in list(pipeline):
        if (
            name == "faxes.tasks.simulator_step_task"
            and decode_client_state(kwargs["client_state"]) == fax_id
        ):
            tasks.simulator_step_task.run(**kwargs)


def test_the_dashboard_creates_test_keys(owner_client: Client, account: Account) -> None:
    response = owner_client.post(
        "/dashboard/developers/keys", {"name": "CI", "mode": "test", "scopes": ["faxes:send"]}
    )

    secret = re.search(r"sfm_test_[A-Za-z0-9]{46}", response.content.decode()).group(0)
    key = ApiKey.objects.get(account=account)
    assert not key.livemode
    assert key.prefix == secret[:13]


def test_the_dashboard_creates_live_keys_by_default(owner_client: Client, account: Account) -> None:
    response = owner_client.post(
        "/dashboard/developers/keys", {"name": "Prod", "scopes": ["faxes:send"]}
    )

    assert re.search(r"sfm_live_[A-Za-z0-9]{46}", response.content.decode())
    assert ApiKey.objects.get(account=account).livemode


def test_the_operator_command_creates_test_keys(account: Account) -> None:
    out = StringIO()

    call_command(
        "create_api_key",
        account.owner.email,
        "--scopes",
        "faxes:send,faxes:read",
        "--test",
        stdout=out,
    )

    secret = out.getvalue().strip().splitlines()[-1]
    assert secret.startswith("sfm_test_")
    assert ApiClient(secret).get("/v1/faxes").status_code == 200


def test_test_keys_pass_the_same_plan_gate(starter_account: Account) -> None:
    client = ApiClient(make_key(starter_account, livemode=False)[1])

    assert client.get("/v1/faxes").json()["error"]["code"] == "plan_upgrade_required"


def test_a_test_fax_never_reaches_telnyx(test_client, telnyx, pipeline) -> None:
    fax = send(test_client)

    run_pipeline(fax["id"], pipeline)

    assert len(telnyx.mock.calls) == 0
    body = test_client.get(f"/v1/faxes/{fax['id']}").json()
    assert body["livemode"] is False
    assert body["status"] == "delivered"
    assert Fax.objects.get(pk=fax["id"]).carrier == "simulator"


def test_a_live_key_still_goes_to_the_carrier(api_client, telnyx, pipeline) -> None:
    telnyx.accepts_media()
    telnyx.accepts_fax()
    fax = send(api_client)

    fax_pipeline.fax_submit_to_carrier(fax_id=fax["id"])

    assert fax["livemode"] is True
    assert len(telnyx.posts_to("/faxes")) == 1
    assert Fax.objects.get(pk=fax["id"]).carrier == "telnyx"


@pytest.mark.parametrize(
    ("to", "status", "reason", "event"),
    [
        ("+15551234567", "delivered", None, "fax.delivered"),
        ("+15550000002", "failed", "busy", "fax.failed"),
        ("+15550000003", "failed", "no_answer", "fax.failed"),
        ("+15550000004", "failed", "invalid_number", "fax.failed"),
        ("+15550000005", "failed", "transmission_error", "fax.failed"),
        ("+15550000007", "delivered", None, "fax.delivered"),
    ],
)
def test_each_magic_number_and_its_webhook_events(
    test_client, account, receiver, pipeline, to, status, reason, event
) -> None:
    webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url())
    fax = send(test_client, to=to)

    run_pipeline(fax["id"], pipeline)

    body = test_client.get(f"/v1/faxes/{fax['id']}").json()
    assert (body["status"], body["failure_reason"]) == (status, reason)
    events = WebhookEvent.objects.filter(object_id=fax["id"])
    assert event in set(events.values_list("type", flat=True))
    assert all(e.livemode is False for e in events)
    assert all(e.body["data"]["object"]["livemode"] is False for e in events)


def test_the_worlds_do_not_mix(account: Account, pipeline) -> None:
    live = ApiClient(make_key(account)[1])
    test = ApiClient(make_key(account, livemode=False)[1])
    live_fax, test_fax = send(live), send(test)

    assert [f["id"] for f in live.get("/v1/faxes").json()["data"]] == [live_fax["id"]]
    assert [f["id"] for f in test.get("/v1/faxes").json()["data"]] == [test_fax["id"]]
    assert live.get(f"/v1/faxes/{test_fax['id']}").status_code == 404
    assert test.get(f"/v1/faxes/{live_fax['id']}").status_code == 404


def test_idempotency_keys_are_scoped_per_world(account: Account, pipeline) -> None:
    live = ApiClient(make_key(account)[1])
    test = ApiClient(make_key(account, livemode=False)[1])

    first = send(test, HTTP_IDEMPOTENCY_KEY="same-key")
    second = send(live, HTTP_IDEMPOTENCY_KEY="same-key")

    assert first["id"] != second["id"]
    assert (first["livemode"], second["livemode"]) == (False, True)


def test_a_failing_document_url_fails_as_in_live_mode(test_client, pipeline, monkeypatch) -> None:
    from sendfaxmail.lib.fetch import FetchError

    def refuse(url, **kwargs):
        raise FetchError("The server answered 404.")

    monkeypatch.setattr(fax_pipeline, "fetch", refuse)
    fax_id = test_client.post_json(
        "/v1/faxes", {"to": "+15551234567", "document_url": "https://docs.example.com/x.pdf"}
    ).json()["id"]

    fax_pipeline.fax_fetch_document(fax_id=fax_id)

    body = test_client.get(f"/v1/faxes/{fax_id}").json()
    assert (body["status"], body["failure_reason"]) == ("failed", "document_fetch_failed")


def test_the_dashboard_separates_and_marks_test_faxes(
    owner_client: Client, account: Account, test_client, pipeline
) -> None:
    live_fax = send(ApiClient(make_key(account)[1]))
    test_fax = send(test_client)

    live_page = owner_client.get("/dashboard/faxes").content.decode()
    test_page = owner_client.get("/dashboard/faxes?mode=test").content.decode()

    assert live_fax["id"] in live_page
    assert test_fax["id"] not in live_page
    assert test_fax["id"] in test_page
    assert 'id="test-mode-notice"' in test_page
    assert marked_as_test(test_page, test_fax["id"])
    assert not marked_as_test(live_page, live_fax["id"])


def test_test_deliveries_are_marked_in_the_log(
    owner_client: Client, account: Account, test_client, receiver, pipeline
) -> None:
    endpoint = webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url())
    fax = send(test_client)
    Fax.objects.filter(pk=fax["id"]).update(status=FaxStatus.SENDING)
    fax_status.fax_advance(
        fax=Fax.objects.get(pk=fax["id"]), status=FaxStatus.DELIVERED, source="test"
    )

    page = owner_client.get(f"/dashboard/developers/webhooks/{endpoint.pk}").content.decode()

    assert "badge test" in page
