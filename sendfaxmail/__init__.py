"""SendFaxMail: send faxes from your own software."""

from __future__ import annotations

from sendfaxmail.celery import app as celery_app

__all__ = ["celery_app"]
