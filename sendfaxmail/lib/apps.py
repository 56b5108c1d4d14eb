"""The shared library as an app: it has no models. Its `ready` registers what every app's URLs
and views rely on before any URLconf loads."""

from __future__ import annotations

from django.apps import AppConfig
from django.urls import register_converter

from sendfaxmail.lib.ids import IdConverter


class LibConfig(AppConfig):
    name = "sendfaxmail.lib"
    label = "lib"
    verbose_name = "SendFaxMail library"

    def ready(self) -> None:
        # The `<id:…>` URL converter every app's routes use.
        register_converter(IdConverter, "id")
