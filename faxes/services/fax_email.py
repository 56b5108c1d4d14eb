"""Fax-to-email: each fax received on a number is emailed to that number's recipients.

One `FaxEmail` row per recipient records how the delivery went; the dashboard shows it. Mail goes
out through Django's mail backend (EMAIL_URL), one task per recipient (faxes/tasks.py) sent after
the fax's transaction commits. SMTP failures that may pass (a server down, a 4xx answer) retry
with backoff; a 5xx answer, or retries spent, marks the recipient `failed`. The PDF is attached
only when the number's owner chose so: by default the email says who sent how many pages and
links to the fax in the dashboard.
"""

from __future__ import annotations

import logging
import smtplib

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from fax_numbers.models import MAX_EMAIL_RECIPIENTS
from fax_numbers.selectors import fax_number_by_number
from faxes.models import EmailState, Fax, FaxEmail

logger = logging.getLogger(__name__)

EMAIL_TASK = "faxes.tasks.fax_email_send_task"


class EmailRetryLater(Exception):
    """The mail server could not take the email now; it may later."""


def fax_emails_queue(*, fax: Fax) -> list[FaxEmail]:
    """Create the received fax's emails, one per recipient of its number, and send each once the
    transaction commits. Running it twice creates nothing more."""
    number = fax_number_by_number(number=fax.to_number)
    if number is None or number.account_id != fax.account_id:
        return []
    emails = []
    for recipient in number.email_recipients[:MAX_EMAIL_RECIPIENTS]:
        email, created = FaxEmail.objects.get_or_create(
            fax=fax, recipient=recipient, defaults={"attach_pdf": number.email_attach_pdf}
        )
        if created:
            transaction.on_commit(
                lambda email_id=email.pk: current_app.send_task(EMAIL_TASK, args=[email_id])
            )
        emails.append(email)
    return emails


def fax_email_send(*, email_id: int) -> bool:
    """Send one pending email. True when it went; EmailRetryLater for a failure that may pass.
    A 5xx answer (the server refuses it for good) marks it failed at once."""
    email = FaxEmail.objects.select_related("fax").filter(pk=email_id).first()
    if email is None or email.state != EmailState.PENDING:
        return False
    message = _message(email)
    FaxEmail.objects.filter(pk=email.pk).update(attempts=F("attempts") + 1)
    try:
        message.send()
    except smtplib.SMTPResponseException as error:
        if error.smtp_code >= 500:
            fax_email_give_up(email_id=email.pk, error=f"refused ({error.smtp_code})")
            return False
        _note_error(email, f"deferred ({error.smtp_code})")
        raise EmailRetryLater(f"SMTP {error.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused:
        fax_email_give_up(email_id=email.pk, error="recipient refused")
        return False
    except (smtplib.SMTPException, OSError) as error:
        _note_error(email, type(error).__name__)
        raise EmailRetryLater(type(error).__name__) from None
    FaxEmail.objects.filter(pk=email.pk, state=EmailState.PENDING).update(
        state=EmailState.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def fax_email_give_up(*, email_id: int, error: str) -> None:
    """The email cannot be sent: mark it failed, with why, for the fax page."""
    FaxEmail.objects.filter(pk=email_id, state=EmailState.PENDING).update(
        state=EmailState.FAILED, last_error=error[:200]
    )


def _note_error(email: FaxEmail, error: str) -> None:
    FaxEmail.objects.filter(pk=email.pk).update(last_error=error[:200])


def _printable(text: str) -> str:
    """Header-safe text: a sender's number is whatever a fax machine sent."""
    return "".join(ch for ch in text if ch.isprintable())


def fax_email_subject(fax: Fax) -> str:
    sender = _printable(fax.from_number) or "an unknown sender"
    pages = fax.page_count or 0
    return f"Fax from {sender} to {fax.to_number} ({pages} page{'' if pages == 1 else 's'})"


def _message(email: FaxEmail) -> EmailMultiAlternatives:
    fax = email.fax
    context = {
        "fax": fax,
        "sender": _printable(fax.from_number) or "an unknown sender",
        "attached": email.attach_pdf,
        "link": f"{settings.PUBLIC_BASE_URL}/dashboard/faxes/{fax.id}",
    }
    message = EmailMultiAlternatives(
        subject=fax_email_subject(fax),
        body=render_to_string("faxes/email/received.txt", context),
        to=[email.recipient],
    )
    message.attach_alternative(render_to_string("faxes/email/received.html", context), "text/html")
    if email.attach_pdf:
        with fax.document.open("rb") as document:
            message.attach(f"{fax.id}.pdf", document.read(), "application/pdf")
    return message
