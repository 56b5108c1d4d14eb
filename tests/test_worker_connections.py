"""Celery workers keep their database connection between tasks (CONN_MAX_AGE), as web workers
do between requests, instead of opening a new one for every task (sendfaxmail/celery.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import signals
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

from developers.tasks import request_log_flush_task
from sendfaxmail.celery import app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def worker_fixup() -> Iterator[None]:
    """Celery's own handlers, as a worker process installs them (they close connections)."""
    fixup = DjangoWorkerFixup(app)
    signals.task_prerun.connect(fixup.on_task_prerun)
    signals.task_postrun.connect(fixup.on_task_postrun)
    yield
    signals.task_prerun.disconnect(fixup.on_task_prerun)
    signals.task_postrun.disconnect(fixup.on_task_postrun)
    # A connection opened under CONN_MAX_AGE=60 would outlive the test (and keep the test
    # database from being dropped at the end of the run).
    connection.close()


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def run_between_tasks() -> None:
    """What a worker does after one task and before the next."""
    task = request_log_flush_task
    task_postrun.send(sender=task, task_id="one", task=task, args=(), kwargs={})
    task_prerun.send(sender=task, task_id="two", task=task, args=(), kwargs={})


def test_it_keeps_the_connection_from_one_task_to_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()  # the next one opens under this CONN_MAX_AGE
    first = backend_pid()

    run_between_tasks()

    assert backend_pid() == first


def test_it_closes_a_connection_past_conn_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    connection.close()
    first = backend_pid()

    run_between_tasks()

    assert backend_pid() != first
