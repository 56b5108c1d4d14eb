"""Small HTTP helpers shared by the carrier client and webhook delivery."""

from __future__ import annotations

import email.utils
import math
import time
from datetime import UTC


def seconds_from_header(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After`-style header: a delay, an HTTP date, or (as some rate
    limiters send) a Unix time. None when absent or unreadable; never negative."""
    if not value:
        return None
    now = time.time() if now is None else now
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        # HTTP dates are GMT; a "-0000" zone parses as naive but means the same.
        seconds = moment.replace(tzinfo=moment.tzinfo or UTC).timestamp() - now
    if not math.isfinite(seconds):
        return None
    if seconds > 1_000_000_000:
        seconds -= now
    return max(0.0, seconds)
