from __future__ import annotations

import pytest
from django.db.utils import OperationalError
from django.test import Client, override_settings

from sendfaxmail.lib.redis import get_redis

pytestmark = pytest.mark.django_db


def test_it_answers_200_when_database_and_redis_answer(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_it_answers_503_naming_redis_when_redis_is_down(client: Client) -> None:
    get_redis.cache_clear()
    try:
        with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
            response = client.get("/healthz")
    finally:
        get_redis.cache_clear()

    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]


def test_it_answers_503_naming_the_database_when_it_is_down(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection

    def refuse() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["down"] == ["database"]


def test_it_answers_plain_http_probes_when_https_is_enforced(client: Client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/dashboard/").status_code == 301
