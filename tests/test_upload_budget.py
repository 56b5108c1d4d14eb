"""Decompression bombs sent to a real gunicorn, as in production: sync workers, one request each.

Four bombs at once used to hold all four workers for tens of seconds while another tenant's
request waited. Now each is refused from its headers in milliseconds, and the other tenant is
served as fast as before.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import pytest
import requests
from django.db import connection

from tests import attack_documents, documents
from tests.conftest import make_key
from tests.factories import AccountFactory, FaxFactory

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4  # As in the Procfile.


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url() -> str:
    """The test database, which the server must use to see the rows the test commits."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    """gunicorn with WORKERS sync workers on the test database; yields its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "API_SEND_RATE": "1000000/m",
        "API_READ_RATE": "1000000/m",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "gunicorn", "sendfaxmail.wsgi", "--preload"]
    command += ["-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "--timeout", "60"]
    # Without this, every gunicorn on the machine shares one control socket path.
    command += ["--no-control-socket"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_healthy(base_url, process, log)
            yield base_url
        finally:
            process.send_signal(signal.SIGINT)  # A quick shutdown: nothing is left to finish.
            process.wait(timeout=30)


def _wait_until_healthy(base_url: str, process: subprocess.Popen, log: IO[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            pytest.fail(f"gunicorn exited: {log.read()[-2000:]!r}")
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail("gunicorn did not answer /healthz within 60 s")


def _timed(method: str, url: str, **kwargs: object) -> tuple[float, requests.Response]:
    began = time.perf_counter()
    response = requests.request(method, url, timeout=20, **kwargs)
    return time.perf_counter() - began, response


def test_four_bombs_at_once_are_refused_at_once_and_keep_no_one_waiting(server: str) -> None:
    attacker = AccountFactory(plan_slug="business", with_number=True)
    bomb_key = make_key(attacker, livemode=False)[1]
    tenant = AccountFactory(plan_slug="business", with_number=True)
    FaxFactory.create_batch(3, account=tenant)
    tenant_headers = {"Authorization": f"Bearer {make_key(tenant)[1]}"}
    tiff = attack_documents.multi_frame_tiff((7000, 7000), 350)
    png = attack_documents.transparent_png((7000, 7000))
    bombs = [
        json.dumps(
            {
                "to": "+15551234567",
                "document": {"content": documents.b64(data), "content_type": content_type},
            }
        )
        for data, content_type in [(tiff, "image/tiff"), (png, "image/png")] * 2
    ]
    bomb_headers = {"Authorization": f"Bearer {bomb_key}", "Content-Type": "application/json"}
    list_url = f"{server}/v1/faxes"
    # Every worker answers a few requests first, so that none is measured starting up.
    alone = [_timed("GET", list_url, headers=tenant_headers)[0] for _ in range(3 * WORKERS)]

    with ThreadPoolExecutor(max_workers=len(bombs) + 1) as pool:
        sent = [
            pool.submit(_timed, "POST", list_url, data=body, headers=bomb_headers) for body in bombs
        ]
        time.sleep(0.05)  # The bombs reach the workers first.
        listed = pool.submit(_timed, "GET", list_url, headers=tenant_headers)
        answers = [future.result() for future in sent]
        waited, listing = listed.result()

    for elapsed, response in answers:
        assert response.status_code == 400, response.text[:300]
        assert response.json()["error"]["param"] == "document"
        assert elapsed < 2
    assert listing.status_code == 200
    assert len(listing.json()["data"]) == 3
    # Alone, the list answers in tens of milliseconds; behind the bombs it used to wait for a
    # worker for tens of seconds. The margin is for a loaded two-core machine.
    assert waited < statistics.median(alone) + 1
