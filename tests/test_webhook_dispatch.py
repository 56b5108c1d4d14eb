"""One dispatch waits in the queue at a time: a burst of customer events (a batch of faxes
delivered) queues one claim, not one per event, and an event committed once that dispatch has
started queues the next."""

from __future__ import annotations

import pytest

from accounts.models import Account
from developers import tasks
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


def test_an_event_after_the_dispatch_started_queues_another(
    account: Account,
    endpoint,
    pipeline: list,
    django_capture_on_commit_callbacks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks.webhook_delivery_attempt_task, "delay", lambda delivery_id: None)
    emit(account, django_capture_on_commit_callbacks)

    tasks.webhook_deliveries_dispatch_task()
    emit(account, django_capture_on_commit_callbacks)

    assert [name for name, _, _ in pipeline] == [DISPATCH, DISPATCH]


def test_without_redis_every_event_queues_one(
    account: Account, endpoint, pipeline: list, django_capture_on_commit_callbacks, settings
) -> None:
    settings.REDIS_URL = ""
    for _ in range(2):
        emit(account, django_capture_on_commit_callbacks)

    assert [name for name, _, _ in pipeline] == [DISPATCH, DISPATCH]
