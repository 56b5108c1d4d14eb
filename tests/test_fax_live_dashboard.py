"""/dashboard/faxes/{id}/live: the live parts of a fax's page (status, pages, calls, history),
which the page fetches every two seconds until the fax is finished."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Account, Role
from faxes.models import FaxEvent, FaxStatus
from tests.factories import FaxFactory, member

pytestmark = pytest.mark.django_db


def live(client: Client, fax_id: str) -> str:
    response = client.get(f"/dashboard/faxes/{fax_id}/live")
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_current_status(owner_client: Client, account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SENDING)

    fragment = live(owner_client, fax.pk)

    assert re.search(r'id="fax-status"[^>]*data-terminal="false"', fragment)
    assert '<span class="badge warn">sending</span>' in fragment


def test_it_says_when_the_fax_is_finished(owner_client: Client, account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.DELIVERED, pages_delivered=1)

    fragment = live(owner_client, fax.pk)

    assert re.search(r'id="fax-status"[^>]*data-terminal="true"', fragment)
    assert re.search(r'id="fax-pages-delivered">1<', fragment)


@pytest.mark.parametrize(
    ("status", "next_call", "waiting"),
    [
        (FaxStatus.SCHEDULED, False, "true"),
        (FaxStatus.QUEUED, True, "true"),
        (FaxStatus.QUEUED, False, "false"),
        (FaxStatus.SENDING, False, "false"),
    ],
)
def test_it_tells_the_page_when_the_fax_waits_for_a_time_to_come(
    owner_client: Client, account: Account, status: str, next_call: bool, waiting: str
) -> None:
    """The page then asks every 30 s instead of every 2 s: the wait may last days."""
    later = timezone.now() + timedelta(hours=3)
    fax = FaxFactory(
        account=account,
        status=status,
        send_at=later if status == FaxStatus.SCHEDULED else None,
        next_attempt_at=later if next_call else None,
    )

    assert re.search(rf'id="fax-status"[^>]*data-waiting="{waiting}"', live(owner_client, fax.pk))


def test_it_shows_a_submitting_fax_as_queued(owner_client: Client, account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SUBMITTING)

    assert ">queued</span>" in live(owner_client, fax.pk)


def test_it_shows_each_call(owner_client: Client, account: Account) -> None:
    busy = {
        "number": 1,
        "started_at": "2026-11-30T14:00:00Z",
        "completed_at": "2026-11-30T14:00:40Z",
        "status": "failed",
        "failure_reason": "busy",
        "pages_delivered": 0,
        "carrier_fax_id": "carrier-secret-id",
    }
    fax = FaxFactory(account=account, retry_attempts=2, attempts=[busy])

    fragment = live(owner_client, fax.pk)

    assert "up to 2 more calls, 300 s apart" in fragment
    assert "<td>1</td><td>2026-11-30 14:00:40</td><td>failed (busy)</td><td>0</td>" in fragment
    assert "carrier-secret-id" not in fragment


def test_it_shows_the_failure(owner_client: Client, account: Account) -> None:
    fax = FaxFactory(
        account=account,
        status=FaxStatus.FAILED,
        failure_reason="no_answer",
        failure_message="Nobody answered.",
    )

    assert "<strong>no_answer</strong>: Nobody answered." in live(owner_client, fax.pk)


def test_it_lists_the_history(owner_client: Client, account: Account) -> None:
    fax = FaxFactory(account=account)
    FaxEvent.objects.create(
        fax=fax, source="simulator", type="fax.sending.started", occurred_at=timezone.now()
    )

    assert "fax.sending.started" in live(owner_client, fax.pk)


def test_the_cancel_button_goes_once_the_fax_is_finished(
    owner_client: Client, account: Account
) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SENDING)
    assert 'id="cancel-fax-form"' in live(owner_client, fax.pk)

    fax.status = FaxStatus.DELIVERED
    fax.save(update_fields=["status"])

    fragment = live(owner_client, fax.pk)
    assert 'id="fax-cancel"' in fragment
    assert 'id="cancel-fax-form"' not in fragment


def test_a_viewer_is_offered_no_cancel_button(account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SENDING)
    client = Client()
    client.force_login(member(account, Role.VIEWER))

    assert 'id="cancel-fax-form"' not in live(client, fax.pk)


def test_every_role_follows_the_fax(account: Account) -> None:
    fax = FaxFactory(account=account)
    client = Client()
    client.force_login(member(account, Role.VIEWER))

    assert client.get(f"/dashboard/faxes/{fax.pk}/live").status_code == 200


def test_another_accounts_fax_is_a_404(owner_client: Client, other_account: Account) -> None:
    theirs = FaxFactory(account=other_account)

    assert owner_client.get(f"/dashboard/faxes/{theirs.pk}/live").status_code == 404


def test_a_missing_fax_is_a_404(owner_client: Client) -> None:
    assert owner_client.get("/dashboard/faxes/fax_doesNotExist00000000/live").status_code == 404


def test_it_needs_a_login(client: Client, account: Account) -> None:
    fax = FaxFactory(account=account)

    response = client.get(f"/dashboard/faxes/{fax.pk}/live")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_it_answers_only_a_get(owner_client: Client, account: Account) -> None:
    fax = FaxFactory(account=account)

    assert owner_client.post(f"/dashboard/faxes/{fax.pk}/live").status_code == 405


def test_it_is_never_cached(owner_client: Client, account: Account) -> None:
    fax = FaxFactory(account=account)

    response = owner_client.get(f"/dashboard/faxes/{fax.pk}/live")

    assert "no-cache" in response["Cache-Control"]


def test_the_fax_page_follows_an_unfinished_fax(owner_client: Client, account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.QUEUED)

    page = owner_client.get(f"/dashboard/faxes/{fax.pk}").content.decode()

    assert f'data-live-url="/dashboard/faxes/{fax.pk}/live" data-terminal="false"' in page


def test_the_fax_page_of_a_finished_fax_stops_following(
    owner_client: Client, account: Account
) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.CANCELED)

    page = owner_client.get(f"/dashboard/faxes/{fax.pk}").content.decode()

    assert 'data-terminal="true"' in page
