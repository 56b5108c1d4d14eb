from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import Account
from fax_numbers.models import FaxNumber
from sendfaxmail.lib.phone import InvalidPhoneNumber, normalize_e164


class NumberError(Exception):
    """The number cannot be added; the message says why."""


def fax_number_add(
    *, account: Account, number: str, label: str = "", carrier_id: str = ""
) -> FaxNumber:
    """Add an E.164 fax number to `account`. A number belongs to one account only."""
    try:
        number = normalize_e164(number)
    except InvalidPhoneNumber as error:
        raise NumberError(str(error)) from None
    try:
        with transaction.atomic():
            return FaxNumber.objects.create(
                account=account, number=number, label=label, carrier_id=carrier_id
            )
    except IntegrityError:
        raise NumberError(f"The number {number} is already taken.") from None
