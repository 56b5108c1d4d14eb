"""The address a request came from, as far as the proxies in front of us can vouch for it.

One function for every place that records or counts clients: login throttling (django-axes'
`AXES_CLIENT_IP_CALLABLE`), the audit log and the request log.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address.

    With `TRUSTED_PROXY_COUNT` = 0 (the default) it is the connection's address, REMOTE_ADDR,
    since any client can write an X-Forwarded-For header. Behind N proxies that each append
    the address they received the request from, it is the Nth entry from the right of
    X-Forwarded-For, the one our outermost proxy wrote; entries further left are the client's
    own claim. When the header has fewer entries than that, or the entry is not an address,
    REMOTE_ADDR is used.
    """
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if len(forwarded) < proxies:
        return remote
    return _address(forwarded[-proxies]) or remote


@functools.lru_cache(maxsize=1024)
def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None
