"""Celery tasks for customer webhooks (queue `webhooks`): thin wrappers around services, named
`<service>_task` so that none shares a service's name."""

from __future__ import annotations

import time

from celery import shared_task

from developers.models import DeliveryStatus
from developers.services import request_log, webhook_deliveries


@shared_task(ignore_result=True, time_limit=60)
def webhook_deliveries_dispatch_task() -> None:
    """Periodic (every few seconds), after an event to an endpoint with no attempt in flight,
    and after each attempt task: claim due deliveries, fairly between accounts, and fan them
    out in the order claimed."""
    webhook_deliveries.webhook_dispatch_started()
    for delivery_id in webhook_deliveries.webhook_deliveries_claim():
        webhook_delivery_attempt_task.delay(delivery_id)


# After a successful attempt, the task goes on with the same endpoint's next due delivery, for at
# most this long (then it hands its slot back), so that it holds a worker no longer than a slow
# attempt would, and other queues' tasks get their turn.
CHAIN_SECONDS = 5.0


# Each request has a total deadline of DELIVERY_TIMEOUT (10 s): CHAIN_SECONDS and one more
# attempt fit in the soft limit. The hard limit is a backstop well under ATTEMPT_LEASE (2 min),
# so a live attempt never outlasts its lease.
@shared_task(ignore_result=True, acks_late=True, time_limit=30, soft_time_limit=25)
def webhook_delivery_attempt_task(delivery_id: str) -> None:
    deadline = time.monotonic() + CHAIN_SECONDS
    while True:
        delivery = webhook_deliveries.webhook_delivery_attempt(delivery_id=delivery_id)
        if (
            delivery is None
            or delivery.status != DeliveryStatus.SUCCEEDED
            or time.monotonic() >= deadline
        ):
            break
        next_id = webhook_deliveries.webhook_delivery_claim_next(endpoint_id=delivery.endpoint_id)
        if next_id is None:
            break
        delivery_id = next_id
    # The endpoint and the account have a slot free again: hand it out now, not in 5 s.
    if webhook_deliveries.webhook_dispatch_wanted():
        webhook_deliveries_dispatch_task.delay()


@shared_task(ignore_result=True, time_limit=600)
def request_log_purge_task() -> None:
    """Periodic (hourly): delete request log entries older than 30 days."""
    request_log.request_log_purge()


@shared_task(ignore_result=True, time_limit=60)
def request_log_flush_task() -> None:
    """Periodic (every few seconds): move buffered request log entries into the table."""
    request_log.request_log_flush()
