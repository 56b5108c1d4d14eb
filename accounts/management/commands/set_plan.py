from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import AccountError, account_get_by_email, account_set_plan, plan_get
from audit.services import Actor


class Command(BaseCommand):
    help = "Move the account of the user with EMAIL to PLAN, at once (ends any trial)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("plan")

    def handle(self, *args: object, email: str, plan: str, **options: object) -> None:
        try:
            account = account_set_plan(
                account=account_get_by_email(email=email),
                plan=plan_get(slug=plan.lower()),
                actor=Actor.system("manage.py set_plan"),
            )
        except AccountError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{account.name} is now on {account.plan.name}.")
