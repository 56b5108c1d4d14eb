"""sendfaxmail.lib.redis, each thread's own connection: writes that cost a send, not a round trip
(send_without_reply), and a script's answer in one round trip (run_script)."""

from __future__ import annotations

import pytest
import redis

from sendfaxmail.lib import redis as lib_redis
from sendfaxmail.lib.redis import get_redis, run_script, send_without_reply, wait_for_unanswered

COUNT = "return redis.call('INCR', KEYS[1]) + tonumber(ARGV[1])"


def test_the_commands_run_in_order() -> None:
    for value in ("a", "b", "c"):
        send_without_reply("RPUSH", "unanswered-test", value)

    wait_for_unanswered()

    assert get_redis().lrange("unanswered-test", 0, -1) == [b"a", b"b", b"c"]


def test_redis_sends_nothing_back_for_them() -> None:
    for _ in range(200):
        send_without_reply("RPUSH", "unanswered-test", "x")
    wait_for_unanswered()  # reads the PING's answer: nothing may be left after it

    connection = lib_redis._own.connection
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


def evalsha_calls() -> int:
    return get_redis().info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)


def test_a_script_runs_by_its_digest_once_the_server_knows_it() -> None:
    get_redis().script_flush()

    first = run_script(COUNT, keys=["script-test"], args=[100])  # unknown: EVAL
    calls = evalsha_calls()
    second = run_script(COUNT, keys=["script-test"], args=[100])

    assert (first, second) == (101, 102)
    assert evalsha_calls() == calls + 1


def test_a_script_after_unanswered_writes_reads_its_own_answer() -> None:
    for value in ("a", "b", "c"):
        send_without_reply("RPUSH", "unanswered-test", value)

    length = run_script("return redis.call('LLEN', KEYS[1])", keys=["unanswered-test"], args=[])

    assert length == 3
    assert lib_redis._own.connection.can_read(timeout=0.2) is False


def test_a_connection_redis_closed_is_replaced_and_the_script_runs_once() -> None:
    run_script(COUNT, keys=["script-test"], args=[0])
    connection = lib_redis._own.connection
    connection.send_command("CLIENT", "ID")
    get_redis().execute_command("CLIENT", "KILL", "ID", connection.read_response())

    assert run_script(COUNT, keys=["script-test"], args=[0]) == 2
    assert lib_redis._own.connection is not connection
    assert get_redis().get("script-test") == b"2"


def test_an_error_in_the_script_raises_and_keeps_the_connection() -> None:
    run_script(COUNT, keys=["script-test"], args=[0])
    connection = lib_redis._own.connection

    with pytest.raises(redis.ResponseError):
        run_script("return redis.call('NOSUCHCOMMAND')", keys=[], args=[])

    assert run_script(COUNT, keys=["script-test"], args=[0]) == 2
    assert lib_redis._own.connection is connection


class Interrupted(BaseException):
    """Like the request's deadline (a SystemExit raised by SIGALRM) between a send and a read."""


def test_a_command_interrupted_before_its_answer_leaves_no_answer_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_script(COUNT, keys=["script-test"], args=[0])
    connection = lib_redis._own.connection

    def interrupted() -> None:
        raise Interrupted()

    monkeypatch.setattr(connection, "read_response", interrupted)
    with pytest.raises(Interrupted):
        run_script(COUNT, keys=["script-test"], args=[0])  # runs in Redis: the count is 2

    # Its own answer, not the one left unread on the old connection.
    assert run_script(COUNT, keys=["script-test"], args=[0]) == 3
    assert lib_redis._own.connection is not connection
