from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import AccountError, account_create, plan_get


class Command(BaseCommand):
    help = "Create a user and the account they own, on PLAN (no trial)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument(
            "--plan", required=True, choices=["starter", "professional", "business", "enterprise"]
        )
        parser.add_argument("--password", help="Without it the user sets one by password reset.")
        parser.add_argument("--name", default="")

    def handle(
        self,
        *args: object,
        email: str,
        plan: str,
        password: str | None,
        name: str,
        **options: object,
    ) -> None:
        try:
            account = account_create(
                email=email, password=password, plan=plan_get(slug=plan), name=name
            )
        except AccountError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Created account {account.name} ({account.plan.name}) for {account.owner.email}."
        )
