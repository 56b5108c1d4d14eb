from __future__ import annotations

from django.apps import AppConfig


class DevelopersConfig(AppConfig):
    name = "developers"

    def ready(self) -> None:
        # Registers the OpenAPI description of bearer-key authentication.
        from developers import openapi  # noqa: F401
