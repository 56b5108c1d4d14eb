"""Django's PostgreSQL backend, with two changes for the cost of every request.

- **The connection health check** (`CONN_HEALTH_CHECKS`) asks the socket, not the server. Django
  runs `SELECT 1` before the first query of each request, a round trip that cost as much as the
  authentication query itself. A connection that PostgreSQL closed (a restart, an idle timeout,
  `pg_terminate_backend`) has something to read while no query is running: the server's notice
  and the end of the stream. Only then is `SELECT 1` run to decide; a connection with nothing to
  read is used at once. (A peer that vanished without a word is not detected by either check
  until a query times out.)
- **`prepared_cursor()`**: a cursor whose statements PostgreSQL parses and plans once per
  connection (`PREPARE`), then only executes. For the queries every /v1 request runs (the API
  key's, the account's numbers), planning took longer than running them: about 0.5 ms for the
  three-table authentication join. The ORM's cursors stay as Django makes them (client-side
  binding, never prepared). Behind PgBouncer in transaction mode, prepared statements need
  PgBouncer 1.21 or later with `max_prepared_statements`; `DATABASE_PREPARED_STATEMENTS=false`
  turns them off. Each statement keeps its cursor for the connection's life: psycopg sets up a
  result's loaders (Django's time-zone-aware timestamps among them) again unless the same
  cursor runs the same query again, and that cost about a fifth of the authentication query.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base, operations
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.backends.utils import CursorWrapper
from psycopg.pq import Format

# More statements than this (psycopg prepares at most 100) and the kept cursors start over.
KEPT_CURSORS = 100


class PreparedCursor(base.ServerBindingCursor):
    """Server-side binding, and every statement prepared on its first execution."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("prepare", True)
        return super().execute(query, params, **kwargs)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str | None:
        # psycopg keeps no query text for a prepared statement's execution: compose it, so that
        # debug logging and captured queries (tests, benchmarks) show the SQL.
        executed = super().last_executed_query(cursor, sql, params)
        if executed is None and sql is not None:
            try:
                return self.compose_sql(sql, params)
            except psycopg.errors.DataError:
                return None
        return executed


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # prepared_cursor()'s cursors by statement, and the psycopg connection they belong to.
        self._kept_cursors: dict[str, Any] = {}
        self._kept_for: Any = None

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        # Django turns psycopg's automatic preparing off (None); a number lets `prepare=True`
        # work. Django's own cursors bind on the client side, which psycopg never prepares.
        if params.get("prepare_threshold") is None:
            params["prepare_threshold"] = 5
        return params

    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        try:
            # poll(), not select(): a descriptor past 1024 is fine.
            poller = select.poll()
            poller.register(self.connection.fileno(), select.POLLIN)
            readable = poller.poll(0)
        except (OSError, ValueError):
            return False
        # Idle and nothing sent by the server: usable. Anything else: ask the server.
        return not readable or super().is_usable()

    def prepared_cursor(self, statement: str) -> CursorWrapper:
        """A cursor like `cursor()` (the health check, the connection, debug logging and query
        counting all apply) that prepares its statements, to run `statement`: written-out SQL
        run on every request. psycopg keeps the last 100 prepared statements per connection.

        Each statement has a cursor of its own, kept until the connection changes: psycopg keeps
        a cursor's result loaders while it runs the same query again, and setting them up cost
        about a fifth of the authentication query. Read its results before running the statement
        again, and leave it open (a closed one is replaced). With DATABASE_PREPARED_STATEMENTS
        off, it is one of Django's own cursors, kept all the same."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        prepare = settings.DATABASE_PREPARED_STATEMENTS
        kept = self._kept_cursors
        if self._kept_for is not self.connection or len(kept) >= KEPT_CURSORS:
            kept.clear()
            self._kept_for = self.connection
        cursor = kept.get(statement)
        if cursor is None or cursor.closed or isinstance(cursor, PreparedCursor) != prepare:
            with self.wrap_database_errors:
                cursor = self._new_prepared_cursor() if prepare else self.create_cursor()
            kept[statement] = cursor
        return self._prepare_cursor(cursor)

    def _new_prepared_cursor(self) -> PreparedCursor:
        cursor = PreparedCursor(self.connection)
        # As Django's create_cursor(): the session's time zone, if the connection's differs.
        loader = self.connection.adapters.get_loader(base.TIMESTAMPTZ_OID, Format.TEXT)
        if self.timezone != loader.timezone:
            register_tzloader(self.timezone, cursor)
        return cursor
