"""The dashboard's fax list and page: scheduled faxes with their send time, and Resend."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Account
from faxes import views
from faxes.models import Fax, FaxStatus
from faxes.services.intake import IdempotencyConflict
from tests.factories import FaxFactory, member

pytestmark = pytest.mark.django_db

SEND_AT = datetime(2031, 1, 2, 9, 30, tzinfo=UTC)


def token() -> str:
    return secrets.token_urlsafe(24)


def test_the_list_shows_a_scheduled_fax_with_its_send_time(
    owner_client: Client, account: Account
) -> None:
    FaxFactory(account=account, status=FaxStatus.SCHEDULED, send_at=SEND_AT)

    page = owner_client.get("/dashboard/faxes").content.decode()

    assert ">scheduled</span>" in page
    assert "2031-01-02 09:30 UTC" in page


def test_the_page_shows_when_a_scheduled_fax_leaves(owner_client: Client, account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SCHEDULED, send_at=SEND_AT)

    page = owner_client.get(f"/dashboard/faxes/{fax.pk}").content.decode()

    assert "· leaves at 2031-01-02 09:30:00 UTC" in page
    assert "Scheduled for 2031-01-02 09:30:00 UTC" in page
    assert 'id="cancel-fax-form"' in page


def test_the_owner_cancels_a_scheduled_fax(owner_client: Client, account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SCHEDULED, send_at=SEND_AT)

    response = owner_client.post(f"/dashboard/faxes/{fax.pk}/cancel", follow=True)

    fax.refresh_from_db()
    assert fax.status == FaxStatus.CANCELED
    assert "Canceled: the fax will not be sent." in response.content.decode()


def delivered(account: Account, **fields: object) -> Fax:
    return FaxFactory(
        account=account,
        status=FaxStatus.DELIVERED,
        completed_at=timezone.now() - timedelta(minutes=5),
        document="faxes/original.pdf",
        **fields,
    )


def test_the_owner_resends_a_fax_to_a_new_number(
    owner_client: Client, account: Account, pipeline
) -> None:
    fax = delivered(account)
    assert 'id="resend-fax-form"' in owner_client.get(f"/dashboard/faxes/{fax.pk}").content.decode()

    response = owner_client.post(
        f"/dashboard/faxes/{fax.pk}/resend", {"to": "+15550108888", "token": token()}, follow=True
    )

    new = Fax.objects.get(resent_from=fax)
    assert response.redirect_chain[-1][0] == f"/dashboard/faxes/{new.pk}"
    assert (new.to_number, new.status) == ("+15550108888", FaxStatus.QUEUED)
    page = response.content.decode()
    assert "Resent as a new fax" in page
    assert f'Resent from <a href="/dashboard/faxes/{fax.pk}">' in page


def test_resend_without_a_number_sends_to_the_same_one(
    owner_client: Client, account: Account, pipeline
) -> None:
    fax = delivered(account)

    owner_client.post(f"/dashboard/faxes/{fax.pk}/resend", {"to": "", "token": token()})

    assert Fax.objects.get(resent_from=fax).to_number == fax.to_number


def test_a_double_click_resends_once(owner_client: Client, account: Account, pipeline) -> None:
    fax = delivered(account)
    form = {"to": "", "token": token()}

    owner_client.post(f"/dashboard/faxes/{fax.pk}/resend", form)
    owner_client.post(f"/dashboard/faxes/{fax.pk}/resend", form)

    assert Fax.objects.filter(resent_from=fax).count() == 1


def test_a_second_resend_while_the_first_runs_is_told_to_wait(
    owner_client: Client, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    def first_still_running(*args: object, **kwargs: object) -> None:
        raise IdempotencyConflict(in_progress=True)

    monkeypatch.setattr(views, "idempotently", first_still_running)
    fax = delivered(account)

    response = owner_client.post(
        f"/dashboard/faxes/{fax.pk}/resend", {"to": "", "token": token()}, follow=True
    )

    assert "Your first click is still being handled" in response.content.decode()
    assert not Fax.objects.filter(resent_from=fax).exists()


def test_a_bad_number_is_refused_with_a_message(owner_client: Client, account: Account) -> None:
    fax = delivered(account)

    response = owner_client.post(
        f"/dashboard/faxes/{fax.pk}/resend", {"to": "call me", "token": token()}, follow=True
    )

    assert "Not resent:" in response.content.decode()
    assert not Fax.objects.filter(resent_from=fax).exists()


def test_a_tampered_token_still_resends_once_without_an_error(
    owner_client: Client, account: Account, pipeline
) -> None:
    fax = delivered(account)

    response = owner_client.post(
        f"/dashboard/faxes/{fax.pk}/resend", {"to": "", "token": "\x00" * 20}, follow=True
    )

    assert response.status_code == 200
    assert Fax.objects.filter(resent_from=fax).count() == 1


def test_a_purged_document_offers_no_resend_and_refuses_one(
    owner_client: Client, account: Account
) -> None:
    fax = delivered(account, document_purged_at=timezone.now())
    page = owner_client.get(f"/dashboard/faxes/{fax.pk}").content.decode()
    assert 'id="resend-fax-form"' not in page

    response = owner_client.post(
        f"/dashboard/faxes/{fax.pk}/resend", {"token": token()}, follow=True
    )

    assert "Not resent: This fax&#x27;s document was deleted" in response.content.decode()
    assert not Fax.objects.filter(resent_from=fax).exists()


def test_resend_needs_the_csrf_token(account: Account) -> None:
    fax = delivered(account)
    client = Client(enforce_csrf_checks=True)
    client.force_login(account.owner)

    response = client.post(f"/dashboard/faxes/{fax.pk}/resend", {"token": token()})

    assert response.status_code == 403
    assert not Fax.objects.filter(resent_from=fax).exists()


def test_a_viewer_sees_no_resend_and_may_not_resend(account: Account) -> None:
    fax = delivered(account)
    client = Client()
    client.force_login(member(account, "viewer"))
    assert 'id="resend-fax-form"' not in client.get(f"/dashboard/faxes/{fax.pk}").content.decode()

    response = client.post(f"/dashboard/faxes/{fax.pk}/resend", {"token": token()})

    assert response.status_code == 403
    assert not Fax.objects.filter(resent_from=fax).exists()


def test_another_accounts_fax_cannot_be_resent(owner_client: Client, other_account) -> None:
    fax = delivered(other_account)

    response = owner_client.post(f"/dashboard/faxes/{fax.pk}/resend", {"token": token()})

    assert response.status_code == 404
    assert not Fax.objects.filter(resent_from=fax).exists()


def test_a_received_fax_is_forwarded_to_the_number_given(
    owner_client: Client, account: Account, pipeline
) -> None:
    number = account.fax_numbers.first().number
    fax = FaxFactory(
        account=account,
        direction="inbound",
        status=FaxStatus.RECEIVED,
        to_number=number,
        from_number="+15550106666",
        document_source="carrier",
        document="faxes/received.pdf",
    )
    page = owner_client.get(f"/dashboard/faxes/{fax.pk}").content.decode()
    assert "Forward this fax to" in page

    owner_client.post(f"/dashboard/faxes/{fax.pk}/resend", {"to": "+15550107777", "token": token()})

    new = Fax.objects.get(resent_from=fax)
    assert (new.direction, new.to_number, new.from_number) == ("outbound", "+15550107777", number)
