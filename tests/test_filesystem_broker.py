"""`make run` queues tasks without a broker server: kombu's filesystem transport, whose files all
stay under var/celery (its exchange table defaulted to `control/` in the working directory,
which left an untracked folder in the checkout)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import django

django.setup()
from celery import current_app
from django.conf import settings

current_app.send_task("developers.tasks.request_log_flush_task")
print(settings.CELERY_BROKER_URL, settings.CELERY_BROKER_TRANSPORT_OPTIONS["control_folder"])
"""


def test_the_filesystem_broker_keeps_its_files_under_var(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "REDIS_URL": "",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CELERY_BROKER_URL", None)

    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    broker, control = result.stdout.strip().splitlines()[-1].split()
    assert broker == "filesystem://"
    assert Path(control).is_relative_to(ROOT / "var" / "celery")
    assert list(Path(control).glob("*.exchange"))
    assert not (tmp_path / "control").exists()
