from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts.models import Account
from fax_numbers.models import MAX_EMAIL_RECIPIENTS, FaxNumber
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


def fax_number_email_set(
    *, fax_number: FaxNumber, recipients: list[str], attach_pdf: bool
) -> FaxNumber:
    """Set who is emailed each fax received on `fax_number` (at most MAX_EMAIL_RECIPIENTS
    addresses; none turns fax-to-email off) and whether the email carries the PDF."""
    cleaned: list[str] = []
    for recipient in (r.strip() for r in recipients):
        if not recipient or recipient.lower() in (c.lower() for c in cleaned):
            continue
        try:
            validate_email(recipient)
        except ValidationError:
            raise NumberError(f"{recipient!r} is not an email address.") from None
        cleaned.append(recipient)
    if len(cleaned) > MAX_EMAIL_RECIPIENTS:
        raise NumberError(f"At most {MAX_EMAIL_RECIPIENTS} email recipients per number.")
    fax_number.email_recipients, fax_number.email_attach_pdf = cleaned, attach_pdf
    fax_number.save(update_fields=["email_recipients", "email_attach_pdf"])
    return fax_number
