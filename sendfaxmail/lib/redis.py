"""One shared Redis client per process, for the health check and the rate limiter."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def get_redis() -> redis.Redis:
    """The client for REDIS_URL, with short timeouts so a dead Redis cannot stall a request."""
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        health_check_interval=30,
    )
