"""DRF throttle: the per-key send and read budgets (API_SEND_RATE, API_READ_RATE), and the
account-wide ceiling over all of an account's keys (API_ACCOUNT_RATE_MULTIPLIER times those)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.request import Request

if TYPE_CHECKING:
    # Imported only for hints: DRF loads these classes while rest_framework.views initialises.
    from rest_framework.views import APIView
from rest_framework.throttling import BaseThrottle

from sendfaxmail.lib import metrics
from sendfaxmail.lib.errors import RateLimited
from sendfaxmail.lib.ratelimit import Rate, hit

# The attribute on Django's request that RateLimitHeadersMiddleware reads.
USAGE_ATTRIBUTE = "api_rate_usage"


class ApiKeyRateThrottle(BaseThrottle):
    """POST requests spend the send budget, every other method the read budget."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        bucket = "send" if request.method == "POST" else "read"
        rate = Rate.parse(settings.API_SEND_RATE if bucket == "send" else settings.API_READ_RATE)
        key = request.auth
        # Live and test keys have separate ceilings: a sandbox run cannot block live sends.
        usage = hit(
            bucket=bucket,
            key_id=key.pk,
            account=f"{key.account_id}:{'live' if key.livemode else 'test'}",
            rate=rate,
            account_limit=rate.limit * settings.API_ACCOUNT_RATE_MULTIPLIER,
        )
        if usage is None:
            return True
        setattr(request._request, USAGE_ATTRIBUTE, usage)
        if not usage.allowed:
            metrics.rate_limited(bucket=bucket)
            spent = (
                f"This key has used its {usage.limit} {bucket} requests"
                if usage.scope == "key"
                else f"This account's keys have used their shared {usage.limit} {bucket} requests"
            )
            raise RateLimited(
                f"{spent} for this window. Retry after {usage.reset} s.", retry_after=usage.reset
            )
        return True
