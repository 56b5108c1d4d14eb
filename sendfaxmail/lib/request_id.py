"""Request ids: `req_…`, one per HTTP request, answered in the `Request-Id` header.

`RequestIdMiddleware` (sendfaxmail/lib/middleware.py) binds the id when a request comes in;
`current()` reads it from anywhere below (the error envelope, log records) without passing the
request around. Outside a request (a Celery task, a management command) it is None.

A `Request-Id` sent by the client is ignored, since anyone can send one: a support search for an
id must find the request we named. Only when the operator says the proxy in front sets (or
replaces) the header, `TRUST_REQUEST_ID_HEADER=true`, is the incoming value kept, provided it is
1-64 letters, digits, `_` or `-` (nginx's `$request_id`, 32 hex digits, is); otherwise a new id
is made.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.signals import request_finished
from django.http import HttpRequest

from sendfaxmail.lib.ids import make_id

HEADER = "Request-Id"
# The attribute of Django's request that holds the id.
ATTRIBUTE = "request_id"
# The same characters our `<id:…>` URL converter takes, so that any id opens its log page.
TRUSTED_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def current() -> str | None:
    """The id of the request being answered in this context; None outside a request."""
    return _current.get()


def for_request(request: HttpRequest) -> str:
    """The id for a new request: the proxy's when trusted and well formed, else a new one."""
    if settings.TRUST_REQUEST_ID_HEADER:
        incoming = request.META.get("HTTP_REQUEST_ID", "")
        if TRUSTED_SHAPE.fullmatch(incoming):
            return incoming
    return make_id("req")


def bind(request_id: str) -> None:
    """Make `request_id` the current one, from the start of a request until its response is
    closed (`request_finished`), so that Django's own lines about the request, logged after the
    middleware has returned, carry it too."""
    _current.set(request_id)


def _unbind(**kwargs: Any) -> None:
    _current.set(None)


request_finished.connect(_unbind, dispatch_uid="sendfaxmail.lib.request_id.unbind")
