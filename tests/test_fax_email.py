"""Fax-to-email: a received fax emailed to its number's recipients, through a real SMTP server."""

from __future__ import annotations

import pytest

from accounts.models import Account
from faxes import tasks
from faxes.models import EmailState, Fax, FaxEmail
from faxes.services import fax_email, inbound
from tests import documents

pytestmark = pytest.mark.django_db

PDF = documents.pdf_bytes(pages=3)


def receive(
    account: Account, *, recipients: list[str], attach: bool = False, sender: str = "+15551230000"
) -> Fax:
    number = account.fax_numbers.get()
    number.email_recipients, number.email_attach_pdf = recipients, attach
    number.save(update_fields=["email_recipients", "email_attach_pdf"])
    return inbound.inbound_fax_simulate(
        number=number.number, from_=sender, document=PDF, livemode=True
    )


def send_all(fax: Fax) -> None:
    for email in fax.emails.all():
        fax_email.fax_email_send(email_id=email.pk)


def test_it_emails_each_recipient_a_link_without_the_pdf_by_default(
    account, smtp, pipeline
) -> None:
    fax = receive(account, recipients=["a@clinic.test", "b@clinic.test"])

    send_all(fax)

    assert sorted(m["To"] for m in smtp.messages) == ["a@clinic.test", "b@clinic.test"]
    message = smtp.messages[0]
    number = account.fax_numbers.get().number
    assert message["Subject"] == f"Fax from +15551230000 to {number} (3 pages)"
    assert not list(message.iter_attachments())
    text = message.get_body(("plain",)).get_content()
    assert f"/dashboard/faxes/{fax.id}" in text
    assert "<a href=" in message.get_body(("html",)).get_content()
    assert set(fax.emails.values_list("state", flat=True)) == {EmailState.SENT}


def test_it_attaches_the_pdf_when_the_number_says_so(account, smtp, pipeline) -> None:
    fax = receive(account, recipients=["a@clinic.test"], attach=True)

    send_all(fax)

    (attachment,) = smtp.messages[0].iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF


def test_it_sends_emails_after_the_fax_commits(
    account, smtp, pipeline, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        fax = receive(account, recipients=["a@clinic.test"])

    assert pipeline == [(fax_email.EMAIL_TASK, [fax.emails.get().pk], {})]


def test_it_names_an_anonymous_sender_in_the_subject(account, smtp, pipeline) -> None:
    fax = receive(account, recipients=["a@clinic.test"], sender="")

    send_all(fax)

    assert smtp.messages[0]["Subject"].startswith("Fax from an unknown sender to")


def test_it_retries_when_the_server_defers_and_then_sends(account, smtp, pipeline) -> None:
    fax = receive(account, recipients=["a@clinic.test"])
    smtp.refusals.append("451 Try again later")

    tasks.fax_email_send_task.apply(args=[fax.emails.get().pk])

    email = fax.emails.get()
    assert (email.state, email.attempts) == (EmailState.SENT, 2)
    assert len(smtp.messages) == 1


def test_it_marks_a_recipient_failed_when_the_server_refuses_for_good(
    account, smtp, pipeline
) -> None:
    fax = receive(account, recipients=["a@clinic.test"])
    smtp.refusals.append("554 Transaction failed")

    send_all(fax)

    email = FaxEmail.objects.get(fax=fax)
    assert (email.state, email.last_error) == (EmailState.FAILED, "refused (554)")


def test_it_sends_nothing_for_a_number_without_recipients(account, smtp, pipeline) -> None:
    fax = receive(account, recipients=[])

    assert not fax.emails.exists()
