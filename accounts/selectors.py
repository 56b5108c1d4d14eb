from __future__ import annotations

from django.http import Http404

from accounts.models import Account, User


def account_of_member(user: User) -> Account:
    """The account a logged-in dashboard user works in; 404 for a user with none (staff)."""
    if user.account is None:
        raise Http404("Your user belongs to no account.")
    return user.account
