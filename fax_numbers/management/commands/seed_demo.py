from __future__ import annotations

from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.services import account_create, plan_get
from fax_numbers.services import fax_number_add

DEMO_EMAIL = "demo@example.com"
# A local development login only: `make run` prints it, and production never runs this command.
DEMO_PASSWORD = "demo-fax-2026"  # noqa: S105
# Area code 555 is not in service and exchange 010 cannot exist: this number rings no one.
DEMO_NUMBER = "+15550100001"


class Command(BaseCommand):
    help = "Create the demo account (Business plan, one fax number) if it does not exist."

    def handle(self, *args: object, **options: object) -> None:
        if not User.objects.filter(email=DEMO_EMAIL).exists():
            account = account_create(
                email=DEMO_EMAIL,
                password=DEMO_PASSWORD,
                plan=plan_get(slug="business"),
                name="Demo Clinic",
            )
            fax_number_add(account=account, number=DEMO_NUMBER, label="Demo line")
        self.stdout.write(
            "\n  Dashboard: http://127.0.0.1:8000/dashboard/\n"
            f"  Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}\n"
        )
