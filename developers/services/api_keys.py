"""Every write to API keys: creating, revoking, deleting, and noting their use."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from accounts.models import Account, User
from developers import keys
from developers.models import (
    ApiKey,
    Scope,
)


class ApiKeyError(ValueError):
    """The key cannot be created as asked; the message says why."""


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = set(scopes)
    unknown = chosen - set(Scope.values)
    if unknown:
        raise ApiKeyError(
            f"Unknown scope {', '.join(sorted(unknown))}. Choose from {', '.join(Scope.values)}."
        )
    if not chosen:
        raise ApiKeyError("Choose at least one scope.")
    return [scope for scope in Scope.values if scope in chosen]


def api_key_create(
    *,
    account: Account,
    name: str,
    scopes: Iterable[str],
    created_by: User | None,
    livemode: bool = True,
) -> tuple[ApiKey, str]:
    """Create a key; return it with its secret, which is stored nowhere: show it once."""
    secret = keys.generate(livemode=livemode)
    api_key = ApiKey.objects.create(
        account=account,
        name=name.strip() or "Untitled key",
        scopes=_clean_scopes(scopes),
        livemode=livemode,
        created_by=created_by,
        digest=keys.digest(secret),
        prefix=keys.display_prefix(secret),
    )
    return api_key, secret


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Stop the key working from the next request on. Revoking twice keeps the first time."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_key_delete(*, api_key: ApiKey) -> None:
    """Revoke the key and remove it from every list."""
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
    ApiKey.objects.filter(pk=api_key.pk).update(deleted_at=now)


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use, at most about once a minute per key, so requests do not each write a row."""
    now = timezone.now()
    if api_key.last_used_at and (now - api_key.last_used_at).total_seconds() < 60:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now
