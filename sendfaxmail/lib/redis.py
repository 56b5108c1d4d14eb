"""One shared Redis client per process, for the health check and the rate limiter; and a
connection per thread for writes sent without waiting for an answer (the request log)."""

from __future__ import annotations

import os
import threading
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


# --- Commands nobody waits for ---------------------------------------------------------------

# Each thread's own connection for them, with the URL and process it was opened for: a forked
# worker must not write on its parent's socket, nor a test that moves REDIS_URL on the old one.
_unanswered = threading.local()


def send_without_reply(*command: str | bytes) -> None:
    """Send one command and do not wait for Redis's answer: one `send`, not a round trip.

    Each call is `CLIENT REPLY SKIP` and the command, in one write on this thread's own
    connection, so Redis sends nothing back for it. What Redis would have answered, an error
    included (memory full, say), is lost: use it only for writes whose loss is acceptable.
    Raises RedisError when the connection fails (it is dropped; the next call opens another).
    """
    connection = _unanswered_connection()
    try:
        connection.send_packed_command([_REPLY_SKIP + _pack(command)], check_health=False)
    except redis.RedisError:
        _unanswered.connection = None
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
    connection = _current_unanswered_connection()
    if connection is None:
        return
    try:
        connection.send_command("PING", check_health=False)
        connection.read_response()
    except redis.RedisError:
        _unanswered.connection = None
        raise


def _current_unanswered_connection() -> redis.Connection | None:
    connection = getattr(_unanswered, "connection", None)
    if connection is None or getattr(_unanswered, "owner", None) != _owner():
        return None
    return connection


def _unanswered_connection() -> redis.Connection:
    connection = _current_unanswered_connection()
    if connection is None:
        pool = redis.ConnectionPool.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
            health_check_interval=0,  # a health check would wait for a PING's answer
        )
        connection = pool.connection_class(**pool.connection_kwargs)
        connection.connect()
        _unanswered.connection, _unanswered.owner = connection, _owner()
    return connection


def _owner() -> tuple[int, str]:
    return os.getpid(), settings.REDIS_URL
