"""WSGI entry point: `gunicorn sendfaxmail.wsgi`."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from sendfaxmail.lib.memory import return_large_blocks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sendfaxmail.settings")
# 20 MB documents: their memory must go back to the system after each request.
return_large_blocks()

application = get_wsgi_application()
