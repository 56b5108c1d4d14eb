from __future__ import annotations

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts.current import on_login_choose_account

        # A new session starts in the user's oldest account (accounts.current).
        user_logged_in.connect(on_login_choose_account, dispatch_uid="accounts.choose_account")
