"""/dashboard/faxes: the account's faxes and their history, on every plan."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Account
from audit.models import Action, AuditEntry
from faxes.models import FaxEvent, FaxStatus
from faxes.services import status as fax_status
from tests.factories import FaxFactory

pytestmark = pytest.mark.django_db


def test_it_lists_the_accounts_faxes_newest_first(
    owner_client: Client, account: Account, other_account: Account
) -> None:
    older = FaxFactory(account=account, to_number="+15550001111")
    newer = FaxFactory(account=account, to_number="+15550002222", status=FaxStatus.DELIVERED)
    theirs = FaxFactory(account=other_account)

    page = owner_client.get("/dashboard/faxes").content.decode()

    assert page.index(newer.pk) < page.index(older.pk)
    assert theirs.pk not in page
    assert "delivered" in page


def test_it_works_on_a_low_plan(starter_account: Account) -> None:
    fax = FaxFactory(account=starter_account)
    client = Client()
    client.force_login(starter_account.owner)

    assert fax.pk in client.get("/dashboard/faxes").content.decode()
    assert client.get(f"/dashboard/faxes/{fax.pk}").status_code == 200


def test_the_detail_shows_the_history(owner_client: Client, account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SENDING)
    fax_status.fax_fail(fax=fax, reason="busy", message="The receiving line was busy.")

    page = owner_client.get(f"/dashboard/faxes/{fax.pk}").content.decode()

    assert "status.failed" in page
    assert "The receiving line was busy." in page


def test_the_history_starts_with_the_creation_once(owner_client: Client, account: Account) -> None:
    """A send stores no event for its creation: the first line is read from the fax. A fax sent
    before that has a stored `fax.created` event, which is not shown twice."""
    new = FaxFactory(account=account, status=FaxStatus.SENDING)
    fax_status.fax_fail(fax=new, reason="busy", message="The receiving line was busy.")
    older = FaxFactory(account=account, status=FaxStatus.QUEUED)
    FaxEvent.objects.create(
        fax=older, source="api", type="fax.created", occurred_at=older.created_at
    )

    for fax, after in ((new, "status.failed"), (older, None)):
        page = owner_client.get(f"/dashboard/faxes/{fax.pk}").content.decode()
        events = page[page.index('id="fax-events"') :]
        assert events.count("fax.created") == 1
        assert after is None or events.index("fax.created") < events.index(after)


def test_another_accounts_fax_is_a_404(owner_client: Client, other_account: Account) -> None:
    assert (
        owner_client.get(f"/dashboard/faxes/{FaxFactory(account=other_account).pk}").status_code
        == 404
    )


def test_it_requires_login(client: Client) -> None:
    assert client.get("/dashboard/faxes").status_code == 302


def test_the_list_does_not_query_per_fax(
    owner_client: Client, account: Account, django_assert_max_num_queries
) -> None:
    FaxFactory.create_batch(30, account=account)

    with django_assert_max_num_queries(6):
        owner_client.get("/dashboard/faxes")


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/faxes/fax_%00",
        "/dashboard/developers/webhooks/we_%00",
        "/dashboard/developers/keys/key_%00/revoke",
    ],
)
def test_an_id_with_a_nul_byte_is_a_404_not_a_500(owner_client: Client, path: str) -> None:
    method = owner_client.post if path.endswith("revoke") else owner_client.get

    assert method(path).status_code == 404


def test_the_owner_cancels_a_queued_fax_with_the_button(
    owner_client: Client, account: Account
) -> None:
    fax = FaxFactory(account=account)
    page = owner_client.get(f"/dashboard/faxes/{fax.pk}").content.decode()
    assert 'id="cancel-fax-form"' in page

    response = owner_client.post(f"/dashboard/faxes/{fax.pk}/cancel", follow=True)

    fax.refresh_from_db()
    assert fax.status == FaxStatus.CANCELED
    assert "Canceled: the fax will not be sent." in response.content.decode()
    [entry] = AuditEntry.objects.filter(action=Action.FAX_CANCELED, target_id=fax.pk)
    assert (entry.actor_type, entry.actor_id) == ("member", str(account.owner.pk))
    assert 'id="cancel-fax-form"' not in response.content.decode()


def test_the_cancel_button_needs_the_csrf_token(account: Account) -> None:
    fax = FaxFactory(account=account)
    client = Client(enforce_csrf_checks=True)
    client.force_login(account.owner)

    response = client.post(f"/dashboard/faxes/{fax.pk}/cancel")

    assert response.status_code == 403
    fax.refresh_from_db()
    assert fax.status == FaxStatus.QUEUED


def test_a_viewer_may_not_cancel(account: Account) -> None:
    from tests.factories import member

    fax = FaxFactory(account=account)
    client = Client()
    client.force_login(member(account, "viewer"))

    response = client.post(f"/dashboard/faxes/{fax.pk}/cancel")

    assert response.status_code == 403
    fax.refresh_from_db()
    assert fax.status == FaxStatus.QUEUED


def test_another_accounts_fax_cannot_be_canceled(owner_client: Client, other_account) -> None:
    fax = FaxFactory(account=other_account)

    response = owner_client.post(f"/dashboard/faxes/{fax.pk}/cancel")

    assert response.status_code == 404
    fax.refresh_from_db()
    assert fax.status == FaxStatus.QUEUED


def test_a_finished_fax_has_no_cancel_button(owner_client: Client, account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.DELIVERED)

    page = owner_client.get(f"/dashboard/faxes/{fax.pk}").content.decode()

    assert 'id="cancel-fax-form"' not in page
