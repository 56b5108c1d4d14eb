from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from developers.models import ApiKey
from developers.services.request_log import RequestRecord, request_log_record
from developers.throttling import USAGE_ATTRIBUTE
from sendfaxmail.lib import request_id
from sendfaxmail.lib.client_ip import client_ip
from sendfaxmail.lib.middleware import STARTED_ATTRIBUTE

logger = logging.getLogger(__name__)

# An Idempotency-Key as the API accepts it; anything else is not recorded.
PRINTABLE = re.compile(r"[\x20-\x7e]{1,255}")


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


class RequestLogMiddleware:
    """Record every authenticated /v1 request in its account's request log.

    The entry is made and handed over (`request_log_record`: one Redis command, not awaited)
    when the server closes the response, after the answer has gone to the client: before that,
    a request pays for two attribute reads and a clock reading. Requests without a valid key
    (401) belong to no account and are not recorded. Nothing of the body or the query is kept.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        api_key = getattr(request, "auth", None)
        if isinstance(api_key, ApiKey) and settings.REQUEST_LOG_ENABLED:
            # Only the clock is read now; the entry is made once the answer has been sent.
            # Django calls these closers from response.close(), after the WSGI server has
            # written the answer (the test client calls it too), and swallows what they raise.
            started = getattr(request, STARTED_ATTRIBUTE, None)
            finished = time.perf_counter()
            keep = partial(_keep, request, response, api_key, started or finished, finished)
            response._resource_closers.append(keep)
        return response


def _keep(
    request: HttpRequest, response: HttpResponse, api_key: ApiKey, started: float, finished: float
) -> None:
    try:
        record = _record(request, response, api_key, started=started, finished=finished)
    except Exception:
        logger.exception("Could not make the request log entry of %s", request.path)
        return
    request_log_record(record=record)


def _record(
    request: HttpRequest,
    response: HttpResponse,
    api_key: ApiKey,
    *,
    started: float,
    finished: float,
) -> RequestRecord:
    """The entry of a request that came in at `started` and was answered at `finished`
    (`time.perf_counter()` readings)."""
    idempotency_key = request.META.get("HTTP_IDEMPOTENCY_KEY", "")
    location = response.get("Location", "") if response.status_code == 201 else ""
    object_id = location.rsplit("/", 1)[-1]
    return RequestRecord(
        account_id=api_key.account_id,
        api_key_id=api_key.pk,
        livemode=api_key.livemode,
        created_at=timezone.now() - timedelta(seconds=time.perf_counter() - started),
        request_id=getattr(request, request_id.ATTRIBUTE, "") or "",
        method=request.method or "",
        path=request.path[:512],
        status=response.status_code,
        error_code=_error_code(response),
        duration_ms=round((finished - started) * 1000, 1),
        idempotency_key=idempotency_key if PRINTABLE.fullmatch(idempotency_key) else "",
        replayed=response.get("Idempotent-Replayed") == "true",
        client_ip=client_ip(request),
        object_id=object_id if request_id.TRUSTED_SHAPE.fullmatch(object_id) else "",
    )


def _error_code(response: HttpResponse) -> str:
    """The envelope's `code` of an error answer. DRF responses keep their data; an envelope
    made by a middleware (a timeout, say) is read back from its small body."""
    if response.status_code < 400:
        return ""
    data = getattr(response, "data", None)
    is_json = response.get("Content-Type", "").startswith("application/json")
    if data is None and is_json and not response.streaming:
        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code[:64] if isinstance(code, str) else ""
