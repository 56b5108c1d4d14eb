"""Writing the audit log. Every entry goes through `audit_record`.

Callers say who acted in one of two ways: an `Actor` (built from a request with
`actor_from_request`, or `Actor.system(...)` for commands and background work), or the
`actor_type`/`actor_id`/`actor_label` keywords with the `request` the action came in on (its
address and user agent are taken from it). With neither, the actor is the system.

`details` is for small facts that help a reader (a plan's slug, the fields that changed). It is
guarded here rather than trusted: keys that name a secret are dropped, values that look like one
of our secrets are replaced, strings are shortened and the whole is capped in size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest

from audit.models import Action, ActorType, AuditEntry
from sendfaxmail.lib.client_ip import client_ip

USER_AGENT_MAX = AuditEntry._meta.get_field("user_agent").max_length
LABEL_MAX = AuditEntry._meta.get_field("actor_label").max_length
ID_MAX = AuditEntry._meta.get_field("actor_id").max_length
# A key of `details` that contains one of these (case-insensitively) is dropped with its value.
SECRET_WORDS = (
    "secret",
    "password",
    "passwd",
    "token",
    "content",
    "key",
    "authorization",
    "cookie",
    "signature",
    "otp",
    "code",
)
# A string value that starts like one of our secrets is replaced, whatever its key.
SECRET_PREFIXES = ("sfm_live_", "sfm_test_", "whsec_")
REDACTED = "[redacted]"
DETAIL_STRING_MAX = 200
DETAIL_ITEMS_MAX = 20
DETAIL_DEPTH_MAX = 3
DETAILS_MAX_BYTES = 2048


@dataclass(frozen=True)
class Actor:
    """Who acted, and from where (the address and user agent of their request, if any)."""

    type: str
    id: str = ""
    label: str = ""
    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def system(cls, label: str = "") -> Actor:
        """The application itself: a periodic task, an automatic rule, an operator command."""
        return cls(type=ActorType.SYSTEM, label=label)


def actor_for_user(user: Any, request: HttpRequest | None = None) -> Actor:
    """A signed-in person: staff if `is_staff`, a member otherwise; labelled by email."""
    actor = Actor(
        type=ActorType.STAFF if getattr(user, "is_staff", False) else ActorType.MEMBER,
        id=str(user.pk),
        label=user.get_username(),
    )
    return actor_with_request(actor, request) if request is not None else actor


def actor_from_request(request: HttpRequest) -> Actor:
    """The person behind a dashboard or admin request (anonymous if not signed in), with the
    request's client address (the login throttle's, TRUSTED_PROXY_COUNT) and user agent."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return actor_for_user(user, request)
    return actor_with_request(Actor(type=ActorType.ANONYMOUS), request)


def actor_with_request(actor: Actor, request: HttpRequest) -> Actor:
    """`actor`, with the client address and user agent of `request`."""
    agent = request.META.get("HTTP_USER_AGENT", "")
    return replace(actor, ip=client_ip(request), user_agent=str(agent)[:USER_AGENT_MAX])


def audit_record(
    *,
    action: str,
    account_id: int | None = None,
    actor_type: str = "",
    actor_id: str = "",
    actor_label: str = "",
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    request: HttpRequest | None = None,
    details: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> AuditEntry:
    """Append one entry to the log, in the caller's transaction, and return it.

    `action` is one of `Action`'s values (ValueError otherwise). The actor is `actor` if given;
    else the `actor_*` keywords, with the address and user agent of `request`; else, with only
    a `request`, its signed-in user; else the system.
    """
    if action not in Action.values:
        raise ValueError(f"Unknown audit action {action!r}.")
    if actor is None:
        if actor_type:
            actor = Actor(type=actor_type, id=str(actor_id), label=actor_label)
            actor = actor_with_request(actor, request) if request is not None else actor
        elif request is not None:
            actor = actor_from_request(request)
        else:
            actor = Actor.system()
    if actor.type not in ActorType.values:
        raise ValueError(f"Unknown actor type {actor.type!r}.")
    return AuditEntry.objects.create(
        account_id=account_id,
        action=action,
        actor_type=actor.type,
        actor_id=str(actor.id)[:ID_MAX],
        actor_label=actor.label[:LABEL_MAX],
        target_type=target_type[:ID_MAX],
        target_id=str(target_id)[:ID_MAX],
        target_label=target_label[:LABEL_MAX],
        ip=actor.ip,
        user_agent=actor.user_agent[:USER_AGENT_MAX],
        details=details_clean(details or {}),
    )


def details_clean(details: dict[str, Any]) -> dict[str, Any]:
    """`details` fit to keep: no secret-named keys, no secret-looking values, short strings,
    at most DETAIL_ITEMS_MAX items a level and DETAIL_DEPTH_MAX levels, DETAILS_MAX_BYTES of
    JSON in all (beyond that, only `{"truncated": true}` is kept)."""
    cleaned = _clean(details, depth=1)
    if len(json.dumps(cleaned, separators=(",", ":"))) > DETAILS_MAX_BYTES:
        return {"truncated": True}
    return cleaned


def _clean(value: Any, *, depth: int) -> Any:
    if isinstance(value, dict):
        if depth > DETAIL_DEPTH_MAX:
            return REDACTED
        return {
            str(key)[:64]: _clean(item, depth=depth + 1)
            for key, item in list(value.items())[:DETAIL_ITEMS_MAX]
            if not any(word in str(key).lower() for word in SECRET_WORDS)
        }
    if isinstance(value, list | tuple | set | frozenset):
        if depth > DETAIL_DEPTH_MAX:
            return REDACTED
        return [_clean(item, depth=depth + 1) for item in list(value)[:DETAIL_ITEMS_MAX]]
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(SECRET_PREFIXES):
        return REDACTED
    return text[:DETAIL_STRING_MAX]


def url_label(url: str) -> str:
    """A URL as the log shows it: scheme, host and path, without a query string or fragment,
    which sometimes carry a token."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"[:LABEL_MAX]
