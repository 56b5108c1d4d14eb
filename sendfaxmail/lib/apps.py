"""The app that registers sendfaxmail/lib's system checks and signal receivers (no models)."""

from __future__ import annotations

from django.apps import AppConfig


class LibConfig(AppConfig):
    name = "sendfaxmail.lib"
    label = "sendfaxmail"
    verbose_name = "SendFaxMail"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        # Importing the module registers its checks.
        from sendfaxmail.lib import checks  # noqa: F401
        from sendfaxmail.lib.sessions import stamp_session_on_login

        user_logged_in.connect(stamp_session_on_login, dispatch_uid="sendfaxmail-idle-timeout")
