"""The app that registers sendfaxmail/lib's system checks (it has no models)."""

from __future__ import annotations

from django.apps import AppConfig


class LibConfig(AppConfig):
    name = "sendfaxmail.lib"
    label = "sendfaxmail"
    verbose_name = "SendFaxMail"

    def ready(self) -> None:
        # Importing the module registers its checks.
        from sendfaxmail.lib import checks  # noqa: F401
