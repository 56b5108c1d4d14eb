"""Logins, failed logins and logouts, from Django's own auth signals (the dashboard's login
page and the admin's alike). The attempted password is never read."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.module_loading import import_string

from audit.models import Action, ActorType
from audit.services import Actor, actor_for_user, actor_with_request, audit_record


def _account_id(user: Any, request: HttpRequest | None = None) -> int | None:
    """The account an entry about `user` belongs to. Users belong to accounts through
    memberships, in `accounts`, above this app: AUDIT_ACCOUNT_OF_USER names its function (the
    account the session works in, else the user's oldest; None for staff in no account)."""
    if user is None:
        return None
    return import_string(settings.AUDIT_ACCOUNT_OF_USER)(user, request)


@receiver(user_logged_in, dispatch_uid="audit.login")
def record_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(
        action=Action.LOGIN,
        account_id=_account_id(user, request),
        actor=actor_for_user(user, request),
    )


@receiver(user_logged_out, dispatch_uid="audit.logout")
def record_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is None or not user.is_authenticated:
        return  # logging out without a session
    audit_record(
        action=Action.LOGOUT,
        account_id=_account_id(user, request),
        actor=actor_for_user(user, request),
    )


@receiver(user_login_failed, dispatch_uid="audit.login_failed")
def record_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """One entry per failed attempt, for the account of the address tried if it has a user.

    Only the address is kept, and only if it is one: a password typed into the email field must
    not end up in the log.
    """
    # Django's login forms pass the address as `username`, whatever USERNAME_FIELD is.
    tried = credentials.get("username", credentials.get(get_user_model().USERNAME_FIELD))
    email = _email_or_blank(tried)
    user = _user_with_email(email) if email else None
    if user is not None:
        actor = actor_for_user(user, request)
    else:
        actor = Actor(type=ActorType.ANONYMOUS, label=email)
        if request is not None:
            actor = actor_with_request(actor, request)
    details = {"locked_out": True} if getattr(request, "axes_locked_out", False) else {}
    audit_record(
        action=Action.LOGIN_FAILED,
        account_id=_account_id(user, request),
        actor=actor,
        details=details,
    )


def _email_or_blank(value: object) -> str:
    if not isinstance(value, str):
        return ""
    email = value.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        return ""
    return email


def _user_with_email(email: str) -> Any:
    model = get_user_model()
    lookup = {f"{model.USERNAME_FIELD}__iexact": email}
    return model._default_manager.filter(**lookup).first()
