from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from developers.throttling import USAGE_ATTRIBUTE


class RateLimitHeadersMiddleware:
    """Add `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` to /v1 responses."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        usage = getattr(request, USAGE_ATTRIBUTE, None)
        if usage is not None:
            response["RateLimit-Limit"] = str(usage.limit)
            response["RateLimit-Remaining"] = str(usage.remaining)
            response["RateLimit-Reset"] = str(usage.reset)
        return response
