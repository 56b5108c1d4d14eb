from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from faxes.documents import DocumentError
from faxes.services.inbound import inbound_fax_simulate, sample_received_pdf
from sendfaxmail.lib.phone import InvalidPhoneNumber, normalize_e164


class Command(BaseCommand):
    help = (
        "Receive a simulated fax on TO, one of an account's numbers: it is stored, webhooked "
        "(fax.received) and emailed like a fax from the carrier. For `make run` and demos."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("to", help="The account's number, E.164")
        parser.add_argument("--from", dest="from_", default="+15551230000", help="As given.")
        parser.add_argument("--file", type=Path, help="A PDF; default: a generated page.")
        parser.add_argument("--test", action="store_true", help="A test-mode (sandbox) fax.")

    def handle(
        self, *args: object, to: str, from_: str, file: Path | None, test: bool, **options: object
    ) -> None:
        try:
            number = normalize_e164(to)
            pdf = file.read_bytes() if file else sample_received_pdf()
            with transaction.atomic():
                fax = inbound_fax_simulate(
                    number=number, from_=from_, document=pdf, livemode=not test
                )
        except InvalidPhoneNumber as error:
            raise CommandError(str(error)) from None
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}") from None
        except DocumentError as error:
            raise CommandError(error.message) from None
        except LookupError:
            raise CommandError(f"No account holds {to}.") from None
        self.stdout.write(f"Received {fax.id} on {fax.to_number} ({fax.page_count} page(s)).")
