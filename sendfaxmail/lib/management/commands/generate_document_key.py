from __future__ import annotations

from django.core.management.base import BaseCommand

from sendfaxmail.lib.crypto import generate_key


class Command(BaseCommand):
    help = (
        "Print a new document key-encryption key (32 random bytes, URL-safe base64) for "
        "DOCUMENT_ENCRYPTION_KEYS. Put it first to encrypt with it; keep the old ones after it."
    )

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(generate_key())
