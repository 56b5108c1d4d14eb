"""Request logs never hold a query string: `?to=` filters name fax numbers (PHI)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from sendfaxmail.lib.accesslog import QueryFreeRequestLines

ROOT = Path(__file__).resolve().parent.parent
NUMBER = "15551234567"
QUERY = f"?to=%2B{NUMBER}&status=delivered"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer within 30 s")


def logged(log: Path, text: str) -> str:
    """The log's content once it holds `text`: a server writes its line after answering."""
    deadline = time.monotonic() + 15
    while text not in (content := log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return content


@contextmanager
def served(command: list[str], port: int, log: Path) -> Iterator[str]:
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=os.environ.copy(), stdout=output, stderr=output
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/v1/", process)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=15)


def test_gunicorn_logs_the_path_without_the_query_string(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "access.log"
    command = [
        sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
        "-b", f"127.0.0.1:{port}", "-w", "1", "--access-logfile", str(log),
    ]  # fmt: skip
    with served(command, port, tmp_path / "server.log") as base:
        referer = f"{base}/dashboard/faxes{QUERY}"
        response = requests.get(f"{base}/v1/faxes{QUERY}", headers={"Referer": referer}, timeout=10)
        assert response.status_code == 401
        text = logged(log, "/v1/faxes")

    assert '"GET /v1/faxes HTTP/1.1" 401' in text
    assert f'"{base}/dashboard/faxes"' in text
    assert response.headers["Request-Id"] in text
    assert NUMBER not in text


def test_runserver_logs_the_path_without_the_query_string(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "runserver.log"
    command = [
        sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload",
        "--skip-checks",
    ]  # fmt: skip
    with served(command, port, log) as base:
        assert requests.get(f"{base}/v1/faxes{QUERY}", timeout=10).status_code == 401
        # Django's "Unauthorized" warning names the path too, and may come first: wait for the
        # access line itself.
        text = logged(log, '"GET /v1/faxes HTTP/1.1" 401')

    assert NUMBER not in text


def test_the_runserver_filter_also_cleans_messages_about_bad_requests() -> None:
    record = logging.LogRecord(
        "django.server", logging.WARNING, __file__, 1, "code %d, message %s",
        (400, f"Bad request syntax ('GET /v1/faxes{QUERY} HTTP/1.1')"), None,
    )  # fmt: skip

    QueryFreeRequestLines().filter(record)

    assert NUMBER not in record.getMessage()
