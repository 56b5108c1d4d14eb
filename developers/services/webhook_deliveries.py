"""Customer webhook events and their deliveries: the outbox, fair claims, signed attempts with
retries, resends and test events."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from redis import RedisError

from audit.services import Actor
from developers.models import (
    PING,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from developers.services.webhook_endpoints import WebhookError, webhook_endpoint_set_enabled
from sendfaxmail.lib import metrics, ratelimit
from sendfaxmail.lib.fetch import FetchError, post
from sendfaxmail.lib.http import seconds_from_header
from sendfaxmail.lib.redis import get_redis
from sendfaxmail.lib.signing import sign_standard_webhook
from sendfaxmail.lib.sql import fetch_all, insert_prepared, select_prepared

logger = logging.getLogger(__name__)

# Standard Webhooks' schedule: the delay before each retry, counted from the attempt before.
RETRY_DELAYS = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
# An attempt in flight holds its delivery, and so its endpoint, this long; if its worker dies,
# another takes over. Longer than the attempt task's hard time limit (developers/tasks.py).
ATTEMPT_LEASE = timedelta(minutes=2)
# Fairness between accounts. An endpoint has at most one delivery in flight, and an account at
# most ACCOUNT_IN_FLIGHT, so one account's slow endpoints hold at most that many webhook worker
# slots (the Procfile's worker runs 8) and queue at most that many attempts ahead of another
# account's: the next claim takes the other account's delivery first.
ACCOUNT_IN_FLIGHT = 2
PING_RATE = ratelimit.Rate(limit=10, window=60)
# Claims of all workers take turns (a transaction-scoped PostgreSQL advisory lock), so that two
# claims cannot both see an endpoint or an account as free.
CLAIM_LOCK = 0x5346_4D57
# Set while a dispatch task is queued and not yet started (webhook_dispatch_wanted).
DISPATCH_MARK = "webhooks:dispatch-queued"
DISPATCH_MARK_SECONDS = 10
DISABLE_AFTER = timedelta(days=5)
DELIVERY_TIMEOUT = 10.0
KEPT_RESPONSE_CHARACTERS = 1000
USER_AGENT = "SendFaxMail-Webhooks/1.0"
# Who the audit log says disabled an endpoint that answered 410 or kept failing.
DELIVERIES_ACTOR = Actor.system("Webhook deliveries")


class PingLimitReached(WebhookError):
    """The account sent PING_RATE test events in the current minute; `retry_in` seconds left."""

    def __init__(self, message: str, *, retry_in: int) -> None:
        super().__init__(message)
        self.retry_in = retry_in


def _signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires and expires > timezone.now():
        secrets.append(endpoint.previous_secret)
    return secrets


def webhook_event_emit(
    *, account_id: int, livemode: bool, type: str, object_id: str, data: dict[str, Any]
) -> WebhookEvent | None:
    """Write an event and a pending delivery per subscribed endpoint, in the caller's
    transaction (the outbox): a rollback takes the event with it. Delivery starts on commit."""
    # Every status change of every fax comes here: prepared statements, not the ORM's.
    enabled = select_prepared(WebhookEndpoint, "account_id = %s AND enabled", [account_id])
    endpoints = [endpoint for endpoint in enabled if endpoint.wants(type)]
    if not endpoints:
        return None
    event = WebhookEvent(account_id=account_id, livemode=livemode, type=type, object_id=object_id)
    event.body = {
        "id": event.id,
        "type": type,
        "created_at": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": data,
    }
    insert_prepared(event)
    now = timezone.now()
    for endpoint in endpoints:
        insert_prepared(WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=now))
    endpoint_ids = [endpoint.id for endpoint in endpoints]
    transaction.on_commit(lambda: _dispatch_unless_in_flight(endpoint_ids), robust=True)
    return event


def _dispatch_unless_in_flight(endpoint_ids: list[str]) -> None:
    """After an event's commit: queue a dispatch, unless each of its endpoints has an attempt
    in flight. Such an attempt's task, once it has recorded its result, takes the endpoint's
    next due delivery (`webhook_delivery_claim_next`), which sees this one since it was
    committed before this check, or queues a dispatch. A burst of events to a busy endpoint
    (a batch of faxes) then costs no dispatch task at all."""
    placeholders = ", ".join(["%s"] * len(endpoint_ids))
    # Prepared: it runs after every customer event (the `delivery_leased` index answers it).
    # Only placeholders are written into the text; every value is a parameter.
    # As IN_FLIGHT_SQL: the conditions of the partial index written out, for the generic plan.
    sql = (
        "SELECT DISTINCT endpoint_id FROM developers_webhookdelivery"  # noqa: S608
        f" WHERE endpoint_id IN ({placeholders}) AND status = 'pending'"
        " AND leased_until IS NOT NULL AND leased_until > %s"
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    in_flight = fetch_all(sql, [*endpoint_ids, now])
    if len(in_flight) < len(set(endpoint_ids)):
        _dispatch_soon()


def _dispatch_soon() -> None:
    if webhook_dispatch_wanted():
        # By task name: the task module imports this one.
        current_app.send_task("developers.tasks.webhook_deliveries_dispatch_task")


def webhook_dispatch_wanted() -> bool:
    """Whether to queue a dispatch now: False when one is queued already and has not started
    (`webhook_dispatch_started`), since that one will claim what is due by then. A burst of
    events (a batch of faxes delivered) queued a dispatch, and a claim over every pending
    delivery, per event. The mark expires after DISPATCH_MARK_SECONDS, in case its task is
    lost; without Redis, or when it does not answer, every caller queues one."""
    if not settings.REDIS_URL:
        return True
    try:
        return bool(get_redis().set(DISPATCH_MARK, 1, nx=True, ex=DISPATCH_MARK_SECONDS))
    except RedisError:
        return True


def webhook_dispatch_started() -> None:
    """A dispatch begins: deliveries committed from now on need another, so callers may queue
    one again. (Those committed before are claimed by this one.)"""
    if settings.REDIS_URL:
        try:
            get_redis().delete(DISPATCH_MARK)
        except RedisError:
            logger.warning("Webhook dispatch: Redis did not answer", exc_info=True)


# The claim's two reads, written out and prepared: they run at every dispatch, and the ORM's
# emulation of a filter on a window function cost more to write out than to run. The status is
# written into the text ('pending' is DeliveryStatus.PENDING), not passed as a parameter: a
# prepared statement's generic plan can only use the partial indexes (`delivery_due`, on
# status = 'pending') when the text itself matches their condition; with a parameter it read
# the whole table at every dispatch.
# Each endpoint in flight with its account: (endpoint_id, account_id).
IN_FLIGHT_SQL = """
SELECT d.endpoint_id, e.account_id
FROM developers_webhookdelivery d JOIN developers_webhookendpoint e ON e.id = d.endpoint_id
WHERE d.status = 'pending' AND d.leased_until IS NOT NULL AND d.leased_until > %s
"""
# The oldest due delivery of each endpoint with none in flight, oldest first:
# (delivery_id, account_id).
HEADS_SQL = """
SELECT id, account_id FROM (
    SELECT d.id, e.account_id, d.next_attempt_at,
        ROW_NUMBER() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) AS place
    FROM developers_webhookdelivery d JOIN developers_webhookendpoint e ON e.id = d.endpoint_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= %s AND NOT EXISTS (
        SELECT 1 FROM developers_webhookdelivery f
        WHERE f.endpoint_id = d.endpoint_id AND f.status = 'pending'
            AND f.leased_until IS NOT NULL AND f.leased_until > %s
    )
) heads
WHERE place = 1
ORDER BY next_attempt_at, id
"""


@transaction.atomic
def webhook_deliveries_claim(*, limit: int = 100) -> list[str]:
    """Claim due deliveries for this worker, fairly, and lease them (`leased_until`) until the
    attempt records its result; return their ids in the order they should be attempted.

    Fair: an endpoint with a delivery in flight gets no other, an account gets at most
    ACCOUNT_IN_FLIGHT in flight, and accounts take turns (each account's oldest due delivery
    comes before any account's second), so one account's backlog cannot starve another's.
    Rows another transaction holds are skipped (`SKIP LOCKED`).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    in_flight = fetch_all(IN_FLIGHT_SQL, [at])
    taken = Counter(account_id for _, account_id in in_flight)
    # The oldest due delivery of each endpoint that has none in flight.
    heads = fetch_all(HEADS_SQL, [at, at])
    turns: list[tuple[int, str]] = []  # (the account's in-flight count once it runs, id)
    for delivery_id, account_id in heads:
        taken[account_id] += 1
        if taken[account_id] <= ACCOUNT_IN_FLIGHT:
            turns.append((taken[account_id], delivery_id))
    # Stable sort: within a turn, oldest first, as `heads` came.
    chosen = [delivery_id for _, delivery_id in sorted(turns, key=lambda turn: turn[0])][:limit]
    locked = set(
        WebhookDelivery.objects.select_for_update(skip_locked=True)
        .filter(pk__in=chosen, status=DeliveryStatus.PENDING)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
        .values_list("id", flat=True)
    )
    claimed = [delivery_id for delivery_id in chosen if delivery_id in locked]
    WebhookDelivery.objects.filter(pk__in=claimed).update(leased_until=now + ATTEMPT_LEASE)
    return claimed


# webhook_delivery_claim_next in one prepared statement (it runs after every successful
# attempt): lease the endpoint's oldest due delivery whose lease is free, unless another of its
# deliveries is in flight; the claimed id comes back. 'pending' is written into the text for
# the partial indexes (see IN_FLIGHT_SQL).
_CLAIM_NEXT = """
UPDATE developers_webhookdelivery SET leased_until = %s
WHERE id = (
    SELECT d.id FROM developers_webhookdelivery d
    WHERE d.endpoint_id = %s AND d.status = 'pending' AND d.next_attempt_at <= %s
        AND (d.leased_until IS NULL OR d.leased_until <= %s)
        AND NOT EXISTS (
            SELECT 1 FROM developers_webhookdelivery f
            WHERE f.endpoint_id = %s AND f.status = 'pending'
                AND f.leased_until IS NOT NULL AND f.leased_until > %s
        )
    ORDER BY d.next_attempt_at, d.id
    LIMIT 1{lock}
)
RETURNING id
"""
# A row another transaction holds (a claim taking it) is skipped, as the dispatch's claim does.
CLAIM_NEXT_SQL = _CLAIM_NEXT.format(lock=" FOR UPDATE SKIP LOCKED")
# SQLite (`make run`) has no row locks: its writers take turns anyway.
CLAIM_NEXT_SQL_UNLOCKED = _CLAIM_NEXT.format(lock="")


@transaction.atomic
def webhook_delivery_claim_next(*, endpoint_id: str) -> str | None:
    """The next due delivery of an endpoint whose attempt this worker just recorded, claimed
    and leased for the same worker; None when there is none, or another worker holds the
    endpoint already.

    The worker keeps its place: the endpoint still has one delivery in flight, and its account
    as many as before. A backlog to one endpoint then flows one attempt after another without a
    dispatch round (two tasks and a claim over every pending delivery) between them.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    lease = connection.ops.adapt_datetimefield_value(now + ATTEMPT_LEASE)
    claimed = fetch_all(
        CLAIM_NEXT_SQL
        if connection.features.has_select_for_update_skip_locked
        else CLAIM_NEXT_SQL_UNLOCKED,
        [lease, endpoint_id, at, at, endpoint_id, at],
    )
    return claimed[0][0] if claimed else None


def _headers(event: WebhookEvent, endpoint: WebhookEndpoint, body: bytes) -> dict[str, str]:
    timestamp = int(time.time())
    return {
        "webhook-id": event.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(
            msg_id=event.id, timestamp=timestamp, body=body, secrets=_signing_secrets(endpoint)
        ),
        "Content-Type": "application/json",
        "User-Agent": f"{USER_AGENT} (+{settings.PUBLIC_BASE_URL}/docs/webhooks)",
    }


def webhook_delivery_attempt(*, delivery_id: str) -> WebhookDelivery | None:
    """POST the event to the endpoint once, signed, and record the result.

    Success is any 2xx within 10 s; a redirect is a failure (never followed); 410 disables the
    endpoint; a `Retry-After` on 429/503 delays the next try at least that long. The URL passes
    the SSRF guard again on every attempt.
    """
    delivery = (
        WebhookDelivery.objects.select_related("event", "endpoint").filter(pk=delivery_id).first()
    )
    if delivery is None:
        # The endpoint was deleted, and its deliveries with it.
        return None
    endpoint, event = delivery.endpoint, delivery.event
    if delivery.status != DeliveryStatus.PENDING:
        return delivery
    if not endpoint.enabled:
        return _finish(delivery, status=DeliveryStatus.FAILED, error="The endpoint is disabled.")
    body = json.dumps(event.body, separators=(",", ":")).encode()
    try:
        result = post(
            endpoint.url,
            body=body,
            headers=_headers(event, endpoint, body),
            timeout=DELIVERY_TIMEOUT,
        )
    except FetchError as error:
        return _failed(delivery, error=error.message)
    metrics.webhook_answered(seconds=result.elapsed_ms / 1000)
    delivery.last_status_code = result.status_code
    delivery.last_response_ms = result.elapsed_ms
    delivery.last_response_body = result.body.decode("utf-8", "replace")[:KEPT_RESPONSE_CHARACTERS]
    if 200 <= result.status_code < 300:
        _endpoint_answered(endpoint)
        return _finish(delivery, status=DeliveryStatus.SUCCEEDED)
    if result.status_code == 410:
        webhook_endpoint_set_enabled(
            endpoint=endpoint,
            enabled=False,
            reason="The endpoint answered 410 Gone.",
            actor=DELIVERIES_ACTOR,
        )
        return _finish(delivery, status=DeliveryStatus.FAILED, error="410 Gone: endpoint disabled.")
    wait = None
    if result.status_code in (429, 503):
        headers = {name.lower(): value for name, value in result.headers.items()}
        wait = seconds_from_header(headers.get("retry-after"))
    error = (
        f"Redirects are not followed (answered {result.status_code})."
        if 300 <= result.status_code < 400
        else f"Answered {result.status_code}."
    )
    return _failed(delivery, error=error, at_least=wait)


RECORDED_FIELDS = [
    "status",
    "attempts",
    "first_attempt_at",
    "last_attempt_at",
    "next_attempt_at",
    "leased_until",
    "last_error",
    "last_status_code",
    "last_response_ms",
    "last_response_body",
]


def _finish(
    delivery: WebhookDelivery,
    *,
    status: DeliveryStatus,
    error: str = "",
    retry_after: timedelta | None = None,
) -> WebhookDelivery:
    """Record this attempt and end its lease (the endpoint may take its next delivery), unless
    another attempt of the same delivery (a stale claim taken over) recorded first: the row
    changes only while it is as this attempt read it."""
    now = timezone.now()
    read_attempts = delivery.attempts
    delivery.status = status
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_attempt_at = now
    delivery.next_attempt_at = now + retry_after if retry_after else None
    delivery.leased_until = None
    delivery.last_error = error[:300]
    recorded = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=read_attempts
    ).update(**{name: getattr(delivery, name) for name in RECORDED_FIELDS})
    if recorded:
        metrics.webhook_attempt_recorded(status=status, event_created_at=delivery.event.created_at)
    return delivery


def _failed(
    delivery: WebhookDelivery, *, error: str, at_least: float | None = None
) -> WebhookDelivery:
    """Schedule the next retry, or give up after the last one. A test event is not retried:
    the member who sent it reads its result on the endpoint page."""
    attempt_number = delivery.attempts  # retries already made
    if attempt_number >= len(RETRY_DELAYS) or delivery.event.type == PING:
        delivery = _finish(delivery, status=DeliveryStatus.FAILED, error=error)
    else:
        delay = RETRY_DELAYS[attempt_number]
        if at_least:
            delay = max(delay, timedelta(seconds=min(at_least, 86400)))
        delivery = _finish(delivery, status=DeliveryStatus.PENDING, error=error, retry_after=delay)
    _endpoint_failed(delivery.endpoint)
    return delivery


def _endpoint_answered(endpoint: WebhookEndpoint) -> None:
    if endpoint.failing_since is not None:
        endpoint.failing_since = None
        endpoint.save(update_fields=["failing_since", "updated_at"])


def _endpoint_failed(endpoint: WebhookEndpoint) -> None:
    """An endpoint that has failed every delivery for 5 days is disabled."""
    now = timezone.now()
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since", "updated_at"])
    elif endpoint.enabled and now - endpoint.failing_since >= DISABLE_AFTER:
        webhook_endpoint_set_enabled(
            endpoint=endpoint,
            enabled=False,
            reason="Every delivery failed for 5 days; fix the endpoint, then enable it again.",
            actor=DELIVERIES_ACTOR,
        )


def webhook_delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the same event (same webhook-id) to the endpoint again, as a new delivery."""
    resend = WebhookDelivery.objects.create(
        event=delivery.event, endpoint=delivery.endpoint, next_attempt_at=timezone.now()
    )
    transaction.on_commit(_dispatch_soon, robust=True)
    return resend


def webhook_endpoint_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a signed `ping` event to this endpoint and return its pending delivery; a worker
    attempts it once (no retries) and the endpoint page shows the result when it arrives.

    An account may send PING_RATE test events a minute (PingLimitReached past that), counted
    in Redis in one atomic step; when Redis does not answer, pings are let through.
    """
    usage = ratelimit.hit(bucket="webhook-ping", key_id=str(endpoint.account_id), rate=PING_RATE)
    if usage is not None and not usage.allowed:
        raise PingLimitReached(
            f"You can send {PING_RATE.limit} test events a minute. "
            f"Try again in {usage.reset} seconds.",
            retry_in=usage.reset,
        )
    event = WebhookEvent(account_id=endpoint.account_id, livemode=True, type=PING)
    event.body = {
        "id": event.id,
        "type": PING,
        "created_at": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"object": {"endpoint": endpoint.id, "message": "A test event from SendFaxMail."}},
    }
    event.save(force_insert=True)
    delivery = WebhookDelivery.objects.create(
        event=event, endpoint=endpoint, next_attempt_at=timezone.now()
    )
    transaction.on_commit(_dispatch_soon, robust=True)
    return delivery
