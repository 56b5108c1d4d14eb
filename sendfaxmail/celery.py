"""The Celery application. Tasks are discovered in each app's `tasks.py`.

Database connections live across tasks as they do across web requests: Django's
`close_old_connections()` runs before and after each task (closing a connection past
CONN_MAX_AGE, broken, or left in a transaction) instead of Celery's default of closing every
connection twice per task. A new PostgreSQL connection per task cost more than most tasks' own
queries (bench/pipeline.py). CELERY_DB_REUSE_MAX in settings keeps Celery's own closing away.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sendfaxmail.settings")

app = Celery("sendfaxmail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: Any = None, **kwargs: Any) -> None:
    # An eager task runs inside its caller (a request, a test's transaction): leave it be.
    if task is None or getattr(task.request, "is_eager", False):
        return
    close_old_connections()
