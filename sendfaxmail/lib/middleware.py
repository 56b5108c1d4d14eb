"""Middleware that knows no app: request ids, /v1 answers and `Cache-Control`."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_otp import middleware as otp_middleware

from sendfaxmail.lib import request_id
from sendfaxmail.lib.errors import envelope

logger = logging.getLogger(__name__)
# Django logs a refused Host header under this name; a /v1 one is logged the same way.
disallowed_host_logger = logging.getLogger("django.security.DisallowedHost")

# The envelope for an error answer that Django, not our DRF exception handler, produced.
_CODES = {
    400: ("bad_request", "The request could not be processed."),
    403: ("permission_denied", "This request is not allowed."),
    404: ("not_found", "Unknown API route."),
    405: ("method_not_allowed", "This method is not allowed on this route."),
    413: ("request_too_large", "The request body is too large."),
    500: ("internal_error", "Something went wrong on our side. Please retry."),
}


TIMED_OUT = (
    "The request took too long and was stopped. Retry it; a send retried with the same "
    "Idempotency-Key is never sent twice."
)


def is_api_path(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


_REPEAT_SECONDS = 1.0


class RequestTimedOut(SystemExit):
    """Raised in a request's thread when its time is up.

    A SystemExit, like the one gunicorn raises when it aborts a worker: an `except Exception` in
    the code it interrupts cannot swallow it, transactions roll back, and psycopg answers it by
    cancelling the query in progress on the server, which leaves the connection usable.
    """


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise RequestTimedOut in this thread after `seconds` (SIGALRM), and again every second
    until the block is left: an exception raised by a signal handler is lost when it lands in a
    finalizer (a `weakref.finalize` callback run by the garbage collector, say).

    Only the main thread can receive signals: under gunicorn's sync workers (ours) every request
    runs there. Elsewhere (threads, `seconds` <= 0) this does nothing.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise RequestTimedOut()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, _REPEAT_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class ApiAnswersMiddleware:
    """Every /v1 answer is the JSON the API documents, whatever part of the stack answered.

    - A Host header outside ALLOWED_HOSTS is a 400 `invalid_host` envelope (Django would answer
      its HTML 400 page from CommonMiddleware).
    - A request still running after API_REQUEST_TIMEOUT seconds is stopped and answered 503
      `timeout`, before gunicorn's own timeout kills the worker and the client gets no answer.
    - Any other error answer that is not JSON (a crash in a middleware, Django's own 400 for a
      malformed body) is replaced by the envelope for its status.

    It must come first in MIDDLEWARE so that it sees every answer (after the metrics,
    RequestIdMiddleware and RequestLogMiddleware, which answer nothing themselves: they time,
    name and record its answers).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_path(request.path_info):
            return self.get_response(request)
        try:
            request.get_host()
        except DisallowedHost as error:
            disallowed_host_logger.error("%s", error)
            return _error(400, "invalid_host", "This service does not answer to that Host.")
        try:
            with deadline(settings.API_REQUEST_TIMEOUT):
                response = self.get_response(request)
        except RequestTimedOut:
            logger.error(
                "%s %s stopped after API_REQUEST_TIMEOUT (%s s)",
                request.method,
                request.path,
                settings.API_REQUEST_TIMEOUT,
            )
            return _error(503, "timeout", TIMED_OUT)
        if response.status_code >= 400 and not _is_json(response):
            status = response.status_code
            return _error(status, *_CODES.get(status, ("error", response.reason_phrase)))
        return response


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every answer under NO_STORE_PATH_PREFIXES: the API and the
    dashboard show faxes (PHI), keys and webhook secrets, which no browser or proxy may keep."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.prefixes = tuple(settings.NO_STORE_PATH_PREFIXES)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith(self.prefixes) and not _has_no_store(response):
            # Replaces any other caching directive: none of them is right for these answers.
            response["Cache-Control"] = "no-store"
        return response


def _has_no_store(response: HttpResponse) -> bool:
    # Views that already forbid storing (Django's `never_cache`) keep their fuller header.
    directives = response.get("Cache-Control", "").lower().split(",")
    return "no-store" in (d.strip() for d in directives)


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip() == "application/json"


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(envelope(code, message), status=status)


# The one line per request, for support to find a request by its id.
request_logger = logging.getLogger("sendfaxmail.requests")

# The attribute of Django's request holding `time.perf_counter()` when the request came in.
STARTED_ATTRIBUTE = "started_at"


class RequestIdMiddleware:
    """First in the stack: every answer, early errors included, carries `Request-Id: req_…`,
    and every request is logged once with its method, route, status and duration, on a record
    whose `request_id` the log format prints (on every line logged while the request runs).

    The route is the URL pattern that matched (`v1/faxes/<id:fax_id>`), never the raw path or
    its query, which may hold ids, phone numbers or search values.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        setattr(request, STARTED_ATTRIBUTE, started)
        current = request_id.for_request(request)
        setattr(request, request_id.ATTRIBUTE, current)
        request_id.bind(current)
        response = self.get_response(request)
        response[request_id.HEADER] = current
        if request_logger.isEnabledFor(logging.INFO):
            _log_request(request, response, current, started)
        return response


def _log_request(
    request: HttpRequest, response: HttpResponse, current: str, started: float
) -> None:
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    route = route_of(request)
    request_logger.info(
        "method=%s route=%s status=%s duration_ms=%.1f",
        request.method,
        route,
        response.status_code,
        duration_ms,
        extra={
            "request_id": current,
            "method": request.method,
            "route": route,
            "status": response.status_code,
            "duration_ms": duration_ms,
        },
    )


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered the request, e.g. `/v1/faxes/<id:fax_id>`; `-` when no
    pattern matched (an unknown path outside /v1, a static file)."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return "-"
    return f"/{match.route}"


# --- Browser-only middleware, skipped for /v1 ---------------------------------------------------


class _NotForApi:
    """Pass /v1 requests straight through: the API authenticates each request by its key and
    never has a browser session, a signed-in user, messages or a second factor. Loading and
    wrapping them cost a /v1 request about a tenth of a millisecond (bench/auth.py)."""

    get_response: Callable[[HttpRequest], HttpResponse]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request.path_info):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class SessionMiddleware(_NotForApi, sessions_middleware.SessionMiddleware):
    pass


class AuthenticationMiddleware(_NotForApi, auth_middleware.AuthenticationMiddleware):
    pass


class OTPMiddleware(_NotForApi, otp_middleware.OTPMiddleware):
    pass


class MessageMiddleware(_NotForApi, messages_middleware.MessageMiddleware):
    pass
