"""Customers' webhook endpoints: registering, changing, disabling, deleting, rotating secrets."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from audit.models import Action
from audit.services import Actor, audit_record, url_label
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


def _audit_endpoint(
    endpoint: WebhookEndpoint, action: str, actor: Actor | None, **details: Any
) -> None:
    audit_record(
        action=action,
        account_id=endpoint.account_id,
        actor=actor,
        target_type="webhook_endpoint",
        target_id=endpoint.pk,
        target_label=url_label(endpoint.url),
        details=details,
    )


@transaction.atomic
def webhook_endpoint_create(
    *,
    account: Account,
    url: str,
    description: str = "",
    event_types: Iterable[str] = (),
    actor: Actor | None = None,
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
    endpoint = WebhookEndpoint.objects.create(
        account=account,
        url=url,
        description=description,
        event_types=chosen,
        secret=generate_webhook_secret(),
    )
    _audit_endpoint(endpoint, Action.WEBHOOK_ENDPOINT_CREATED, actor, event_types=chosen)
    return endpoint


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str,
    description: str,
    event_types: Iterable[str],
    actor: Actor | None = None,
) -> WebhookEndpoint:
    before = (endpoint.url, endpoint.description, list(endpoint.event_types))
    endpoint.url, endpoint.event_types = _clean_endpoint(url=url, event_types=event_types)
    endpoint.description = description
    endpoint.save(update_fields=["url", "description", "event_types", "updated_at"])
    after = (endpoint.url, endpoint.description, endpoint.event_types)
    # Which fields changed, not their values: a URL's query string may hold a token.
    changed = [
        name
        for name, old, new in zip(("url", "description", "event_types"), before, after, strict=True)
        if old != new
    ]
    _audit_endpoint(endpoint, Action.WEBHOOK_ENDPOINT_CHANGED, actor, changed=changed)
    return endpoint


@transaction.atomic
def webhook_endpoint_set_enabled(
    *, endpoint: WebhookEndpoint, enabled: bool, reason: str = "", actor: Actor | None = None
) -> None:
    """Enable, or disable with a reason the dashboard shows. Enabling forgets past failures.
    `actor` None is the system (an endpoint that answered 410 or kept failing)."""
    endpoint.enabled = enabled
    endpoint.disabled_reason = "" if enabled else (reason or "Disabled by a member of the account.")
    endpoint.failing_since = None if enabled else endpoint.failing_since
    endpoint.save(update_fields=["enabled", "disabled_reason", "failing_since", "updated_at"])
    _audit_endpoint(
        endpoint,
        Action.WEBHOOK_ENDPOINT_CHANGED,
        actor,
        enabled=enabled,
        reason=endpoint.disabled_reason or None,
    )


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor | None = None) -> None:
    _audit_endpoint(endpoint, Action.WEBHOOK_ENDPOINT_DELETED, actor)
    endpoint.delete()


def webhook_endpoint_reveal_secret(*, endpoint: WebhookEndpoint, actor: Actor | None) -> str:
    """The endpoint's signing secret, for a member who asked to see it; the audit log records
    that it was shown (never the secret)."""
    _audit_endpoint(endpoint, Action.WEBHOOK_SECRET_REVEALED, actor)
    return endpoint.secret


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: Actor | None = None) -> str:
    """Issue a new secret; the old one keeps signing too for 24 hours. Returns the new one."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + SECRET_OVERLAP
    endpoint.secret = generate_webhook_secret()
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    _audit_endpoint(endpoint, Action.WEBHOOK_SECRET_ROTATED, actor)
    return endpoint.secret
