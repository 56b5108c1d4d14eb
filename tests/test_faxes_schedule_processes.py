"""Two beat/worker processes releasing the same due scheduled faxes at the same moment, against
PostgreSQL: each fax is released, and its submission sent, exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from faxes.models import Fax, FaxEvent, FaxStatus
from tests.factories import FaxFactory

ROOT = Path(__file__).resolve().parent.parent
FAXES = 60

# Run in a fresh interpreter: tasks are recorded instead of reaching the broker; the release
# starts once the test says go, so that both processes run it at the same moment.
RELEASE = """
import json, os, time
from celery.app.base import Celery
sent = []
Celery.send_task = lambda self, name, args=None, kwargs=None, **options: sent.append([name, args])
from faxes.services.schedule import faxes_release_scheduled
open({ready!r}, "w").close()
while not os.path.exists({go!r}):
    time.sleep(0.001)
released = faxes_release_scheduled()
print("RESULT " + json.dumps({{"released": released, "sent": sent}}))
"""


def start_release(folder: Path, name: str, go: Path) -> tuple[subprocess.Popen, Path]:
    ready = folder / f"{name}.ready"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict),
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            RELEASE.format(ready=str(ready), go=str(go)),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, ready


def result_of(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    [line] = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


@pytest.mark.django_db(transaction=True)
def test_a_due_scheduled_fax_is_released_once_by_two_processes_at_once(
    account, tmp_path: Path
) -> None:
    due = timezone.now() - timedelta(seconds=1)
    faxes = [
        FaxFactory(account=account, status=FaxStatus.SCHEDULED, send_at=due, document=f"f{i}.pdf")
        for i in range(FAXES)
    ]
    go = tmp_path / "go"
    started = [start_release(tmp_path, name, go) for name in ("first", "second")]
    deadline = time.monotonic() + 90
    while not all(ready.exists() for _, ready in started):
        assert time.monotonic() < deadline, "the processes did not start"
        assert all(process.poll() is None for process, _ in started), "a process died"
        time.sleep(0.01)
    go.touch()

    first, second = (result_of(process) for process, _ in started)

    ids = {fax.id for fax in faxes}
    assert set(first["released"]) | set(second["released"]) == ids
    assert not set(first["released"]) & set(second["released"])
    submissions = Counter(
        args[0] for name, args in first["sent"] + second["sent"] if name.endswith("submit_task")
    )
    assert submissions == Counter(ids)
    assert set(Fax.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"queued"}
    queued = Counter(
        FaxEvent.objects.filter(fax_id__in=ids, type="status.queued").values_list(
            "fax_id", flat=True
        )
    )
    assert queued == Counter(ids)
