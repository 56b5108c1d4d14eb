"""Customers' webhook endpoints: registering, changing, disabling, deleting, rotating secrets."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from developers.models import WebhookEndpoint, WebhookEventType
from sendfaxmail.lib.fetch import FetchError, UnsafeUrl, vet_url
from sendfaxmail.lib.signing import generate_webhook_secret

ENDPOINTS_PER_ACCOUNT = 16
# After a rotation, the previous secret keeps signing this long.
SECRET_OVERLAP = timedelta(hours=24)


class WebhookError(ValueError):
    """The endpoint cannot be saved as asked; the message says why."""


class EndpointLimitReached(WebhookError):
    """The account already has ENDPOINTS_PER_ACCOUNT endpoints."""


def _clean_endpoint(*, url: str, event_types: Iterable[str]) -> tuple[str, list[str]]:
    try:
        vet_url(url)
    except UnsafeUrl as error:
        raise WebhookError(error.message) from None
    except FetchError as error:
        raise WebhookError(f"We could not check this URL: {error.message}") from None
    chosen = [t for t in WebhookEventType.values if t in set(event_types)]
    return url, chosen or list(WebhookEventType.values)


@transaction.atomic
def webhook_endpoint_create(
    *, account: Account, url: str, description: str = "", event_types: Iterable[str] = ()
) -> WebhookEndpoint:
    """Register an HTTPS endpoint. Its URL passes the SSRF guard now and at every delivery.
    An account has at most ENDPOINTS_PER_ACCOUNT endpoints (EndpointLimitReached)."""
    url, chosen = _clean_endpoint(url=url, event_types=event_types)
    # The account's row lock makes concurrent additions count one after the other.
    Account.objects.select_for_update().filter(pk=account.pk).first()
    if WebhookEndpoint.objects.filter(account=account).count() >= ENDPOINTS_PER_ACCOUNT:
        raise EndpointLimitReached(
            f"An account can have at most {ENDPOINTS_PER_ACCOUNT} webhook endpoints. Delete one "
            "you no longer use, or subscribe one endpoint to more events."
        )
    return WebhookEndpoint.objects.create(
        account=account,
        url=url,
        description=description,
        event_types=chosen,
        secret=generate_webhook_secret(),
    )


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, url: str, description: str, event_types: Iterable[str]
) -> WebhookEndpoint:
    endpoint.url, endpoint.event_types = _clean_endpoint(url=url, event_types=event_types)
    endpoint.description = description
    endpoint.save(update_fields=["url", "description", "event_types", "updated_at"])
    return endpoint


def webhook_endpoint_set_enabled(
    *, endpoint: WebhookEndpoint, enabled: bool, reason: str = ""
) -> None:
    """Enable, or disable with a reason the dashboard shows. Enabling forgets past failures."""
    endpoint.enabled = enabled
    endpoint.disabled_reason = "" if enabled else (reason or "Disabled by a member of the account.")
    endpoint.failing_since = None if enabled else endpoint.failing_since
    endpoint.save(update_fields=["enabled", "disabled_reason", "failing_since", "updated_at"])


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """Issue a new secret; the old one keeps signing too for 24 hours. Returns the new one."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + SECRET_OVERLAP
    endpoint.secret = generate_webhook_secret()
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    return endpoint.secret
