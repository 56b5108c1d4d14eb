from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Account, Plan
from developers import keys
from developers.models import PING, ApiKey, RequestLogEntry, WebhookDelivery, WebhookEndpoint
from sendfaxmail.lib.sql import fetch_all, model_from_values

# The authentication query, written out: it runs on every /v1 request, and building it with the
# ORM (select_related + only) cost more than running it, and it is prepared (planning the join
# took longer than running it). It reads only what authentication, the plan gate, the scope
# check and the throttle need, and the account's redial setting, which every send reads (a query
# of its own cost a send more than half a millisecond).
AUTH_SQL = """
SELECT k.id, k.scopes, k.livemode, k.last_used_at,
       a.id, a.name, a.trial_ends_at, a.fax_retry_attempts, a.fax_retry_interval_seconds,
       p.slug, p.api_access
  FROM developers_apikey k
  JOIN accounts_account a ON a.id = k.account_id
  JOIN accounts_plan p ON p.slug = a.plan_id
 WHERE k.digest = %s AND k.revoked_at IS NULL AND k.deleted_at IS NULL
"""


def api_key_for_secret(raw: str) -> ApiKey | None:
    """The usable key whose secret is `raw`, with its account and plan, in one query.

    A malformed key (wrong shape or checksum) is refused without a query. The lookup is an exact
    match on the indexed digest, so its timing tells nothing about the secret. The objects carry
    only the columns above; they are read, never saved.
    """
    if not keys.is_well_formed(raw):
        return None
    rows = fetch_all(AUTH_SQL, [keys.digest(raw)])
    return key_from_row(rows[0]) if rows else None


def api_key_label(*, api_key_id: int) -> str:
    """How logs name the key: its name and display prefix (never the secret)."""
    api_key = ApiKey.objects.only("name", "prefix").filter(pk=api_key_id).first()
    return str(api_key) if api_key is not None else f"API key {api_key_id}"


# The model fields AUTH_SQL's row fills, in its order (the plan's key is the account's plan_id).
_KEY_FIELDS = ["id", "scopes", "livemode", "last_used_at", "account_id"]
_ACCOUNT_FIELDS = [
    "id",
    "name",
    "trial_ends_at",
    "fax_retry_attempts",
    "fax_retry_interval_seconds",
    "plan_id",
]
_PLAN_FIELDS = ["slug", "api_access"]


def key_from_row(row: tuple[Any, ...]) -> ApiKey:
    """Build the key, account and plan from AUTH_SQL's row, as the ORM builds what it reads: a
    field the query did not read is deferred, and reading one runs a query rather than
    answering a default. A raw cursor skips Django's field converters, so values come as the
    driver gives them: on SQLite, JSON as text and naive datetimes
    (tests/test_auth_query_on_sqlite.py reads a real row there)."""
    (
        key_id,
        scopes,
        livemode,
        last_used_at,
        account_id,
        name,
        trial_ends_at,
        retry_attempts,
        retry_interval_seconds,
        slug,
        api_access,
    ) = row
    plan = model_from_values(Plan, _PLAN_FIELDS, (slug, bool(api_access)))
    account = model_from_values(
        Account,
        _ACCOUNT_FIELDS,
        (account_id, name, _aware(trial_ends_at), retry_attempts, retry_interval_seconds, slug),
    )
    Account.plan.field.set_cached_value(account, plan)
    key = model_from_values(
        ApiKey,
        _KEY_FIELDS,
        (
            key_id,
            json.loads(scopes) if isinstance(scopes, str) else scopes,
            bool(livemode),
            _aware(last_used_at),
            account_id,
        ),
    )
    ApiKey.account.field.set_cached_value(key, account)
    return key


def _aware(moment: datetime | None) -> datetime | None:
    """Stored times are UTC; SQLite returns them without a zone."""
    if moment is None or timezone.is_aware(moment):
        return moment
    return moment.replace(tzinfo=UTC)


def webhook_deliveries_for_object(*, account_id: int, object_id: str) -> QuerySet[WebhookDelivery]:
    """The webhook deliveries of every event about one object (a fax), oldest first."""
    return (
        WebhookDelivery.objects.filter(event__account_id=account_id, event__object_id=object_id)
        .select_related("event", "endpoint")
        .order_by("created_at")
    )


def webhook_deliveries_recent(
    *, endpoint: WebhookEndpoint, limit: int = 50
) -> list[WebhookDelivery]:
    return list(endpoint.deliveries.select_related("event").order_by("-created_at")[:limit])


def webhook_ping_of(*, endpoint: WebhookEndpoint, delivery_id: str) -> WebhookDelivery | None:
    """The test event delivery `delivery_id` of this endpoint, if it is one."""
    return (
        endpoint.deliveries.select_related("event", "endpoint")
        .filter(pk=delivery_id, event__type=PING)
        .first()
    )


# --- The request log ---------------------------------------------------------------------------

REQUEST_LOG_PAGE_SIZE = 50
STATUS_CLASSES = {"2xx": (200, 300), "3xx": (300, 400), "4xx": (400, 500), "5xx": (500, 600)}
_CURSOR = re.compile(r"([0-9]{1,18})\.([0-9]{1,18})")


@dataclass(frozen=True)
class RequestLogFilters:
    """What the Logs page narrows entries to; None (or empty) means no filter."""

    status_class: str | None = None
    api_key_id: str | None = None
    path_contains: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class RequestLogPage:
    entries: list[RequestLogEntry]
    # Cursors of the neighbouring pages, None at either end.
    newer: str | None
    older: str | None


def request_log_cursor(entry: RequestLogEntry) -> str:
    """The position of an entry in newest-first order: its time in microseconds and its id."""
    moment = entry.created_at - datetime(1970, 1, 1, tzinfo=UTC)
    return f"{moment // timedelta(microseconds=1)}.{entry.pk}"


def _parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    match = _CURSOR.fullmatch(cursor or "")
    if match is None:
        return None
    try:
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(match[1]))
    except OverflowError:
        return None
    return moment, int(match[2])


def _request_log_filtered(
    *, account: Account, filters: RequestLogFilters
) -> QuerySet[RequestLogEntry]:
    entries = RequestLogEntry.objects.filter(account=account)
    if filters.status_class in STATUS_CLASSES:
        low, high = STATUS_CLASSES[filters.status_class]
        entries = entries.filter(status__gte=low, status__lt=high)
    if filters.api_key_id:
        entries = entries.filter(api_key_id=filters.api_key_id)
    if filters.path_contains:
        entries = entries.filter(path__contains=filters.path_contains)
    if filters.created_from is not None:
        entries = entries.filter(created_at__gte=filters.created_from)
    if filters.created_before is not None:
        entries = entries.filter(created_at__lt=filters.created_before)
    if filters.request_id:
        entries = entries.filter(request_id=filters.request_id)
    return entries


def request_log_page(
    *,
    account: Account,
    filters: RequestLogFilters,
    older_than: str | None = None,
    newer_than: str | None = None,
    limit: int = REQUEST_LOG_PAGE_SIZE,
) -> RequestLogPage:
    """A page of the account's entries, newest first, with their keys, in one query (two when
    paging back reaches the newest entries).

    Paged by keyset on (created_at, id), never by OFFSET: a page deep in a month of requests
    costs what the first one does. `older_than` / `newer_than` are cursors from a previous page.
    The `created_at <= t` half of each condition is what lets PostgreSQL start the index scan at
    the cursor (the OR alone would be a filter over every newer row).
    """
    entries = _request_log_filtered(account=account, filters=filters).select_related("api_key")
    before, after = _parse_cursor(older_than), _parse_cursor(newer_than)
    if after is not None and before is None:
        moment, pk = after
        rows = list(
            entries.filter(created_at__gte=moment)
            .filter(Q(created_at__gt=moment) | Q(pk__gt=pk))
            .order_by("created_at", "id")[: limit + 1]
        )
        if len(rows) > limit:
            rows = rows[:limit][::-1]
            return RequestLogPage(
                entries=rows,
                newer=request_log_cursor(rows[0]),
                older=request_log_cursor(rows[-1]),
            )
        # Fewer than a page is newer: show the first page, full, rather than a stub of it.
    if before is not None:
        moment, pk = before
        entries = entries.filter(created_at__lte=moment).filter(
            Q(created_at__lt=moment) | Q(pk__lt=pk)
        )
    rows = list(entries.order_by("-created_at", "-id")[: limit + 1])
    more_older = len(rows) > limit
    rows = rows[:limit]
    return RequestLogPage(
        entries=rows,
        newer=request_log_cursor(rows[0]) if rows and before is not None else None,
        older=request_log_cursor(rows[-1]) if rows and more_older else None,
    )


def request_log_entry(*, account: Account, request_id: str) -> RequestLogEntry | None:
    """The account's entry for a request id (the latest, should a trusted proxy repeat ids)."""
    return (
        RequestLogEntry.objects.filter(account=account, request_id=request_id)
        .select_related("api_key")
        .order_by("-created_at", "-id")
        .first()
    )
