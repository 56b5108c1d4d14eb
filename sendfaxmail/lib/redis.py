"""One shared Redis client per process, for the health check and occasional commands; and a
connection per thread for the commands every /v1 request makes: the rate limiter's script (one
round trip) and writes sent without waiting for an answer (the request log)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

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


# --- Each thread's own connection -------------------------------------------------------------

# With the URL and process it was opened for: a forked worker must not write on its parent's
# socket, nor a test that moves REDIS_URL on the old one. Commands sent without reply get no
# answer on it, so an answered command sent after them reads its own answer.
_own = threading.local()


def run_script(script: str, *, keys: Sequence[str], args: Sequence[str | int]) -> Any:
    """Run the Lua `script` with `keys` and `args` and return its answer: EVALSHA, one round
    trip on this thread's own connection (EVAL, once, when the server does not know it yet).

    For the script every /v1 request runs: redis-py's client checks a connection out of its pool
    and wraps each call in its retry machinery, which cost as much CPU as the round trip.
    A connection found closed (Redis restarted, or dropped an idle client) is replaced and the
    command sent once more; any other failure raises RedisError.
    """
    command = (str(len(keys)), *keys, *(str(arg) for arg in args))
    try:
        return _call("EVALSHA", _sha1(script), *command)
    except redis.exceptions.NoScriptError:
        return _call("EVAL", script, *command)


@cache
def _sha1(script: str) -> str:
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


def _call(*command: str) -> Any:
    try:
        return _call_once(command)
    except redis.ConnectionError:
        # A connection Redis closed (a restart, an idle timeout): once more, on a new one. If
        # it closed after running the command, the command runs twice (redis-py's retries do
        # the same); the rate limiter counts a request twice, at worst.
        return _call_once(command)


def _call_once(command: tuple[str, ...]) -> Any:
    connection = _own_connection()
    try:
        connection.send_packed_command([_pack(command)], check_health=False)
        return connection.read_response()
    except redis.ResponseError:
        raise  # the command's own error, read in full: the connection is in step
    except BaseException:
        # Anything else (a lost connection, a timeout, the request's deadline between the send
        # and the read) may leave an answer unread, which the next command would take for its
        # own: the connection goes.
        drop_own_connection()
        raise


def drop_own_connection() -> None:
    """Close this thread's own connection; the next command opens another. For a caller that
    got an answer it cannot have asked for: the connection is out of step."""
    connection = getattr(_own, "connection", None)
    _own.connection = None
    if connection is not None:
        connection.disconnect()


# --- Commands nobody waits for ---------------------------------------------------------------


def send_without_reply(*command: str | bytes) -> None:
    """Send one command and do not wait for Redis's answer: one `send`, not a round trip.

    Each call is `CLIENT REPLY SKIP` and the command, in one write on this thread's own
    connection, so Redis sends nothing back for it. What Redis would have answered, an error
    included (memory full, say), is lost: use it only for writes whose loss is acceptable.
    Raises RedisError when the connection fails (it is dropped; the next call opens another).
    """
    connection = _own_connection()
    try:
        connection.send_packed_command([_REPLY_SKIP + _pack(command)], check_health=False)
    except redis.RedisError:
        _own.connection = None
        raise


# Written out once: redis-py's general packer cost more than the send itself.
_REPLY_SKIP = b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n"


def _pack(command: tuple[str | bytes, ...]) -> bytes:
    """One command in Redis's protocol (RESP): an array of bulk strings."""
    parts = [b"*%d\r\n" % len(command)]
    for argument in command:
        data = argument.encode() if isinstance(argument, str) else argument
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def wait_for_unanswered() -> None:
    """Return once Redis has run every command this thread sent without reply: a PING on the
    same connection, answered after them. A no-op when the thread has sent none."""
    connection = _current_own_connection()
    if connection is None:
        return
    try:
        connection.send_command("PING", check_health=False)
        connection.read_response()
    except redis.RedisError:
        _own.connection = None
        raise


def _current_own_connection() -> redis.Connection | None:
    connection = getattr(_own, "connection", None)
    if connection is None or getattr(_own, "owner", None) != _owner():
        return None
    return connection


def _own_connection() -> redis.Connection:
    connection = _current_own_connection()
    if connection is None:
        pool = redis.ConnectionPool.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
            health_check_interval=0,  # a health check would wait for a PING's answer
        )
        connection = pool.connection_class(**pool.connection_kwargs)
        connection.connect()
        _own.connection, _own.owner = connection, _owner()
    return connection


def _owner() -> tuple[int, str]:
    return os.getpid(), settings.REDIS_URL
