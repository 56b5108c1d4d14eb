from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account, Plan
from developers import keys
from developers.models import PING, ApiKey, WebhookDelivery, WebhookEndpoint

# The authentication query, written out: it runs on every /v1 request, and building it with the
# ORM (select_related + only) cost more than running it. It reads only what authentication, the
# plan gate, the scope check and the throttle need.
AUTH_SQL = """
SELECT k.id, k.scopes, k.livemode, k.last_used_at,
       a.id, a.name, a.trial_ends_at, p.slug, p.api_access
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
    with connection.cursor() as cursor:
        cursor.execute(AUTH_SQL, [keys.digest(raw)])
        row = cursor.fetchone()
    return None if row is None else key_from_row(row)


def api_key_label(*, api_key_id: int) -> str:
    """How logs name the key: its name and display prefix (never the secret)."""
    api_key = ApiKey.objects.only("name", "prefix").filter(pk=api_key_id).first()
    return str(api_key) if api_key is not None else f"API key {api_key_id}"


def key_from_row(row: tuple[Any, ...]) -> ApiKey:
    """Build the key, account and plan from AUTH_SQL's row. A raw cursor skips Django's field
    converters, so values come as the driver gives them: on SQLite, JSON as text and naive
    datetimes (tests/test_auth_query_on_sqlite.py reads a real row there)."""
    key_id, scopes, livemode, last_used_at, account_id, name, trial_ends_at, slug, api_access = row
    plan = Plan(slug=slug, api_access=bool(api_access))
    account = Account(id=account_id, name=name, trial_ends_at=_aware(trial_ends_at), plan=plan)
    return ApiKey(
        id=key_id,
        scopes=json.loads(scopes) if isinstance(scopes, str) else scopes,
        livemode=bool(livemode),
        last_used_at=_aware(last_used_at),
        account=account,
    )


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
