from __future__ import annotations

from django.http import Http404, HttpRequest

from accounts.models import Account
from accounts.permissions import current_membership


def account_of_member(request: HttpRequest) -> Account:
    """The account the logged-in dashboard user is working in (the session's membership);
    404 for a user in no account (staff). Views check the role with `member_required`."""
    membership = current_membership(request)
    if membership is None:
        raise Http404("Your user belongs to no account.")
    return membership.account
