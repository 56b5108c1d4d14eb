from __future__ import annotations

from django.db import models

from sendfaxmail.lib.ids import number_id

MAX_EMAIL_RECIPIENTS = 10


class FaxNumber(models.Model):
    """A fax number (E.164) that belongs to one account: its faxes are sent from it, and faxes
    to it are received into the account."""

    id = models.CharField(primary_key=True, max_length=32, default=number_id, editable=False)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="fax_numbers"
    )
    number = models.CharField(max_length=16, unique=True)
    label = models.CharField(max_length=100, blank=True)
    carrier_id = models.CharField(
        max_length=100, blank=True, help_text="The number's id at the carrier (Telnyx)."
    )
    # Fax-to-email: who gets an email for each fax received on this number (at most
    # MAX_EMAIL_RECIPIENTS), and whether it carries the PDF (off by default: PHI by email is a
    # risk the customer takes knowingly).
    email_recipients = models.JSONField(default=list, blank=True)
    email_attach_pdf = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return self.number
