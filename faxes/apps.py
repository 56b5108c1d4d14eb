from __future__ import annotations

from django.apps import AppConfig


class FaxesConfig(AppConfig):
    name = "faxes"
