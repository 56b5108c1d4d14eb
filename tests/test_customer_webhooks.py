"""Customer webhooks: the outbox, Standard Webhooks signatures, retries, and endpoint health."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts.models import Account
from developers.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from developers.services import webhook_deliveries, webhook_endpoints
from faxes.models import Fax, FaxStatus
from faxes.services import status as fax_status
from tests.factories import AccountFactory, FaxFactory
from tests.receiver import Answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(account: Account, receiver) -> WebhookEndpoint:
    return webhook_endpoints.webhook_endpoint_create(
        account=account, url=receiver.url(), description="EHR"
    )


def deliver_due() -> list[WebhookDelivery]:
    return [
        webhook_deliveries.webhook_delivery_attempt(delivery_id=d)
        for d in webhook_deliveries.webhook_deliveries_claim()
    ]


def finish(fax: Fax, status: FaxStatus = FaxStatus.DELIVERED) -> None:
    fax_status.fax_advance(fax=fax, status=status, source="test", pages_delivered=1)


def headers_of(received) -> dict[str, str]:
    return {k: v for k, v in received.headers.items() if k.startswith("webhook-")}


def test_a_status_change_writes_an_event_with_the_fax_as_the_api_shows_it(
    endpoint, account, api_client
) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SENDING)

    finish(fax)

    event = WebhookEvent.objects.get()
    assert event.type == "fax.delivered"
    assert event.body["id"] == event.id
    assert event.body["data"]["object"] == api_client.get(f"/v1/faxes/{fax.id}").json()
    assert WebhookDelivery.objects.get().endpoint == endpoint


def test_no_event_survives_a_rolled_back_change(endpoint, account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SENDING)

    def change_then_crash() -> None:
        with transaction.atomic():
            finish(fax)
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        change_then_crash()

    assert not WebhookEvent.objects.exists()
    assert Fax.objects.get(pk=fax.pk).status == FaxStatus.SENDING


def test_only_subscribed_enabled_endpoints_of_the_account_get_deliveries(
    account, other_account, receiver
) -> None:
    wants_failures = webhook_endpoints.webhook_endpoint_create(
        account=account, url=receiver.url("/a"), event_types=["fax.failed"]
    )
    wants_all = webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url("/b"))
    disabled = webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url("/c"))
    webhook_endpoints.webhook_endpoint_set_enabled(endpoint=disabled, enabled=False)
    webhook_endpoints.webhook_endpoint_create(account=other_account, url=receiver.url("/d"))

    finish(FaxFactory(account=account, status=FaxStatus.SENDING))

    assert {d.endpoint for d in WebhookDelivery.objects.all()} == {wants_all}
    assert wants_failures.event_types == ["fax.failed"]


def test_a_delivery_is_signed_so_the_standardwebhooks_library_verifies_it(
    endpoint, account, receiver
) -> None:
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))

    [delivery] = deliver_due()

    assert delivery.status == DeliveryStatus.SUCCEEDED
    [got] = receiver.received
    payload = Webhook(endpoint.secret).verify(got.body, headers_of(got))
    assert payload["type"] == "fax.delivered"
    assert got.headers["webhook-id"] == delivery.event_id
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("SendFaxMail-Webhooks/")
    tampered = got.body.replace(b"delivered", b"delivereX", 1)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(tampered, headers_of(got))


def test_after_a_rotation_both_secrets_verify_for_24_hours(endpoint, account, receiver) -> None:
    old = endpoint.secret
    new = webhook_endpoints.webhook_endpoint_rotate_secret(endpoint=endpoint)
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))
    deliver_due()
    got = receiver.received[-1]

    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(got.body, headers_of(got))
    Webhook(new).verify(got.body, headers_of(got))

    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        webhook_deliveries.webhook_endpoint_ping(
            endpoint=WebhookEndpoint.objects.get(pk=endpoint.pk)
        )
        deliver_due()
    late = receiver.received[-1]
    assert len(late.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(late.body, headers_of(late))


def test_failures_are_retried_on_the_schedule_then_given_up(endpoint, account, receiver) -> None:
    receiver.answer(*[Answer(status=500)] * 8)
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))
    start = timezone.now()
    gaps = []

    with time_machine.travel(start, tick=True) as clock:
        [delivery] = deliver_due()
        while delivery.status == DeliveryStatus.PENDING:
            gaps.append(delivery.next_attempt_at - delivery.last_attempt_at)
            clock.move_to(delivery.next_attempt_at - timedelta(seconds=1))
            assert webhook_deliveries.webhook_deliveries_claim() == []  # not due yet
            clock.move_to(delivery.next_attempt_at + timedelta(milliseconds=10))
            [delivery] = deliver_due()

    assert gaps == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
    ]
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 8
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert delivery.last_status_code == 500


def test_a_410_disables_the_endpoint(endpoint, account, receiver) -> None:
    receiver.answer(Answer(status=410, body=b"gone"))
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))

    [delivery] = deliver_due()

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at is None


def test_a_redirect_is_a_failure_and_is_not_followed(endpoint, account, receiver) -> None:
    receiver.answer(Answer(status=302, headers={"Location": receiver.url("/elsewhere")}))
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))

    [delivery] = deliver_due()

    assert delivery.status == DeliveryStatus.PENDING
    assert "Redirects are not followed" in delivery.last_error
    assert [r.path for r in receiver.received] == ["/hooks/fax"]


def test_retry_after_on_429_is_honoured(endpoint, account, receiver) -> None:
    receiver.answer(Answer(status=429, headers={"Retry-After": "120"}))
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))

    [delivery] = deliver_due()

    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=120)


def test_the_response_is_logged_truncated(endpoint, account, receiver) -> None:
    receiver.answer(Answer(status=500, body=b"x" * 5000))
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))

    [delivery] = deliver_due()

    assert delivery.last_status_code == 500
    assert len(delivery.last_response_body) == 1000
    assert delivery.last_response_ms is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "http://hooks.example.com/hook",
        "https://[::1]/x",
        "https://user:pw@hooks.example.com/",
    ],
)
def test_registration_refuses_urls_the_ssrf_guard_refuses(account, url: str) -> None:
    with pytest.raises(webhook_endpoints.WebhookError):
        webhook_endpoints.webhook_endpoint_create(account=account, url=url)
    assert not WebhookEndpoint.objects.exists()


def test_the_guard_is_applied_again_at_delivery(endpoint, account, receiver, settings) -> None:
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))
    # The host now resolves to a network that is no longer allowed (DNS rebinding, say).
    settings.FETCH_ALLOWED_NETWORKS = []

    [delivery] = deliver_due()

    assert delivery.status == DeliveryStatus.PENDING
    assert "127.0.0.1" not in delivery.last_error
    assert receiver.received == []


def test_an_endpoint_failing_for_5_days_is_disabled(endpoint, account, receiver) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=5, minutes=1)
    )
    receiver.answer(Answer(status=500))
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))

    deliver_due()

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "5 days" in endpoint.disabled_reason


def test_a_success_clears_the_failing_streak(endpoint, account, receiver) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=4)
    )
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))

    deliver_due()

    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
    assert endpoint.enabled


def test_a_resend_repeats_the_same_event_id(endpoint, account, receiver) -> None:
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))
    [first] = deliver_due()

    webhook_deliveries.webhook_delivery_resend(delivery=first)
    deliver_due()

    assert [r.headers["webhook-id"] for r in receiver.received] == [first.event_id, first.event_id]
    assert WebhookDelivery.objects.count() == 2


def test_a_ping_is_queued_then_delivered_and_says_how_it_went(endpoint, receiver) -> None:
    receiver.answer(Answer(status=204, body=b""))

    queued = webhook_deliveries.webhook_endpoint_ping(endpoint=endpoint)
    assert (queued.status, receiver.received) == (DeliveryStatus.PENDING, [])
    [delivery] = deliver_due()

    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.last_status_code == 204
    assert json.loads(receiver.received[0].body)["type"] == "ping"


def test_a_failed_ping_is_not_retried(endpoint, receiver) -> None:
    receiver.answer(Answer(status=500))
    webhook_deliveries.webhook_endpoint_ping(endpoint=endpoint)

    [delivery] = deliver_due()

    assert delivery.status == DeliveryStatus.FAILED
    assert webhook_deliveries.webhook_deliveries_claim() == []


@pytest.mark.django_db(transaction=True)
def test_a_claim_skips_deliveries_another_transaction_holds(receiver) -> None:
    # Ten accounts with two endpoints each: nothing but the held rows keeps a delivery back.
    deliveries = []
    for _ in range(10):
        account = AccountFactory(plan_slug="business")
        event = WebhookEvent.objects.create(account=account, type="fax.delivered", body={})
        for path in ("/a", "/b"):
            endpoint = webhook_endpoints.webhook_endpoint_create(
                account=account, url=receiver.url(path)
            )
            deliveries.append(
                WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=timezone.now())
            )
    WebhookDelivery.objects.bulk_create(deliveries)
    holding, release = threading.Event(), threading.Event()
    held: list[str] = []

    def other_transaction() -> None:
        # Ten rows locked, not yet committed (a stale attempt recording its result, say).
        with transaction.atomic():
            rows = WebhookDelivery.objects.select_for_update(skip_locked=True).order_by("id")[:10]
            held.extend(rows.values_list("id", flat=True))
            list(WebhookDelivery.objects.select_for_update().filter(pk__in=held))
            holding.set()
            release.wait(10)
        connection.close()

    worker = threading.Thread(target=other_transaction)
    worker.start()
    holding.wait(10)
    try:
        claimed = webhook_deliveries.webhook_deliveries_claim()
    finally:
        release.set()
        worker.join()

    assert len(claimed) == 10
    assert set(claimed).isdisjoint(held)


def test_an_account_has_at_most_16_endpoints(account, receiver) -> None:
    for n in range(16):
        webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url(f"/{n}"))

    with pytest.raises(webhook_endpoints.EndpointLimitReached):
        webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url("/17"))
    assert WebhookEndpoint.objects.filter(account=account).count() == 16


@pytest.mark.django_db(transaction=True)
def test_concurrent_additions_cannot_pass_the_endpoint_cap(receiver) -> None:
    account = AccountFactory(plan_slug="business")
    for n in range(15):
        webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url(f"/{n}"))
    start = threading.Barrier(4)

    def add(n: int) -> None:
        start.wait(10)
        try:
            webhook_endpoints.webhook_endpoint_create(
                account=account, url=receiver.url(f"/extra{n}")
            )
        except webhook_endpoints.EndpointLimitReached:
            pass
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert WebhookEndpoint.objects.filter(account=account).count() == 16


def test_a_delivery_of_a_deleted_endpoint_is_dropped_quietly(endpoint, account, receiver) -> None:
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))
    [delivery_id] = webhook_deliveries.webhook_deliveries_claim()
    webhook_endpoints.webhook_endpoint_delete(endpoint=endpoint)

    assert webhook_deliveries.webhook_delivery_attempt(delivery_id=delivery_id) is None
    assert receiver.received == []


def test_a_stale_attempt_cannot_overwrite_a_recorded_one(endpoint, account, receiver) -> None:
    finish(FaxFactory(account=account, status=FaxStatus.SENDING))
    [delivery_id] = webhook_deliveries.webhook_deliveries_claim()
    stale = WebhookDelivery.objects.get(pk=delivery_id)  # read by a second, late attempt
    assert (
        webhook_deliveries.webhook_delivery_attempt(delivery_id=delivery_id).status
        == DeliveryStatus.SUCCEEDED
    )

    webhook_deliveries._finish(
        stale, status=DeliveryStatus.PENDING, error="late", retry_after=timedelta(seconds=5)
    )

    fresh = WebhookDelivery.objects.get(pk=delivery_id)
    assert (fresh.status, fresh.attempts) == (DeliveryStatus.SUCCEEDED, 1)
