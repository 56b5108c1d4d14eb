"""Webhook endpoints in /dashboard/developers: plan gating, CSRF, isolation, the log."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Account
from developers import services
from developers.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
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
    return services.webhook_endpoint_create(account=account, url=receiver.url())


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
    first = services.webhook_endpoint_create(account=starter_account, url=receiver.url("/1"))
    second = services.webhook_endpoint_create(account=starter_account, url=receiver.url("/2"))
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
    theirs = services.webhook_endpoint_create(account=other_account, url=receiver.url())

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


def test_send_test_event_shows_the_result_inline(
    owner_client: Client, endpoint: WebhookEndpoint, receiver
) -> None:
    receiver.answer(Answer(status=202, body=b"thanks"))

    page = owner_client.post(f"{BASE}/{endpoint.pk}/test").content.decode()

    assert 'id="ping-result"' in page
    assert "Delivered" in page
    assert "202" in page


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
    for delivery_id in services.webhook_deliveries_claim():
        services.webhook_delivery_attempt(delivery_id=delivery_id)

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
    services.webhook_endpoint_set_enabled(
        endpoint=endpoint, enabled=False, reason="Every delivery failed for 5 days; fix it."
    )

    assert (
        "Every delivery failed for 5 days"
        in owner_client.get("/dashboard/developers").content.decode()
    )
