"""Webhook delivery is fair between accounts: one delivery in flight per endpoint, a few per
account, accounts taking turns, and a lease that a dead worker cannot hold forever."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Account
from developers import tasks
from developers.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from developers.services import webhook_deliveries
from tests.concurrency import at_once
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

ALL_EVENTS = ["fax.sending", "fax.delivered", "fax.failed"]


def endpoints(account: Account, count: int) -> list[WebhookEndpoint]:
    """`count` endpoints, written directly: accounts from before the cap may have more than 16."""
    return WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(
            account=account,
            url=f"https://hooks.example.com/{account.pk}/{n}",
            secret="whsec_unused",
            event_types=ALL_EVENTS,
        )
        for n in range(count)
    )


def emit(account: Account, type: str = "fax.sending") -> WebhookEvent:
    return webhook_deliveries.webhook_event_emit(
        account_id=account.id, livemode=True, type=type, object_id="fax_x", data={"object": {}}
    )


def deliveries_of(account: Account) -> set[str]:
    return set(WebhookDelivery.objects.filter(event__account=account).values_list("id", flat=True))


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The webhooks queue, in order: attempts by delivery id, and dispatches."""
    queue: list[str] = []
    monkeypatch.setattr(tasks.webhook_delivery_attempt_task, "delay", queue.append)
    monkeypatch.setattr(
        tasks.webhook_deliveries_dispatch_task, "delay", lambda: queue.append("dispatch")
    )
    return queue


def test_it_claims_another_accounts_delivery_in_the_first_round_behind_20_busy_endpoints(
    account, other_account
) -> None:
    endpoints(account, 20)
    emit(account, "fax.sending")
    emit(account, "fax.delivered")
    endpoints(other_account, 1)
    emit(other_account, "fax.sending")  # the newest of 41 due deliveries

    claimed = webhook_deliveries.webhook_deliveries_claim()

    [theirs] = deliveries_of(other_account)
    assert claimed.index(theirs) < 2  # each account's first turn comes before anyone's second


def test_it_queues_another_accounts_delivery_behind_at_most_two_of_a_20_endpoint_backlog(
    account, other_account, broker
) -> None:
    endpoints(account, 20)
    emit(account, "fax.sending")
    emit(account, "fax.delivered")
    tasks.webhook_deliveries_dispatch_task()  # the busy account's deliveries go out first
    endpoints(other_account, 1)
    emit(other_account, "fax.sending")

    tasks.webhook_deliveries_dispatch_task()

    [theirs] = deliveries_of(other_account)
    assert broker.index(theirs) <= webhook_deliveries.ACCOUNT_IN_FLIGHT


def test_it_keeps_an_accounts_deliveries_in_flight_to_its_share(account) -> None:
    endpoints(account, 20)
    emit(account)

    first = webhook_deliveries.webhook_deliveries_claim()
    second = webhook_deliveries.webhook_deliveries_claim()

    assert len(first) == webhook_deliveries.ACCOUNT_IN_FLIGHT
    assert second == []


def test_it_gives_an_endpoint_its_next_delivery_only_once_the_attempt_is_recorded(
    account,
) -> None:
    endpoints(account, 1)
    emit(account, "fax.sending")
    emit(account, "fax.delivered")
    [first] = webhook_deliveries.webhook_deliveries_claim()
    assert webhook_deliveries.webhook_deliveries_claim() == []

    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=first)
    webhook_deliveries._finish(delivery, status=webhook_deliveries.DeliveryStatus.SUCCEEDED)

    [second] = webhook_deliveries.webhook_deliveries_claim()
    assert second != first


def test_it_takes_over_an_endpoint_whose_worker_died(account) -> None:
    endpoints(account, 1)
    emit(account)
    [claimed] = webhook_deliveries.webhook_deliveries_claim()

    with time_machine.travel(
        timezone.now() + webhook_deliveries.ATTEMPT_LEASE + timedelta(seconds=1)
    ):
        again = webhook_deliveries.webhook_deliveries_claim()

    assert again == [claimed]


@pytest.mark.django_db(transaction=True)
def test_it_never_has_two_deliveries_of_one_endpoint_in_flight_under_concurrent_claims(
    pipeline,
) -> None:
    for _ in range(3):
        account = AccountFactory(plan_slug="business")
        endpoints(account, 2)
        for _ in range(5):
            emit(account)

    claims = at_once(8, webhook_deliveries.webhook_deliveries_claim)

    claimed = [delivery_id for claim in claims for delivery_id in claim]
    per_endpoint = Counter(
        WebhookDelivery.objects.filter(pk__in=claimed).values_list("endpoint_id", flat=True)
    )
    assert len(claims) == 8
    assert sorted(per_endpoint.values()) == [1] * 6


def test_it_gives_a_delivery_attempt_explicit_time_limits_inside_its_lease() -> None:
    attempt = tasks.webhook_delivery_attempt_task

    assert webhook_deliveries.DELIVERY_TIMEOUT < attempt.soft_time_limit < attempt.time_limit
    assert attempt.time_limit < webhook_deliveries.ATTEMPT_LEASE.total_seconds()
