from __future__ import annotations

from django.http import Http404, HttpRequest

from accounts.models import Account
from accounts.permissions import Action, current_membership, require


def account_of_member(request: HttpRequest) -> Account:
    """The account the logged-in dashboard user is working in (the session's membership);
    404 for a user in no account (staff). Views check the role with `member_required`."""
    membership = current_membership(request)
    if membership is None:
        raise Http404("Your user belongs to no account.")
    return membership.account


def audit_log_account_id(request: HttpRequest) -> int:
    """The account whose security log (audit.views) the signed-in user may read: the one they
    work in, if their role may (owners and admins). PermissionDenied for other roles; Http404
    for a user in no account."""
    return require(request, Action.VIEW_SECURITY_LOG).account_id


# Who may do what with documents, each in one function so that the views and the fax page ask
# the same question.


def account_for_settings(request: HttpRequest) -> Account:
    """The account whose settings (document retention) the signed-in user may change: the one
    they work in, if their role may (owners). PermissionDenied for other roles; Http404 for a
    user in no account."""
    return require(request, Action.MANAGE_SECURITY).account


def account_for_documents(request: HttpRequest) -> Account:
    """The account whose fax documents the signed-in user may download on the dashboard: the
    one they work in, if their role may read faxes (every role sees the fax pages, received
    pages included). PermissionDenied for other roles; Http404 for a user in no account."""
    return require(request, Action.READ_FAXES).account
