from __future__ import annotations

from django.core.files.storage import storages
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the S3 bucket for documents (AWS_STORAGE_BUCKET_NAME) if it does not exist. "
        "Safe to run any number of times; `migrate` runs it too."
    )

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(storages["default"].ensure_bucket())
