from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import AccountError, account_get_by_email
from fax_numbers.services import NumberError, fax_number_add


class Command(BaseCommand):
    help = "Add a fax number (E.164) to the account of the user with EMAIL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("number", help="E.164, e.g. +15551234567")
        parser.add_argument("--label", default="")

    def handle(self, *args: object, email: str, number: str, label: str, **options: object) -> None:
        try:
            account = account_get_by_email(email=email)
            fax_number = fax_number_add(account=account, number=number, label=label)
        except (AccountError, NumberError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Added {fax_number.number} to {account.name}.")
