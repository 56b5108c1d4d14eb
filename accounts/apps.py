from __future__ import annotations

from django.apps import AppConfig
from django.urls import register_converter

from sendfaxmail.lib.ids import IdConverter


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # The `<id:…>` URL converter every app's routes use; registered before any URLconf loads.
        register_converter(IdConverter, "id")
