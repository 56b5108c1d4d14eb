"""Middleware that knows no app."""

from __future__ import annotations

import gc
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
