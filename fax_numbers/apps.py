from __future__ import annotations

from django.apps import AppConfig


class NumbersConfig(AppConfig):
    # The package cannot be called `numbers`: that would shadow the standard library module
    # (and break `decimal`). The app label stays `numbers`.
    name = "fax_numbers"
    label = "numbers"
    verbose_name = "Fax numbers"
