from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Account, User
from tests.conftest import verified_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db: None) -> Client:
    """Support staff, logged in with two-factor login (the admin demands it)."""
    staff = User.objects.create_superuser(email="support@example.com", password="x-pass-123")
    return verified_client(staff)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/accounts/account/",
        "/admin/accounts/user/",
        "/admin/accounts/plan/",
        "/admin/numbers/faxnumber/",
    ],
)
def test_admin_pages_load_for_staff(staff_client: Client, account: Account, url: str) -> None:
    assert staff_client.get(url).status_code == 200


def test_support_finds_an_account_by_member_email(
    staff_client: Client, account: Account, other_account: Account
) -> None:
    page = staff_client.get("/admin/accounts/account/", {"q": account.owner.email}).content.decode()

    assert account.name in page
    assert other_account.name not in page


def test_support_finds_an_account_by_fax_number(
    staff_client: Client, account: Account, other_account: Account
) -> None:
    number = account.fax_numbers.get().number

    page = staff_client.get("/admin/accounts/account/", {"q": number}).content.decode()

    assert account.name in page
    assert other_account.name not in page


def test_account_change_page_loads(staff_client: Client, account: Account) -> None:
    assert staff_client.get(f"/admin/accounts/account/{account.pk}/change/").status_code == 200


def test_admin_refuses_customers(owner_client: Client) -> None:
    assert owner_client.get("/admin/accounts/account/").status_code == 302


def test_the_key_admin_lists_keys_without_any_secret(
    staff_client: Client, account: Account
) -> None:
    from tests.conftest import make_key

    key, secret = make_key(account)

    listing = staff_client.get("/admin/developers/apikey/").content.decode()
    detail = staff_client.get(f"/admin/developers/apikey/{key.pk}/change/").content.decode()

    assert key.prefix in listing
    for page in (listing, detail):
        assert secret not in page
        assert key.digest not in page


def test_the_key_admin_revokes(staff_client: Client, account: Account) -> None:
    from tests.conftest import make_key

    key, _ = make_key(account)

    staff_client.post(
        "/admin/developers/apikey/", {"action": "revoke", "_selected_action": [key.pk]}
    )

    key.refresh_from_db()
    assert key.revoked_at is not None


def test_support_finds_a_fax_by_carrier_id_and_reads_its_history(
    staff_client: Client, account: Account
) -> None:
    from faxes.models import FaxStatus
    from faxes.services.status import fax_fail
    from tests.factories import FaxFactory

    fax = FaxFactory(account=account, status=FaxStatus.SENDING, carrier_fax_id="telnyx-abc-123")
    other = FaxFactory(account=account)
    fax_fail(fax=fax, reason="busy", message="The receiving line was busy.")

    listing = staff_client.get("/admin/faxes/fax/", {"q": "telnyx-abc-123"}).content.decode()
    detail = staff_client.get(f"/admin/faxes/fax/{fax.pk}/change/").content.decode()

    assert fax.pk in listing
    assert other.pk not in listing
    assert "status.failed" in detail
    assert "The receiving line was busy." in detail


@pytest.mark.parametrize("field", ["to_number", "account__owner__email"])
def test_support_finds_a_fax_by_number_or_email(
    staff_client: Client, account: Account, other_account: Account, field: str
) -> None:
    from tests.factories import FaxFactory

    fax = FaxFactory(account=account, to_number="+15550009999")
    theirs = FaxFactory(account=other_account)
    query = "+15550009999" if field == "to_number" else account.owner.email

    listing = staff_client.get("/admin/faxes/fax/", {"q": query}).content.decode()

    assert fax.pk in listing
    assert theirs.pk not in listing


def test_the_fax_admin_never_shows_the_document(staff_client: Client, api_client) -> None:
    from tests import documents

    pdf = documents.pdf_bytes()
    fax_id = api_client.post_json(
        "/v1/faxes",
        {
            "to": "+15551234567",
            "document": {"content": documents.b64(pdf), "content_type": "application/pdf"},
        },
    ).json()["id"]

    page = staff_client.get(f"/admin/faxes/fax/{fax_id}/change/").content.decode()

    assert documents.b64(pdf)[:40] not in page
    assert "/documents/" not in page
    assert "application/pdf" in page


def test_the_webhook_admin_never_shows_signing_secrets(
    staff_client: Client, account: Account
) -> None:
    from developers.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(
        account=account,
        url="https://hooks.example.com/x",
        event_types=["fax.failed"],
        secret="whsec_c2VjcmV0LXNlY3JldA==",
    )

    pages = [
        staff_client.get("/admin/developers/webhookendpoint/"),
        staff_client.get(f"/admin/developers/webhookendpoint/{endpoint.pk}/change/"),
        staff_client.get("/admin/developers/webhookdelivery/"),
    ]

    assert [p.status_code for p in pages] == [200, 200, 200]
    assert "hooks.example.com" in pages[1].content.decode()
    assert all("whsec_" not in p.content.decode() for p in pages)
