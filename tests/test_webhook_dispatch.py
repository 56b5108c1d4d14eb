"""One dispatch waits in the queue at a time: a burst of customer events (a batch of faxes
delivered) queues one claim, not one per event, and an event committed once that dispatch has
started queues the next. An event whose endpoints all have an attempt in flight queues none:
those attempts' tasks take it."""

from __future__ import annotations

import pytest

from accounts.models import Account
from developers import tasks
from developers.models import WebhookDelivery
from developers.services import webhook_deliveries, webhook_endpoints

pytestmark = pytest.mark.django_db

DISPATCH = "developers.tasks.webhook_deliveries_dispatch_task"


def emit(account: Account, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        webhook_deliveries.webhook_event_emit(
            account_id=account.id, livemode=True, type="fax.sending", object_id="fax_x", data={}
        )


@pytest.fixture
def endpoint(account: Account, receiver):
    return webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url())


def test_a_burst_of_events_queues_one_dispatch(
    account: Account, endpoint, pipeline: list, django_capture_on_commit_callbacks
) -> None:
    for _ in range(5):
        emit(account, django_capture_on_commit_callbacks)

    assert [name for name, _, _ in pipeline] == [DISPATCH]


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The attempt tasks a dispatch queues, recorded instead of run."""
    queued: list[str] = []
    monkeypatch.setattr(tasks.webhook_delivery_attempt_task, "delay", queued.append)
    return queued


def test_an_event_after_the_dispatch_started_queues_another(
    account: Account,
    endpoint,
    pipeline: list,
    attempts: list[str],
    django_capture_on_commit_callbacks,
) -> None:
    emit(account, django_capture_on_commit_callbacks)
    tasks.webhook_deliveries_dispatch_task()
    # The attempt ends (the endpoint is free again) before the next event.
    webhook_deliveries.webhook_delivery_attempt(delivery_id=attempts[0])

    emit(account, django_capture_on_commit_callbacks)

    assert [name for name, _, _ in pipeline] == [DISPATCH, DISPATCH]


def test_an_event_to_an_endpoint_with_an_attempt_in_flight_is_taken_by_that_attempt(
    account: Account,
    endpoint,
    receiver,
    pipeline: list,
    attempts: list[str],
    django_capture_on_commit_callbacks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emit(account, django_capture_on_commit_callbacks)
    tasks.webhook_deliveries_dispatch_task()

    emit(account, django_capture_on_commit_callbacks)

    assert [name for name, _, _ in pipeline] == [DISPATCH]
    monkeypatch.setattr(tasks.webhook_deliveries_dispatch_task, "delay", lambda: None)
    tasks.webhook_delivery_attempt_task(attempts[0])
    assert len(receiver.received) == 2
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_an_event_to_an_idle_endpoint_queues_a_dispatch_while_another_is_busy(
    account: Account,
    endpoint,
    receiver,
    pipeline: list,
    attempts: list[str],
    django_capture_on_commit_callbacks,
) -> None:
    emit(account, django_capture_on_commit_callbacks)
    tasks.webhook_deliveries_dispatch_task()
    webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url("/hooks/second"))

    emit(account, django_capture_on_commit_callbacks)

    assert [name for name, _, _ in pipeline] == [DISPATCH, DISPATCH]


def test_without_redis_every_event_queues_one(
    account: Account, endpoint, pipeline: list, django_capture_on_commit_callbacks, settings
) -> None:
    settings.REDIS_URL = ""
    for _ in range(2):
        emit(account, django_capture_on_commit_callbacks)

    assert [name for name, _, _ in pipeline] == [DISPATCH, DISPATCH]
