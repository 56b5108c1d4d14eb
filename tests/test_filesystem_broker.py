"""`make run` queues tasks without a broker server: kombu's filesystem transport, whose files all
stay under var/celery (its exchange table defaulted to `control/` in the working directory,
which left an untracked folder in the checkout)."""

from __future__ import annotations

from pathlib import Path

from tests.processes import ROOT, run_script

SCRIPT = """
import json

import django

django.setup()
from celery import current_app
from django.conf import settings

current_app.send_task("developers.tasks.request_log_flush_task")
options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
print(json.dumps([settings.CELERY_BROKER_URL, options["control_folder"]]))
"""


def test_the_filesystem_broker_keeps_its_files_under_var(tmp_path: Path) -> None:
    broker, control = run_script(
        SCRIPT, cwd=tmp_path, env={"REDIS_URL": "", "CELERY_BROKER_URL": None}
    )

    assert broker == "filesystem://"
    assert Path(control).is_relative_to(ROOT / "var" / "celery")
    assert list(Path(control).glob("*.exchange"))
    assert not (tmp_path / "control").exists()
