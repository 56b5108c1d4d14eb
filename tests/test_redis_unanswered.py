"""sendfaxmail.lib.redis.send_without_reply: writes that cost a send, not a round trip."""

from __future__ import annotations

import pytest
import redis

from sendfaxmail.lib import redis as lib_redis
from sendfaxmail.lib.redis import get_redis, send_without_reply, wait_for_unanswered


def test_the_commands_run_in_order() -> None:
    for value in ("a", "b", "c"):
        send_without_reply("RPUSH", "unanswered-test", value)

    wait_for_unanswered()

    assert get_redis().lrange("unanswered-test", 0, -1) == [b"a", b"b", b"c"]


def test_redis_sends_nothing_back_for_them() -> None:
    for _ in range(200):
        send_without_reply("RPUSH", "unanswered-test", "x")
    wait_for_unanswered()  # reads the PING's answer: nothing may be left after it

    connection = lib_redis._unanswered.connection
    assert connection.can_read(timeout=0.2) is False
    assert get_redis().llen("unanswered-test") == 200


def test_a_connection_that_fails_raises_and_a_later_call_opens_another(settings) -> None:
    original = settings.REDIS_URL
    send_without_reply("RPUSH", "unanswered-test", "before")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    with pytest.raises(redis.RedisError):
        send_without_reply("RPUSH", "unanswered-test", "lost")
    settings.REDIS_URL = original
    send_without_reply("RPUSH", "unanswered-test", "after")
    wait_for_unanswered()

    assert get_redis().lrange("unanswered-test", 0, -1) == [b"before", b"after"]
