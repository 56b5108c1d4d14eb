"""The PostgreSQL backend (sendfaxmail/lib/postgresql): a health check that asks the socket,
and prepared statements for the queries every /v1 request runs."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator

import pytest
from django.db import DataError, connection, transaction
from django.db.backends.postgresql import base as django_base
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from developers.selectors import api_key_for_secret
from fax_numbers.selectors import fax_number_rows_of_account
from sendfaxmail.lib.postgresql.base import DatabaseWrapper
from sendfaxmail.lib.sql import fetch_all
from tests.conftest import make_key


@pytest.fixture
def separate(db: None) -> Iterator[DatabaseWrapper]:
    """A second connection to the test database, kept between requests as CONN_MAX_AGE does,
    with health checks on."""
    settings_dict = {**connection.settings_dict, "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}
    wrapper = DatabaseWrapper(settings_dict, alias="separate")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def backend_pid(wrapper: DatabaseWrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid: int, wrapper: DatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    # The server's goodbye reaches the socket a moment later.
    select.select([wrapper.connection.fileno()], [], [], 5)


def test_it_checks_an_idle_connection_without_a_query(
    separate: DatabaseWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    def select_one(self: object) -> bool:
        raise AssertionError("SELECT 1 was run")

    monkeypatch.setattr(django_base.DatabaseWrapper, "is_usable", select_one)

    assert separate.is_usable()


def test_it_replaces_a_connection_the_server_closed(separate: DatabaseWrapper) -> None:
    first = backend_pid(separate)
    separate.close_if_unusable_or_obsolete()  # the end of a request
    terminate(first, separate)

    second = backend_pid(separate)  # the next request: no error, a new connection

    assert second != first


def test_it_finds_the_server_gone_before_any_query(separate: DatabaseWrapper) -> None:
    terminate(backend_pid(separate), separate)
    time.sleep(0.05)

    assert not separate.is_usable()


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_it_prepares_the_authentication_query(account: Account) -> None:
    _, secret = make_key(account)

    assert api_key_for_secret(secret).account.pk == account.pk
    assert any("FROM developers_apikey k" in sql for sql in prepared_statements())


def test_it_prepares_the_numbers_query(account: Account) -> None:
    rows = fax_number_rows_of_account(account_id=account.pk)

    assert [row["number"] for row in rows] == [account.fax_numbers.get().number]
    assert any("FROM numbers_faxnumber" in sql for sql in prepared_statements())


def test_it_prepares_nothing_when_turned_off(account: Account, settings: object) -> None:
    settings.DATABASE_PREPARED_STATEMENTS = False
    _, secret = make_key(account)

    assert api_key_for_secret(secret) is not None
    assert not any("FROM developers_apikey k" in sql for sql in prepared_statements())


def test_captured_queries_show_a_prepared_statements_sql(account: Account) -> None:
    fax_number_rows_of_account(account_id=account.pk)  # prepared by now

    with CaptureQueriesContext(connection) as captured:
        fax_number_rows_of_account(account_id=account.pk)

    [query] = captured.captured_queries
    assert "FROM numbers_faxnumber" in query["sql"]
    assert str(account.pk) in query["sql"]


def test_it_keeps_a_prepared_cursor_for_each_statement(separate: DatabaseWrapper) -> None:
    add, now = "SELECT %s::int + 1", "SELECT now() AT TIME ZONE 'UTC', %s::text"

    def run(sql: str, params: list[object]) -> tuple[object, list[tuple[object, ...]]]:
        cursor = separate.prepared_cursor(sql)
        cursor.execute(sql, params)
        return cursor.cursor, cursor.fetchall()

    first, one = run(add, [1])
    other, (row,) = run(now, ["two"])
    again, two = run(add, [2])

    # psycopg keeps a cursor's result loaders while it runs the same query again.
    assert again is first
    assert other is not first
    assert (one, two, row[1]) == ([(2,)], [(3,)], "two")


def test_it_replaces_a_kept_cursor_when_closed_or_reconnected(separate: DatabaseWrapper) -> None:
    kept = separate.prepared_cursor("SELECT 1").cursor
    kept.close()
    replaced = separate.prepared_cursor("SELECT 1")
    replaced.execute("SELECT 1")
    assert replaced.cursor is not kept
    assert replaced.fetchall() == [(1,)]

    separate.close()
    after_reconnect = separate.prepared_cursor("SELECT 1")
    after_reconnect.execute("SELECT 1")

    assert after_reconnect.cursor is not replaced.cursor
    assert after_reconnect.fetchall() == [(1,)]


def test_a_kept_cursor_survives_a_failed_statement(account: Account) -> None:
    _, secret = make_key(account)
    api_key_for_secret(secret)
    with pytest.raises(DataError), transaction.atomic():
        fetch_all("SELECT 1 / %s", [0])

    assert api_key_for_secret(secret).account.pk == account.pk
