"""Request counting in fixed windows, exact under concurrency: the API's budgets per key and
per account (developers/throttling.py), document downloads, and the public pages' email budgets.

For the API, each key has its own budget, and the keys of one account (per world: live or test)
share a ceiling of API_ACCOUNT_RATE_MULTIPLIER times that budget, so that making more keys does
not multiply what an account may send. With Redis, each request is one round trip: a Lua script
that increments the key's counter and, when the key is within its own limit, the account's, on
keys named after the window. Fifty simultaneous requests against a limit of ten let exactly ten
through. A request the key's own limit refuses does not spend the account's budget, so one
runaway key cannot lock out its account's other keys.

If Redis does not answer, the limiter fails open (the request goes through) and logs an error.
Without REDIS_URL (a first local run) Django's cache counts instead; that counter is not atomic
and only fit for development.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from redis import RedisError

from sendfaxmail.lib.redis import drop_own_connection, run_script

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# KEYS: the key's counter and, optionally, the account's. ARGV: the TTL, the key's limit.
# Returns both counts after this request (the account's is 0 without an account counter).
_HIT = """
local for_key = redis.call('INCR', KEYS[1])
if for_key == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if #KEYS == 1 then
    return {for_key, 0}
end
local for_account
if for_key <= tonumber(ARGV[2]) then
    for_account = redis.call('INCR', KEYS[2])
    if for_account == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
else
    for_account = tonumber(redis.call('GET', KEYS[2]) or '0')
end
return {for_key, for_account}
"""


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
    """The budget closest to running out: the key's own, or its account's ceiling."""

    limit: int
    remaining: int
    reset: int  # whole seconds until the window ends, at least 1
    allowed: bool
    scope: str  # "key" or "account": which budget `limit` and `remaining` describe


def _count(
    key_name: str, account_name: str | None, *, key_limit: int, window: int
) -> tuple[int, int]:
    names = [key_name] if account_name is None else [key_name, account_name]
    if settings.REDIS_URL:
        # EVALSHA: the script's text crosses the network once per Redis server, not per request.
        answer = run_script(_HIT, keys=names, args=[window + 1, key_limit])
        if not (isinstance(answer, list) and len(answer) == 2):
            # Not what the script answers: the connection is out of step (a proxy that ignores
            # CLIENT REPLY SKIP, say). Start over on a new one, and let this request through.
            drop_own_connection()
            raise RedisError(f"The rate-limit script answered {type(answer).__name__}")
        return int(answer[0]), int(answer[1])
    for name in names:
        cache.add(name, 0, timeout=window + 1)
    for_key = int(cache.incr(key_name))
    if account_name is None:
        return for_key, 0
    if for_key > key_limit:
        return for_key, int(cache.get(account_name) or 0)
    return for_key, int(cache.incr(account_name))


def hit(
    *,
    bucket: str,
    key_id: str,
    rate: Rate,
    account: str | None = None,
    account_limit: int | None = None,
    now: float | None = None,
) -> Usage | None:
    """Count one request of `key_id` in `bucket`; None when the counter is down (fail open).

    With `account` (the name of a shared ceiling) and `account_limit` (its size), the request
    also counts against that ceiling, and is allowed only within both budgets.
    """
    now = time.time() if now is None else now
    window_index = int(now // rate.window)
    with_account = account is not None and account_limit is not None
    try:
        for_key, for_account = _count(
            f"rl:{bucket}:{key_id}:{window_index}",
            f"rl:{bucket}:account:{account}:{window_index}" if with_account else None,
            key_limit=rate.limit,
            window=rate.window,
        )
    except (RedisError, ValueError):
        logger.error("Rate limiter unavailable; letting the request through", exc_info=True)
        return None
    reset = max(1, math.ceil((window_index + 1) * rate.window - now))
    key_left = rate.limit - for_key
    if not with_account:
        return Usage(rate.limit, max(0, key_left), reset, key_left >= 0, "key")
    account_left = account_limit - for_account
    allowed = key_left >= 0 and account_left >= 0
    if account_left < key_left:
        return Usage(account_limit, max(0, account_left), reset, allowed, "account")
    return Usage(rate.limit, max(0, key_left), reset, allowed, "key")
