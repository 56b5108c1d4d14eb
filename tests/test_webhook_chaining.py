"""A delivery attempt that succeeds goes on with its endpoint's next due delivery in the same
task, for a few seconds at most: a backlog to one endpoint flows without a dispatch round
between events, while the endpoint keeps one delivery in flight and the account its share."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account
from developers import tasks
from developers.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from developers.services import webhook_deliveries, webhook_endpoints
from tests.concurrency import at_once
from tests.receiver import Answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(account: Account, receiver) -> WebhookEndpoint:
    return webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url())


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The webhooks queue: what the attempt task enqueues after itself."""
    queue: list[str] = []
    monkeypatch.setattr(
        tasks.webhook_deliveries_dispatch_task, "delay", lambda: queue.append("dispatch")
    )
    return queue


def emit(account: Account, count: int) -> list[str]:
    for n in range(count):
        webhook_deliveries.webhook_event_emit(
            account_id=account.id,
            livemode=True,
            type="fax.sending",
            object_id=f"fax_{n}",
            data={"object": {"id": f"fax_{n}"}},
        )
    return list(
        WebhookDelivery.objects.order_by("next_attempt_at", "id").values_list("id", flat=True)
    )


def test_it_delivers_an_endpoints_backlog_in_one_task(
    account: Account, endpoint: WebhookEndpoint, receiver, broker: list[str]
) -> None:
    emit(account, 3)
    [first] = webhook_deliveries.webhook_deliveries_claim()

    tasks.webhook_delivery_attempt_task(first)

    got = [json.loads(r.body)["data"]["object"]["id"] for r in receiver.received]
    assert got == ["fax_0", "fax_1", "fax_2"]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert broker == ["dispatch"]


def test_it_stops_at_a_failed_attempt(
    account: Account, endpoint: WebhookEndpoint, receiver, broker: list[str]
) -> None:
    receiver.answer(Answer(status=500))
    emit(account, 2)
    [first] = webhook_deliveries.webhook_deliveries_claim()

    tasks.webhook_delivery_attempt_task(first)

    assert len(receiver.received) == 1
    second = WebhookDelivery.objects.exclude(pk=first).get()
    assert second.status == DeliveryStatus.PENDING
    assert second.attempts == 0
    assert second.leased_until is None


def test_it_hands_its_slot_back_after_chain_seconds(
    account: Account,
    endpoint: WebhookEndpoint,
    receiver,
    broker: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks, "CHAIN_SECONDS", 0.0)
    emit(account, 2)
    [first] = webhook_deliveries.webhook_deliveries_claim()

    tasks.webhook_delivery_attempt_task(first)

    assert len(receiver.received) == 1
    assert broker == ["dispatch"]
    # The next one goes to whichever worker the dispatch gives it.
    assert len(webhook_deliveries.webhook_deliveries_claim()) == 1


def test_it_takes_nothing_from_an_endpoint_another_worker_holds(
    account: Account, endpoint: WebhookEndpoint
) -> None:
    emit(account, 2)
    webhook_deliveries.webhook_deliveries_claim()  # another worker's attempt, in flight

    assert webhook_deliveries.webhook_delivery_claim_next(endpoint_id=endpoint.pk) is None


def test_an_attempt_and_its_chain_fit_in_the_soft_time_limit() -> None:
    attempt = tasks.webhook_delivery_attempt_task

    assert attempt.soft_time_limit > webhook_deliveries.DELIVERY_TIMEOUT + tasks.CHAIN_SECONDS


def test_it_takes_a_delivery_whose_lease_ran_out(
    account: Account, endpoint: WebhookEndpoint
) -> None:
    """A worker that died mid-attempt leaves its lease; once it has run out, the endpoint's
    oldest due delivery (that one) is taken, and leased again."""
    first, _ = emit(account, 2)
    WebhookDelivery.objects.filter(pk=first).update(
        leased_until=timezone.now() - timedelta(seconds=1)
    )

    assert webhook_deliveries.webhook_delivery_claim_next(endpoint_id=endpoint.pk) == first
    assert WebhookDelivery.objects.get(pk=first).leased_until > timezone.now()
    assert webhook_deliveries.webhook_delivery_claim_next(endpoint_id=endpoint.pk) is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_takes_of_one_endpoints_next_delivery_lease_one(
    account: Account, endpoint: WebhookEndpoint
) -> None:
    emit(account, 5)

    taken = at_once(
        8, lambda: webhook_deliveries.webhook_delivery_claim_next(endpoint_id=endpoint.pk)
    )

    assert len(taken) == 8
    assert len([delivery_id for delivery_id in taken if delivery_id]) == 1
    assert WebhookDelivery.objects.filter(leased_until__isnull=False).count() == 1
