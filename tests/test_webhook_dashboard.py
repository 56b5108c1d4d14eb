"""Webhook endpoints in /dashboard/developers: plan gating, CSRF, isolation, the log."""

from __future__ import annotations

import re
import time

import pytest
from celery import current_app
from django.test import Client

from accounts.models import Account
from developers.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from developers.services import webhook_deliveries, webhook_endpoints
from faxes.models import FaxStatus
from faxes.services import status as fax_status
from tests.factories import FaxFactory
from tests.receiver import Answer

pytestmark = pytest.mark.django_db

BASE = "/dashboard/developers/webhooks"


def login(account: Account) -> Client:
    client = Client()
    client.force_login(account.owner)
    return client


@pytest.fixture
def endpoint(account: Account, receiver) -> WebhookEndpoint:
    return webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url())


def test_adding_an_endpoint_shows_its_secret_once(
    owner_client: Client, account: Account, receiver
) -> None:
    response = owner_client.post(
        f"{BASE}/new", {"url": receiver.url(), "description": "EHR", "event_types": ["fax.failed"]}
    )

    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get(account=account)
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret in response.content.decode()
    assert endpoint.event_types == ["fax.failed"]
    assert endpoint.secret not in owner_client.get(f"{BASE}/{endpoint.pk}").content.decode()


def test_no_event_chosen_means_all_events(owner_client: Client, account: Account, receiver) -> None:
    owner_client.post(f"{BASE}/new", {"url": receiver.url()})

    assert WebhookEndpoint.objects.get(account=account).event_types == [
        "fax.sending",
        "fax.delivered",
        "fax.failed",
        "fax.canceled",
        "fax.retry_scheduled",
        "fax.received",
    ]


def test_members_can_see_the_secret_on_demand(
    owner_client: Client, endpoint: WebhookEndpoint
) -> None:
    response = owner_client.post(f"{BASE}/{endpoint.pk}/secret")

    assert endpoint.secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://127.0.0.1/hook", "not on the public internet"),
        ("http://hooks.example.com/hook", "https"),
        ("https://10.0.0.5/", "not on the public internet"),
    ],
)
def test_a_refused_url_is_a_clear_form_error(
    owner_client: Client, account: Account, url: str, says: str
) -> None:
    response = owner_client.post(f"{BASE}/new", {"url": url})

    assert response.status_code == 400
    assert says in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_editing_revets_the_url(owner_client: Client, endpoint: WebhookEndpoint) -> None:
    response = owner_client.post(f"{BASE}/{endpoint.pk}/edit", {"url": "https://192.168.0.10/x"})

    assert response.status_code == 400
    endpoint.refresh_from_db()
    assert endpoint.url != "https://192.168.0.10/x"


def test_a_low_plan_sees_an_upgrade_notice_and_cannot_add(
    starter_account: Account, receiver
) -> None:
    client = login(starter_account)

    page = client.get("/dashboard/developers").content.decode()
    response = client.post(f"{BASE}/new", {"url": receiver.url()})

    assert "Add an endpoint" not in page
    assert response.status_code == 403
    assert not WebhookEndpoint.objects.exists()


def test_a_low_plan_can_still_disable_and_delete(starter_account: Account, receiver) -> None:
    first = webhook_endpoints.webhook_endpoint_create(
        account=starter_account, url=receiver.url("/1")
    )
    second = webhook_endpoints.webhook_endpoint_create(
        account=starter_account, url=receiver.url("/2")
    )
    client = login(starter_account)

    client.post(f"{BASE}/{first.pk}/disable")
    client.post(f"{BASE}/{second.pk}/delete")

    first.refresh_from_db()
    assert not first.enabled
    assert not WebhookEndpoint.objects.filter(pk=second.pk).exists()
    assert client.post(f"{BASE}/{first.pk}/enable").status_code == 403
    assert client.post(f"{BASE}/{first.pk}/test").status_code == 403


@pytest.mark.parametrize(
    "action", ["", "/secret", "/edit", "/disable", "/enable", "/delete", "/rotate", "/test"]
)
def test_another_accounts_endpoint_is_a_404(
    owner_client: Client, other_account: Account, receiver, action: str
) -> None:
    theirs = webhook_endpoints.webhook_endpoint_create(account=other_account, url=receiver.url())

    method = owner_client.get if action == "" else owner_client.post
    response = method(f"{BASE}/{theirs.pk}{action}", {"url": receiver.url("/mine")})

    assert response.status_code == 404
    assert WebhookEndpoint.objects.get(pk=theirs.pk).url == receiver.url()


@pytest.mark.parametrize("action", ["/disable", "/delete", "/rotate", "/test", "/secret"])
def test_every_endpoint_form_needs_csrf(
    account: Account, endpoint: WebhookEndpoint, action: str
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(account.owner)

    assert client.post(f"{BASE}/{endpoint.pk}{action}").status_code == 403
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).enabled


def deliver_due() -> None:
    """The webhooks worker's part: claim what is due and attempt it."""
    for delivery_id in webhook_deliveries.webhook_deliveries_claim():
        webhook_deliveries.webhook_delivery_attempt(delivery_id=delivery_id)


def test_send_test_event_answers_without_waiting_for_a_slow_endpoint(
    owner_client: Client, endpoint: WebhookEndpoint, receiver
) -> None:
    receiver.answer(Answer(delay=5))

    started = time.monotonic()
    response = owner_client.post(f"{BASE}/{endpoint.pk}/test")

    assert response.status_code == 302
    assert time.monotonic() - started < 2
    assert receiver.received == []


def test_send_test_event_goes_through_the_webhooks_queue(
    owner_client: Client, endpoint: WebhookEndpoint, pipeline, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"{BASE}/{endpoint.pk}/test")

    [(name, _, _)] = pipeline
    assert current_app.amqp.router.route({}, name)["queue"].name == "webhooks"
    assert WebhookDelivery.objects.get().event.type == "ping"


def test_send_test_event_shows_it_pending_then_its_result(
    owner_client: Client, endpoint: WebhookEndpoint, receiver
) -> None:
    receiver.answer(Answer(status=202, body=b"thanks"))

    response = owner_client.post(f"{BASE}/{endpoint.pk}/test", follow=True)
    page = response.content.decode()
    assert 'id="ping-result"' in page
    assert "Sending" in page
    poll_url = re.search(r'data-poll="([^"]+)"', page).group(1)

    deliver_due()

    result = owner_client.get(poll_url).content.decode()
    assert "Delivered" in result
    assert "202" in result
    assert "data-poll" not in result


def test_test_events_are_limited_to_10_a_minute_per_account(
    owner_client: Client, endpoint: WebhookEndpoint
) -> None:
    for _ in range(10):
        assert owner_client.post(f"{BASE}/{endpoint.pk}/test").status_code == 302

    refused = owner_client.post(f"{BASE}/{endpoint.pk}/test")

    assert refused.status_code == 429
    assert "10 test events a minute" in refused.content.decode()
    assert int(refused["Retry-After"]) >= 1
    assert WebhookDelivery.objects.count() == 10


def test_another_accounts_test_event_is_a_404(
    owner_client: Client, other_account: Account, receiver
) -> None:
    theirs = webhook_endpoints.webhook_endpoint_create(account=other_account, url=receiver.url())
    ping = webhook_deliveries.webhook_endpoint_ping(endpoint=theirs)

    for path in (f"pings/{ping.pk}", f"pings/{ping.pk}/result"):
        assert owner_client.get(f"{BASE}/{theirs.pk}/{path}").status_code == 404


def test_a_17th_endpoint_is_refused_with_a_clear_form_error(
    owner_client: Client, account: Account, receiver
) -> None:
    for n in range(16):
        webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url(f"/{n}"))

    response = owner_client.post(f"{BASE}/new", {"url": receiver.url("/17")})

    assert response.status_code == 400
    assert "at most 16 webhook endpoints" in response.content.decode()
    assert WebhookEndpoint.objects.filter(account=account).count() == 16


def test_rotating_shows_the_new_secret(owner_client: Client, endpoint: WebhookEndpoint) -> None:
    old = endpoint.secret

    page = owner_client.post(f"{BASE}/{endpoint.pk}/rotate").content.decode()

    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.previous_secret == old
    assert endpoint.secret in page


def test_the_delivery_log_shows_attempts_answers_and_next_retry(
    owner_client: Client, account: Account, endpoint, receiver
) -> None:
    receiver.answer(Answer(status=503, body=b"maintenance"))
    fax = FaxFactory(account=account, status=FaxStatus.SENDING)
    fax_status.fax_advance(fax=fax, status=FaxStatus.DELIVERED, source="test")
    deliver_due()

    page = owner_client.get(f"{BASE}/{endpoint.pk}").content.decode()

    assert "fax.delivered" in page
    assert fax.pk in page
    assert "503" in page
    assert "maintenance" in page
    assert "Resend" in page


def test_resend_queues_a_new_delivery(
    owner_client: Client, account: Account, endpoint, receiver
) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SENDING)
    fax_status.fax_advance(fax=fax, status=FaxStatus.FAILED, source="test")
    delivery = WebhookDelivery.objects.get()

    response = owner_client.post(f"{BASE}/{endpoint.pk}/deliveries/{delivery.pk}/resend")

    assert response.status_code == 302
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 2


def test_a_disabled_endpoint_says_why(owner_client: Client, endpoint: WebhookEndpoint) -> None:
    webhook_endpoints.webhook_endpoint_set_enabled(
        endpoint=endpoint, enabled=False, reason="Every delivery failed for 5 days; fix it."
    )

    assert (
        "Every delivery failed for 5 days"
        in owner_client.get("/dashboard/developers").content.decode()
    )
