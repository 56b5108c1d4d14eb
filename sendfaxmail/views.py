"""Views that belong to no app: the health check."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET
from redis import RedisError

from sendfaxmail.lib.redis import get_redis

logger = logging.getLogger(__name__)


def _database_up() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        logger.warning("Health check: the database does not answer", exc_info=True)
        return False


def _redis_up() -> bool:
    try:
        return bool(get_redis().ping())
    except RedisError:
        logger.warning("Health check: Redis does not answer", exc_info=True)
        return False


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database (and Redis, where configured) answer; 503 naming what is down."""
    checks = {"database": _database_up()}
    if settings.REDIS_URL:
        checks["redis"] = _redis_up()
    down = [name for name, up in checks.items() if not up]
    body = {
        "status": "down" if down else "ok",
        "checks": {k: "ok" if v else "down" for k, v in checks.items()},
    }
    if down:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)
