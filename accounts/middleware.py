"""Per-request checks for a logged-in browser session: which account it acts in, whether that
account is still the user's, and whether the user has passed two-factor login where needed.

It runs after Django's and django-otp's authentication middleware, and sets
`request.membership` (None for anonymous users and users in no account) and
`request.memberships` (every membership of the user, for the account switcher).

- A session whose account is no longer the user's (they were removed) cannot act on it: the
  request is refused with a redirect, to another of the user's accounts, or to the login page
  after logging the session out when they have none left.
- A user with an authenticator app who has not given a code in this session (a session that
  began before they enrolled elsewhere) is sent to the code page before anything else.
- A user who must use two-factor login (staff; members of an account that requires it) and has
  not set it up is sent to enrolment before anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse

from accounts.current import SESSION_ACCOUNT_KEY, membership_of_session, session_account_set
from accounts.two_factor import two_factor_enabled, two_factor_required
from sendfaxmail.lib.middleware import is_api_path

# Requests that never act through a dashboard session besides the API (bearer keys): Telnyx's
# webhooks, the health check, static files.
_SKIPPED = ("/webhooks/", "/healthz", "/static/")


class MembershipMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = None
        request.memberships = []
        # /v1 requests (bearer keys) have no `request.user` before DRF sets one: the session
        # middleware is skipped for them (sendfaxmail.lib.middleware).
        path = request.path_info
        if is_api_path(path) or path.startswith(_SKIPPED) or not request.user.is_authenticated:
            return self.get_response(request)
        refused = _resolve(request) or _two_factor_gate(request)
        return refused or self.get_response(request)


def _resolve(request: HttpRequest) -> HttpResponse | None:
    current = membership_of_session(request)
    request.memberships = current.memberships
    if current.lost_account:
        if not current.memberships:
            logout(request)
            return redirect_to_login(request.get_full_path())
        session_account_set(request, current.memberships[0].account)
        messages.warning(request, "You are no longer a member of that account.")
        return redirect("dashboard:home")
    request.membership = current.membership
    if current.membership is not None and SESSION_ACCOUNT_KEY not in request.session:
        session_account_set(request, current.membership.account)
    return None


def _two_factor_gate(request: HttpRequest) -> HttpResponse | None:
    user = request.user
    if user.is_verified() or _exempt(request.path_info):
        return None
    if two_factor_enabled(user=user):
        query = urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(f"{reverse('login_code')}?{query}")
    if two_factor_required(user=user, memberships=request.memberships):
        if request.path_info == reverse("two_factor_setup"):
            return None
        messages.info(request, "Set up two-factor login to continue.")
        return redirect("two_factor_setup")
    return None


def _exempt(path: str) -> bool:
    """Pages a session that still owes a second factor may use: logging in (both steps) and
    out, and resetting the password."""
    return path.startswith(
        (reverse("login"), reverse("logout"), reverse("password_reset"), "/accounts/reset/")
    )
