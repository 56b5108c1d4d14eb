"""Middleware that knows no app."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from sendfaxmail.lib import request_id

# A 20 MB document arrives as ~27 MB of base64 and leaves a body, its text and the decoded bytes
# in reference cycles (DRF serializers point back at their parents) until the collector runs:
# a worker grew by about 100 MB a send. Collecting after each large body keeps it flat.
LARGE_BODY = 5 * 1024 * 1024


class CollectAfterLargeBodiesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if int(request.META.get("CONTENT_LENGTH") or 0) > LARGE_BODY:
            gc.collect()
        return response


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
        return response


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered the request, e.g. `/v1/faxes/<id:fax_id>`; `-` when no
    pattern matched (an unknown path outside /v1, a static file)."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return "-"
    return f"/{match.route}"
