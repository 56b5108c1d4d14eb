from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from accounts.models import Account, User


def account_of_member(user: User) -> Account:
    """The account a logged-in dashboard user works in; 404 for a user with none (staff)."""
    if user.account is None:
        raise Http404("Your user belongs to no account.")
    return user.account


def audit_log_account_id(request: HttpRequest) -> int:
    """The account whose security log (audit.views) the signed-in user may read: their own,
    if they own it. PermissionDenied for other members; Http404 for a user with no account."""
    account = account_of_member(request.user)
    if account.owner_id != request.user.pk:
        raise PermissionDenied("Only the account's owner can see its security log.")
    return account.pk
