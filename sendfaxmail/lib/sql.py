"""Written-out SQL for the reads every /v1 request makes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection


def fetch_all(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of `sql`, prepared on PostgreSQL (parsed and planned once per connection, see
    sendfaxmail/lib/postgresql/base.py), as a plain cursor elsewhere (SQLite). A raw cursor:
    values come as the driver gives them, without Django's field converters."""
    prepared = getattr(connection, "prepared_cursor", None)
    with prepared() if prepared is not None else connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
