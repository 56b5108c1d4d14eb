"""Login throttling: the callables that `sendfaxmail/settings.py` hands to django-axes.

Axes keeps one row per (email, IP address, user agent) that failed to log in, on
`/accounts/login/` and `/admin/login/` alike (it hooks `django.contrib.auth.authenticate`), and
forgets a row once it has seen no failure for `AXES_COOLOFF_TIME`. For each entry of
`AXES_LOCKOUT_PARAMETERS` it adds up the rows that match the request, takes the largest sum and
compares it with one limit, `AXES_FAILURE_LIMIT`. We want two limits: 10 failures for an
(email, IP) pair, so a guesser is stopped, but 100 for an IP alone, so that one person's typos do
not lock out a whole clinic behind one NAT address. The parameters are the pair and the IP; the
IP's sum includes the pair's, so it is always the largest, and `failure_limit` makes the one
limit depend on the pair: the pair limit once the pair has reached it, the IP limit otherwise.
"""

from __future__ import annotations

from datetime import timedelta

from axes.attempts import get_cool_off_threshold
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

# AXES_CLIENT_IP_CALLABLE names it here; the one implementation is shared with the audit log.
from sendfaxmail.lib.client_ip import client_ip as client_ip


def client_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The email tried, as the login form matches it (stripped, lower-case), so that `Ann@x`
    and `ann@x` count as one account."""
    source = credentials if credentials is not None else request.POST
    username = source.get("username")
    if not isinstance(username, str):
        return None
    return username.strip().lower()


def failure_limit(request: HttpRequest, credentials: dict | None = None) -> int:
    """The limit axes compares the IP's failures with (see the module docstring): the pair
    limit when this (email, IP) pair has reached it, the much higher IP limit otherwise."""
    if _pair_failures(request, credentials) >= settings.LOGIN_FAILURE_LIMIT:
        return settings.LOGIN_FAILURE_LIMIT
    return settings.LOGIN_IP_FAILURE_LIMIT


def _pair_failures(request: HttpRequest, credentials: dict | None) -> int:
    AxesProxyHandler.update_request(request)  # sets axes_ip_address; a no-op if already done
    total = AccessAttempt.objects.filter(
        username=get_client_username(request, credentials),
        ip_address=request.axes_ip_address,
        attempt_time__gte=get_cool_off_threshold(request),
    ).aggregate(total=Sum("failures_since_start"))["total"]
    return total or 0


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """429 with a page that says when to try again.

    Every refused attempt counts as a failure too, which restarts the cool-off, so the lock
    lifts `AXES_COOLOFF_TIME` after this attempt (axes' default, kept on purpose: a guesser who
    keeps going stays locked out).
    """
    cool_off = get_cool_off(request) or timedelta(0)
    attempted_at = getattr(request, "axes_attempt_time", None) or timezone.now()
    minutes = max(1, round(cool_off.total_seconds() / 60))
    response = render(
        request,
        "registration/locked_out.html",
        {
            "retry_at": attempted_at + cool_off,
            "minutes": minutes,
            "admin": getattr(request.resolver_match, "namespace", "") == "admin",
        },
        status=429,
    )
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
