"""Work started at the same moment from several threads, each on a database connection of its
own, for the races the services must settle (PostgreSQL: real locks, real unique indexes)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def at_once(count: int, work: Callable[[], T]) -> list[T]:
    """`work`'s results from `count` threads released together (a barrier); each thread closes
    its connection when done, so the test database can be dropped."""
    start = threading.Barrier(count)

    def run(_: int) -> T:
        start.wait(10)
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))
