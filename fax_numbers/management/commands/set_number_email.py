from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fax_numbers.selectors import fax_number_by_number
from fax_numbers.services import NumberError, fax_number_email_set
from sendfaxmail.lib.phone import InvalidPhoneNumber, normalize_e164


class Command(BaseCommand):
    help = (
        "Email each fax received on NUMBER to the given addresses (fax-to-email). Without "
        "--attach-pdf the email only says who sent how many pages and links to the dashboard."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("number", help="E.164, e.g. +15550100001")
        parser.add_argument(
            "--to", default="", help="Comma-separated addresses (up to 10); empty turns it off."
        )
        parser.add_argument("--attach-pdf", action="store_true", help="Attach the fax's PDF.")

    def handle(
        self, *args: object, number: str, to: str, attach_pdf: bool, **options: object
    ) -> None:
        try:
            fax_number = fax_number_by_number(number=normalize_e164(number))
        except InvalidPhoneNumber as error:
            raise CommandError(str(error)) from None
        if fax_number is None:
            raise CommandError(f"No account holds {number}.")
        try:
            fax_number_email_set(
                fax_number=fax_number, recipients=to.split(","), attach_pdf=attach_pdf
            )
        except NumberError as error:
            raise CommandError(str(error)) from None
        count = len(fax_number.email_recipients)
        attached = "with" if attach_pdf else "without"
        self.stdout.write(
            f"Faxes to {fax_number.number} go to {count} address(es), {attached} the PDF."
        )
