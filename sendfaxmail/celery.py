"""The Celery application. Tasks are discovered in each app's `tasks.py`."""

from __future__ import annotations

import os

from celery import Celery

from sendfaxmail.lib.memory import return_large_blocks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sendfaxmail.settings")
# Fetched and submitted documents (up to 20 MB): their memory goes back to the system.
return_large_blocks()

app = Celery("sendfaxmail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
