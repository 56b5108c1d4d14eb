from __future__ import annotations

from django.db.models import QuerySet

from developers import keys
from developers.models import ApiKey, WebhookDelivery, WebhookEndpoint

# Only what authentication, the plan gate, the scope check and the throttle read.
AUTH_FIELDS = (
    "id",
    "scopes",
    "livemode",
    "last_used_at",
    "account__id",
    "account__name",
    "account__trial_ends_at",
    "account__plan__slug",
    "account__plan__api_access",
)


def api_key_for_secret(raw: str) -> ApiKey | None:
    """The usable key whose secret is `raw`, with its account and plan, in one query.

    A malformed key (wrong shape or checksum) is refused without a query. The lookup is an exact
    match on the indexed digest, so its timing tells nothing about the secret.
    """
    if not keys.is_well_formed(raw):
        return None
    try:
        return (
            ApiKey.objects.usable()
            .select_related("account__plan")
            .only(*AUTH_FIELDS)
            .get(digest=keys.digest(raw))
        )
    except ApiKey.DoesNotExist:
        return None


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
