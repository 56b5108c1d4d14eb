from __future__ import annotations

from collections import Counter
from itertools import islice

from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sendfaxmail.lib.crypto import DocumentCryptoError, NotEncryptedError
from sendfaxmail.lib.storage import RewrapOutcome


class Command(BaseCommand):
    help = (
        "Re-wrap every stored document's data key under the first DOCUMENT_ENCRYPTION_KEYS key "
        "(headers only; the documents are not re-encrypted). Resumable: documents already under "
        "the first key are skipped, so run it again after an interruption. Once it reports no "
        "failures, the older keys can be removed from the list. With --encrypt-plaintext it also "
        "encrypts documents stored before encryption existed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=100, help="Documents per progress line."
        )
        parser.add_argument(
            "--encrypt-plaintext",
            action="store_true",
            help="Encrypt, in place, documents stored before encryption (without a header).",
        )

    def handle(
        self, *args: object, batch_size: int, encrypt_plaintext: bool, **options: object
    ) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        storage = storages["default"]
        primary = storage.keyring.primary.label
        self.stdout.write(f"Re-wrapping documents under key {primary}.")
        totals: Counter[str] = Counter()
        names = storage.iter_names()
        batch_number = 0
        while batch := list(islice(names, batch_size)):
            batch_number += 1
            counts: Counter[str] = Counter()
            for name in batch:
                counts[self._rewrap(storage, name, encrypt_plaintext)] += 1
            totals.update(counts)
            self.stdout.write(f"Batch {batch_number}: {self._summary(counts)}")
        self.stdout.write(f"Done: {sum(totals.values())} documents, {self._summary(totals)}.")
        if totals["failed"]:
            raise CommandError(
                f"{totals['failed']} documents could not be re-wrapped (listed above); "
                "keep every key until they are dealt with."
            )

    def _rewrap(self, storage: object, name: str, encrypt_plaintext: bool) -> str:
        """Bring one document under the first key; the name of its count."""
        try:
            try:
                return storage.rewrap(name).value
            except NotEncryptedError:
                if not encrypt_plaintext:
                    raise
                return storage.encrypt_plaintext(name).value
        except FileNotFoundError:
            return RewrapOutcome.GONE.value
        except DocumentCryptoError as error:
            hint = ""
            if isinstance(error, NotEncryptedError):
                hint = " (stored before encryption? see --encrypt-plaintext)"
            self.stderr.write(f"{name}: {error}{hint}")
            return "failed"

    @staticmethod
    def _summary(counts: Counter[str]) -> str:
        order = ["rewrapped", "current", "gone", "failed", "encrypted"]
        labels = {
            "rewrapped": "re-wrapped",
            "encrypted": "encrypted (were plaintext)",
            "current": "already under the key",
            "gone": "deleted meanwhile",
            "failed": "failed",
        }
        return ", ".join(f"{counts[key]} {labels[key]}" for key in order)
