"""Who may do what in an account's dashboard: the one place roles are turned into permissions.

Every dashboard view is wrapped in `member_required(Action.X)`. It logs the visitor in if needed,
finds their membership of the current account (`request.membership`, set per request by
`accounts.middleware.MembershipMiddleware`; a user with no account gets a 404, as before), and
answers 403 when the role does not allow the action. Templates hide what a role cannot use
through the `can` context variable (`accounts.context_processors.membership`), but hiding is
a courtesy: this check is the control. `tests/test_roles.py` checks every dashboard URL against
a table of the roles that may use it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern

from accounts.current import membership_of_session
from accounts.models import Membership, Role

View = Callable[..., HttpResponse]


class Action(StrEnum):
    VIEW_DASHBOARD = "view_dashboard"  # the home page, switching accounts, leaving one
    READ_FAXES = "read_faxes"
    SEND_FAXES = "send_faxes"
    MANAGE_KEYS = "manage_keys"
    MANAGE_WEBHOOKS = "manage_webhooks"
    VIEW_API_LOGS = "view_api_logs"
    MANAGE_NUMBERS = "manage_numbers"  # where a number's received faxes are emailed
    MANAGE_MEMBERS = "manage_members"  # invite, change roles below owner, remove non-owners
    MANAGE_OWNERS = "manage_owners"  # make or unmake owners, remove an owner
    MANAGE_PLAN = "manage_plan"
    MANAGE_SECURITY = "manage_security"  # account-wide settings such as requiring 2FA
    VIEW_SECURITY_LOG = "view_security_log"  # the audit log


_EVERYONE = {Action.VIEW_DASHBOARD, Action.READ_FAXES}
_SENDER = _EVERYONE | {Action.SEND_FAXES}
_DEVELOPER = _SENDER | {Action.MANAGE_KEYS, Action.MANAGE_WEBHOOKS, Action.VIEW_API_LOGS}
_ADMIN = _DEVELOPER | {Action.MANAGE_NUMBERS, Action.MANAGE_MEMBERS, Action.VIEW_SECURITY_LOG}
_OWNER = set(Action)

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.OWNER: frozenset(_OWNER),
    Role.ADMIN: frozenset(_ADMIN),
    Role.DEVELOPER: frozenset(_DEVELOPER),
    Role.SENDER: frozenset(_SENDER),
    Role.VIEWER: frozenset(_EVERYONE),
}


def role_allows(role: str, action: Action) -> bool:
    return action in ROLE_ACTIONS.get(role, frozenset())


def current_membership(request: HttpRequest) -> Membership | None:
    """The visitor's membership of the account they are working in, or None (anonymous, or a
    user in no account). Computed once per request by the middleware."""
    if not hasattr(request, "membership"):
        request.membership = membership_of_session(request).membership
    return request.membership


def require(request: HttpRequest, action: Action) -> Membership:
    """The membership, if its role allows `action`; otherwise PermissionDenied (403), or Http404
    for a user who belongs to no account."""
    membership = current_membership(request)
    if membership is None:
        raise Http404("Your user belongs to no account.")
    if not role_allows(membership.role, action):
        raise PermissionDenied(f"Your role cannot {action.replace('_', ' ')}.")
    return membership


def member_required(action: Action, *, no_account_ok: bool = False) -> Callable[[View], View]:
    """Decorate a dashboard view: logged in, a member of the current account, and a role that
    allows `action`. The view finds the membership at `request.membership`. With
    `no_account_ok`, a user in no account (staff) gets the view too, with a None membership."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not (no_account_ok and current_membership(request) is None):
                require(request, action)
            return view(request, *args, **kwargs)

        wrapper.member_action = action  # type: ignore[attr-defined]
        return wrapper

    return decorator


class Can:
    """`{% if can.manage_keys %}` in templates: what the current membership's role allows."""

    def __init__(self, membership: Membership | None) -> None:
        self._role = membership.role if membership is not None else None

    def __getattr__(self, name: str) -> bool:
        try:
            action = Action(name)
        except ValueError:
            raise AttributeError(name) from None
        return self._role is not None and role_allows(self._role, action)


def member_urlpatterns(patterns: list[URLPattern], action: Action) -> list[URLPattern]:
    """Another app's dashboard routes, each view wrapped in `member_required(action)`: for apps
    below `accounts` (audit), which cannot import this module; the URL map wraps them."""
    return [
        URLPattern(p.pattern, member_required(action)(p.callback), p.default_args, p.name)
        for p in patterns
    ]
