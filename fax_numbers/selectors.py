"""Reads of fax numbers, for this app's API and for the apps above it (faxes, the dashboard)."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Account
from fax_numbers.models import FaxNumber


def fax_numbers_of_account(*, account: Account) -> QuerySet[FaxNumber]:
    """The account's fax numbers, oldest first (the first is the default `from`)."""
    return FaxNumber.objects.filter(account=account).order_by("created_at", "id")


def fax_number_by_number(*, number: str) -> FaxNumber | None:
    """The fax number `number` (E.164, as stored), whoever holds it; None if nobody does."""
    if not number:
        return None
    return FaxNumber.objects.filter(number=number).first()
