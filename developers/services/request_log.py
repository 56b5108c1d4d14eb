"""The request log: one entry per authenticated /v1 request, buffered in Redis and moved to the
table in batches, kept 30 days."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.utils import timezone
from redis import RedisError

from accounts.models import Account
from developers.models import ApiKey, RequestLogEntry
from sendfaxmail.lib.redis import get_redis, send_without_reply, wait_for_unanswered

logger = logging.getLogger(__name__)

REQUEST_LOG_RETENTION = timedelta(days=30)
REQUEST_LOG_PURGE_BATCH = 5000
# Entries wait in this Redis list until `request_log_flush` moves them to the table in batches.
REQUEST_LOG_BUFFER = "request_log:pending"
REQUEST_LOG_FLUSH_BATCH = 1000
# The fields an entry carries through the buffer, all but its id (the table gives it one).
_BUFFERED = [
    field.attname for field in RequestLogEntry._meta.concrete_fields if not field.primary_key
]


@dataclass
class RequestRecord:
    """One /v1 request as the request log keeps it: the columns of RequestLogEntry. A plain
    object, cheaper to make on every request than a model instance."""

    account_id: int
    api_key_id: str | None
    livemode: bool
    created_at: datetime
    request_id: str
    method: str
    path: str
    status: int
    error_code: str
    duration_ms: float
    idempotency_key: str
    replayed: bool
    client_ip: str | None
    object_id: str


def request_log_record(*, record: RequestRecord) -> None:
    """Keep one /v1 request's entry (RequestLogMiddleware calls it once the answer was sent).

    With Redis the entry is appended to a buffer, one RPUSH sent without waiting for Redis's
    answer (a round trip would keep the worker from its next request), and `request_log_flush`
    inserts it with others a few seconds later: one INSERT and one commit per batch instead of
    a commit (and a wait for the disk) per request. Without Redis, or if the connection to it
    fails, the row is inserted at once. Nobody could handle an error here: a failure is logged,
    never raised.
    """
    try:
        if settings.REDIS_URL:
            try:
                send_without_reply("RPUSH", REQUEST_LOG_BUFFER, _encode(record))
                return
            except RedisError:
                logger.warning("Request log: Redis refused %s; inserting it", record.request_id)
        RequestLogEntry(**vars(record)).save(force_insert=True)
    except Exception:
        logger.exception("Could not record request %s in the request log", record.request_id)


def _encode(record: RequestRecord) -> bytes:
    # orjson writes the dataclass's fields and the time as ISO 8601, as _decode reads them.
    return orjson.dumps(record)


def _decode(raw: bytes) -> RequestLogEntry | None:
    """The entry; None for one that cannot be read, which is logged and dropped rather than left
    to block the buffer. A field the entry lacks (it was buffered by an older release) takes the
    model's default."""
    try:
        values = json.loads(raw)
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        return RequestLogEntry(**{name: values[name] for name in _BUFFERED if name in values})
    except (ValueError, TypeError, KeyError):
        logger.exception("Request log: dropped an unreadable buffered entry")
        return None


def request_log_flush(*, limit: int = 20 * REQUEST_LOG_FLUSH_BATCH) -> int:
    """Move up to `limit` buffered entries into the table, a batch per INSERT; returns how many.

    Safe to run concurrently: each LPOP hands a batch to one caller only. A batch whose insert
    fails is pushed back for the next run. An entry whose account was deleted meanwhile is
    dropped; one whose key was deleted keeps its row without the key.
    """
    if not settings.REDIS_URL:
        return 0
    # This thread's own entries first (a test, the Logs page after a request in this thread):
    # they were sent without waiting for Redis.
    wait_for_unanswered()
    redis = get_redis()
    moved = 0
    while moved < limit:
        raw = redis.lpop(REQUEST_LOG_BUFFER, REQUEST_LOG_FLUSH_BATCH)
        if not raw:
            break
        entries = [entry for entry in map(_decode, raw) if entry is not None]
        try:
            moved += _insert_batch(entries)
        except Exception:
            redis.rpush(REQUEST_LOG_BUFFER, *raw)
            raise
    return moved


def _insert_batch(entries: list[RequestLogEntry]) -> int:
    """One INSERT of the entries whose account still exists (one deleted since the request took
    its entries with it); an entry whose key is gone keeps its row without the key."""
    accounts = set(
        Account.objects.filter(pk__in={e.account_id for e in entries}).values_list("pk", flat=True)
    )
    api_keys = set(
        ApiKey.objects.filter(pk__in={e.api_key_id for e in entries if e.api_key_id}).values_list(
            "pk", flat=True
        )
    )
    kept = [entry for entry in entries if entry.account_id in accounts]
    for entry in kept:
        if entry.api_key_id not in api_keys:
            entry.api_key_id = None
    RequestLogEntry.objects.bulk_create(kept)
    return len(kept)


def request_log_purge(
    *, older_than: timedelta = REQUEST_LOG_RETENTION, batch_size: int = REQUEST_LOG_PURGE_BATCH
) -> int:
    """Delete entries past their retention, `batch_size` rows per statement so that no delete
    holds locks or grows the WAL for long. Returns how many went."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        batch = list(
            RequestLogEntry.objects.filter(created_at__lt=cutoff)
            .order_by("created_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not batch:
            return deleted
        count, _ = RequestLogEntry.objects.filter(pk__in=batch).delete()
        deleted += count
