from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import AccountError, account_get_by_email
from audit.services import Actor
from developers.services.api_keys import ApiKeyError, api_key_create


class Command(BaseCommand):
    help = "Create an API key for the account of the user with EMAIL; the key is the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument(
            "--scopes", required=True, help="Comma-separated: faxes:send,faxes:read,numbers:read"
        )
        parser.add_argument("--name", default="Created by an operator")
        parser.add_argument(
            "--test", action="store_true", help="A test key (sfm_test_…): its faxes are simulated."
        )

    def handle(
        self, *args: object, email: str, scopes: str, name: str, test: bool, **options: object
    ) -> None:
        try:
            account = account_get_by_email(email=email)
            api_key, secret = api_key_create(
                account=account,
                name=name,
                scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                created_by=None,
                livemode=not test,
                actor=Actor.system("manage.py create_api_key"),
            )
        except (AccountError, ApiKeyError) as error:
            raise CommandError(str(error)) from None
        if not account.has_api_access:
            self.stderr.write(
                f"Note: {account.plan_label} has no API access; the key answers 403 until upgraded."
            )
        self.stdout.write(
            f"Created {api_key.masked} ({', '.join(api_key.scopes)}) for {account.name}."
        )
        self.stdout.write(secret)
