"""/dashboard/inbox, a received fax's page with its pages as images, and /dashboard/numbers."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image

from accounts.models import Account, Role
from audit.models import Action, AuditEntry
from faxes.models import Fax
from faxes.services import inbound
from tests import documents
from tests.factories import FaxFactory, member

pytestmark = pytest.mark.django_db


def receive(account: Account, *, pages: int = 2, sender: str = "+15551230000") -> Fax:
    return inbound.inbound_fax_simulate(
        number=account.fax_numbers.get().number,
        from_=sender,
        document=documents.pdf_bytes(pages=pages),
        livemode=True,
    )


def test_it_lists_received_faxes_newest_first_and_no_sent_ones(
    owner_client, account, pipeline
) -> None:
    sent = FaxFactory(account=account)
    older, newer = receive(account), receive(account)
    Fax.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    html = owner_client.get("/dashboard/inbox").content.decode()

    assert html.index(newer.id) < html.index(older.id)
    assert sent.id not in html


def test_it_marks_a_fax_unread_until_it_is_opened(owner_client, account, pipeline) -> None:
    fax = receive(account)
    assert 'class="unread"' in owner_client.get("/dashboard/inbox").content.decode()

    owner_client.get(f"/dashboard/faxes/{fax.id}")

    assert 'class="unread"' not in owner_client.get("/dashboard/inbox").content.decode()
    fax.refresh_from_db()
    assert fax.read_at is not None


def test_the_fax_page_shows_each_page_as_an_image(owner_client, account, pipeline) -> None:
    fax = receive(account, pages=2)

    html = owner_client.get(f"/dashboard/faxes/{fax.id}").content.decode()

    assert f"/dashboard/faxes/{fax.id}/pages/1.png" in html
    assert f"/dashboard/faxes/{fax.id}/pages/2.png" in html
    assert "/pages/3.png" not in html


def test_it_renders_a_page_as_a_png_that_is_not_cached(owner_client, account, pipeline) -> None:
    fax = receive(account)

    response = owner_client.get(f"/dashboard/faxes/{fax.id}/pages/1.png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "no-store" in response["Cache-Control"]
    assert Image.open(io.BytesIO(response.content)).size == (918, 1188)


def test_viewing_a_page_is_in_the_audit_log(owner_client, account, pipeline) -> None:
    fax = receive(account)

    owner_client.get(f"/dashboard/faxes/{fax.id}/pages/1.png")

    entry = AuditEntry.objects.get(action=Action.DOCUMENT_VIEWED)
    assert (entry.account_id, entry.target_id, entry.actor_id) == (
        account.pk,
        fax.id,
        str(account.owner.pk),
    )
    assert entry.details["page"] == 1


def test_it_has_no_page_beyond_the_last(owner_client, account, pipeline) -> None:
    fax = receive(account, pages=1)

    assert owner_client.get(f"/dashboard/faxes/{fax.id}/pages/2.png").status_code == 404


def test_another_account_sees_neither_the_fax_nor_its_pages(
    owner_client, other_account, pipeline
) -> None:
    fax = receive(other_account)

    assert owner_client.get(f"/dashboard/faxes/{fax.id}").status_code == 404
    assert owner_client.get(f"/dashboard/faxes/{fax.id}/pages/1.png").status_code == 404
    assert fax.id not in owner_client.get("/dashboard/inbox").content.decode()


def test_the_pages_need_a_login(account, pipeline) -> None:
    fax = receive(account)

    response = Client().get(f"/dashboard/faxes/{fax.id}/pages/1.png")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_fax_page_shows_each_recipients_email_state(owner_client, account, pipeline) -> None:
    number = account.fax_numbers.get()
    number.email_recipients = ["front-desk@clinic.test"]
    number.save(update_fields=["email_recipients"])
    fax = receive(account)

    html = owner_client.get(f"/dashboard/faxes/{fax.id}").content.decode()

    assert "front-desk@clinic.test" in html
    assert "pending" in html


def test_the_owner_sets_a_numbers_email_recipients(owner_client, account) -> None:
    number = account.fax_numbers.get()

    response = owner_client.post(
        f"/dashboard/numbers/{number.pk}/email",
        {"recipients": "a@clinic.test\nb@clinic.test", "attach_pdf": "on"},
    )

    assert response.status_code == 302
    number.refresh_from_db()
    assert number.email_recipients == ["a@clinic.test", "b@clinic.test"]
    assert number.email_attach_pdf is True
    assert "a@clinic.test" in owner_client.get("/dashboard/numbers").content.decode()


def test_a_member_who_is_neither_owner_nor_admin_cannot_change_them(account) -> None:
    client = Client()
    client.force_login(member(account, Role.DEVELOPER))
    number = account.fax_numbers.get()

    response = client.post(f"/dashboard/numbers/{number.pk}/email", {"recipients": "x@y.test"})

    assert response.status_code == 403
    number.refresh_from_db()
    assert number.email_recipients == []


def test_the_owner_cannot_change_another_accounts_number(owner_client, other_account) -> None:
    number = other_account.fax_numbers.get()

    response = owner_client.post(f"/dashboard/numbers/{number.pk}/email", {"recipients": ""})

    assert response.status_code == 404
