from __future__ import annotations

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.urls import register_converter

from sendfaxmail.lib.ids import IdConverter


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts.current import on_login_choose_account

        # The `<id:…>` URL converter every app's routes use; registered before any URLconf loads.
        register_converter(IdConverter, "id")
        user_logged_in.connect(on_login_choose_account, dispatch_uid="accounts.choose_account")
