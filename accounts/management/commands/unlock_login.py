from __future__ import annotations

import ipaddress

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.services import AccountError, email_normalize, login_unlock


class Command(BaseCommand):
    help = (
        "Let EMAIL log in again at once: forget its failed log-ins from every address. "
        "With --ip, also forget every failed log-in from that address (an address is locked "
        "after LOGIN_IP_FAILURE_LIMIT failures across all emails)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", nargs="?")
        parser.add_argument("--ip", help="An IP address to unlock, e.g. 203.0.113.7.")

    def handle(self, *args: object, email: str | None, ip: str | None, **options: object) -> None:
        if email is None and ip is None:
            raise CommandError("Give an EMAIL, an --ip ADDRESS, or both.")
        try:
            if email is not None:
                email = email_normalize(email)
                if not User.objects.filter(email__iexact=email).exists():
                    raise AccountError(f"No user with the email {email}.")
            if ip is not None:
                ip = str(ipaddress.ip_address(ip.strip()))
        except AccountError as error:
            raise CommandError(str(error)) from None
        except ValueError:
            raise CommandError(f"'{ip}' is not an IP address.") from None
        cleared = login_unlock(email=email, ip_address=ip)
        who = " and ".join(filter(None, [email, ip and f"the address {ip}"]))
        if cleared:
            self.stdout.write(f"Unlocked {who}: cleared {cleared} record(s) of failed log-ins.")
        else:
            self.stdout.write(f"Nothing to unlock for {who}: no failed log-ins are recorded.")
