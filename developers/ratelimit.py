"""Per-key request counting in fixed windows, exact under concurrency.

With Redis, each request is one MULTI/EXEC of INCR + EXPIRE on a key named after the window, so
fifty simultaneous requests against a limit of ten let exactly ten through. If Redis does not
answer, the limiter fails open (the API keeps working) and logs an error. Without REDIS_URL (a
first local run) Django's cache counts instead; that counter is not atomic and only fit for
development.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from redis import RedisError

from sendfaxmail.lib.redis import get_redis

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    window: int  # seconds

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`60/m` → 60 requests a minute. Also `/s`, `/h`, `/d`."""
        count, _, period = text.partition("/")
        return cls(limit=int(count), window=PERIODS[period.strip().lower()[:1]])


@dataclass(frozen=True)
class Usage:
    limit: int
    remaining: int
    reset: int  # whole seconds until the window ends, at least 1
    allowed: bool


def _count(name: str, window: int) -> int:
    if settings.REDIS_URL:
        pipe = get_redis().pipeline(transaction=True)
        pipe.incr(name)
        pipe.expire(name, window + 1)
        count, _ = pipe.execute()
        return int(count)
    cache.add(name, 0, timeout=window + 1)
    return int(cache.incr(name))


def hit(*, bucket: str, key_id: str, rate: Rate, now: float | None = None) -> Usage | None:
    """Count one request of `key_id` in `bucket`; None when the counter is down (fail open)."""
    now = time.time() if now is None else now
    window_index = int(now // rate.window)
    name = f"rl:{bucket}:{key_id}:{window_index}"
    try:
        count = _count(name, rate.window)
    except (RedisError, ValueError):
        logger.error("Rate limiter unavailable; letting the request through", exc_info=True)
        return None
    reset = max(1, math.ceil((window_index + 1) * rate.window - now))
    return Usage(
        limit=rate.limit,
        remaining=max(0, rate.limit - count),
        reset=reset,
        allowed=count <= rate.limit,
    )
