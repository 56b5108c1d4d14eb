"""Every write to API keys: creating, revoking, deleting, and noting their use."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, User
from audit.models import Action
from audit.services import Actor, audit_record
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


def _audit_key(api_key: ApiKey, action: str, actor: Actor | None, **details: Any) -> None:
    audit_record(
        action=action,
        account_id=api_key.account_id,
        actor=actor,
        target_type="api_key",
        target_id=api_key.pk,
        target_label=str(api_key),
        details=details,
    )


@transaction.atomic
def api_key_create(
    *,
    account: Account,
    name: str,
    scopes: Iterable[str],
    created_by: User | None,
    livemode: bool = True,
    actor: Actor | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; return it with its secret, which is stored nowhere: show it once.
    `actor` (the system if None) is who the audit log says created it."""
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
    _audit_key(
        api_key, Action.API_KEY_CREATED, actor, scopes=api_key.scopes, livemode=api_key.livemode
    )
    return api_key, secret


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor | None = None) -> None:
    """Stop the key working from the next request on. Revoking twice keeps the first time
    (and the audit log records only the first)."""
    now = timezone.now()
    if ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now):
        _audit_key(api_key, Action.API_KEY_REVOKED, actor)


@transaction.atomic
def api_key_delete(*, api_key: ApiKey, actor: Actor | None = None) -> None:
    """Revoke the key and remove it from every list."""
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
    if ApiKey.objects.filter(pk=api_key.pk, deleted_at__isnull=True).update(deleted_at=now):
        _audit_key(api_key, Action.API_KEY_DELETED, actor)


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use, at most about once a minute per key, so requests do not each write a row."""
    now = timezone.now()
    if api_key.last_used_at and (now - api_key.last_used_at).total_seconds() < 60:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now
