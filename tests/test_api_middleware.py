"""/v1 requests pass straight through the browser-only middleware (session, signed-in user,
second factor, messages); every other request still goes through it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from sendfaxmail.lib.middleware import (
    AuthenticationMiddleware,
    MessageMiddleware,
    OTPMiddleware,
    SessionMiddleware,
)


def through_the_browser_middleware(request: HttpRequest) -> HttpRequest:
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    chain = SessionMiddleware(AuthenticationMiddleware(OTPMiddleware(MessageMiddleware(view))))
    chain(request)
    return request


def test_a_v1_request_gets_no_session_user_or_messages() -> None:
    request = through_the_browser_middleware(RequestFactory().get("/v1/numbers"))

    assert not hasattr(request, "session")
    assert not hasattr(request, "user")
    assert not hasattr(request, "_messages")


def test_a_dashboard_request_still_gets_them() -> None:
    request = through_the_browser_middleware(RequestFactory().get("/dashboard/"))

    assert hasattr(request, "session")
    assert not request.user.is_authenticated
    assert hasattr(request, "_messages")
