from __future__ import annotations

import re

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import DOCUMENT_RETENTION_MAX_DAYS
from accounts.services import AccountError, account_get_by_email, account_set_document_retention
from audit.services import Actor


class Command(BaseCommand):
    help = (
        "Keep the documents of the account of the user with EMAIL for DAYS days after each fax "
        f"finished (0 to {DOCUMENT_RETENTION_MAX_DAYS}; 0 deletes each as soon as its fax is "
        "delivered, failed or canceled). Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("days")

    def handle(self, *args: object, email: str, days: str, **options: object) -> None:
        if not re.fullmatch(r"[0-9]{1,5}", days):
            raise CommandError(
                f"DAYS must be a whole number from 0 to {DOCUMENT_RETENTION_MAX_DAYS}."
            )
        try:
            account = account_set_document_retention(
                account=account_get_by_email(email=email),
                days=int(days),
                actor=Actor.system("manage.py set_document_retention"),
            )
        except AccountError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{account.name} keeps documents {account.document_retention_days} day(s) after "
            "each fax finishes."
        )
