"""Automatic logoff (HIPAA 164.312(a)(2)(iii)): a dashboard session ends SESSION_IDLE_TIMEOUT
seconds after its last request.

SESSION_COOKIE_AGE is the idle timeout, and every request of a signed-in user pushes the
session's expiry (its database row and its cookie) forward by the full timeout. To spare a
database write on every page, the push is written at most once per refresh interval (a minute
for the default 30 minutes), so a session ends between 29 and 30 idle minutes after its last
request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse

# When the session's expiry was last pushed forward (Unix seconds), kept in the session itself.
REFRESHED_AT = "_idle_refreshed_at"


def refresh_interval() -> int:
    return max(1, min(60, settings.SESSION_COOKIE_AGE // 30))


def stamp_session_on_login(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    """`user_logged_in` receiver: signing in saves the session anyway, with a fresh expiry."""
    request.session[REFRESHED_AT] = int(time.time())


class SessionIdleTimeoutMiddleware:
    """Push a signed-in session's expiry forward (see the module docstring). It must come after
    SessionMiddleware, so that its change is saved."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # An API request has no session cookie; an expired or signed-out session has no user.
        if session is None or not session.session_key or SESSION_KEY not in session:
            return response
        now = int(time.time())
        if now - session.get(REFRESHED_AT, 0) >= refresh_interval():
            # Modifying the session makes SessionMiddleware save it: its row and its cookie
            # then expire SESSION_COOKIE_AGE seconds from now.
            session[REFRESHED_AT] = now
        return response
