"""The account a logged-in user is working in, kept in the session.

A user may be a member of several accounts. The session remembers which one they chose
(`SESSION_ACCOUNT_KEY`); a session without a choice works in the user's oldest membership. The
membership is looked up again on every request, so a member who is removed cannot act on the
account with their next request, whatever sessions they have open.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from accounts.models import Account, Membership, User

SESSION_ACCOUNT_KEY = "account_id"


@dataclass(frozen=True)
class SessionMembership:
    """The membership the session works in (None: in no account), every membership of the
    user (oldest first), and whether the account the session had chosen is no longer theirs."""

    membership: Membership | None
    memberships: list[Membership]
    lost_account: bool


def memberships_of_user(user: User) -> list[Membership]:
    """Every membership of `user` with its account and plan, oldest first: one query."""
    return list(
        Membership.objects.filter(user=user)
        .select_related("account__plan")
        .order_by("created_at", "id")
    )


def membership_of_session(request: HttpRequest) -> SessionMembership:
    """Which membership this request acts through. The caller deals with a lost account."""
    user = request.user
    if not user.is_authenticated:
        return SessionMembership(None, [], lost_account=False)
    memberships = memberships_of_user(user)
    chosen = request.session.get(SESSION_ACCOUNT_KEY)
    if chosen is not None:
        for membership in memberships:
            if membership.account_id == chosen:
                return SessionMembership(membership, memberships, lost_account=False)
        return SessionMembership(None, memberships, lost_account=True)
    return SessionMembership(
        memberships[0] if memberships else None, memberships, lost_account=False
    )


def session_account_set(request: HttpRequest, account: Account | None) -> None:
    """Work in `account` from now on (None: forget the choice)."""
    if account is None:
        request.session.pop(SESSION_ACCOUNT_KEY, None)
    else:
        request.session[SESSION_ACCOUNT_KEY] = account.pk


def on_login_choose_account(
    sender: object, request: HttpRequest, user: User, **kwargs: object
) -> None:
    """At login the session starts in the user's oldest account (`user_logged_in` receiver),
    so that the middleware never has to write the session to remember it."""
    if request is None or not hasattr(request, "session"):
        return
    first = (
        Membership.objects.filter(user=user)
        .order_by("created_at", "id")
        .values_list("account_id", flat=True)
        .first()
    )
    if first is None:
        request.session.pop(SESSION_ACCOUNT_KEY, None)
    else:
        request.session[SESSION_ACCOUNT_KEY] = first


def account_id_for_audit(user: User, request: HttpRequest | None = None) -> int | None:
    """Which account a login, logout or failed login of `user` is recorded for
    (AUDIT_ACCOUNT_OF_USER): the one this request's session works in, if the session is
    `user`'s, else the user's oldest account, where their sessions start; None if they have
    none."""
    session_user = getattr(request, "user", None) if request is not None else None
    if session_user is not None and getattr(session_user, "pk", None) == user.pk:
        chosen = request.session.get(SESSION_ACCOUNT_KEY)
        if chosen is not None:
            return chosen
    return (
        Membership.objects.filter(user=user)
        .order_by("created_at", "id")
        .values_list("account_id", flat=True)
        .first()
    )
