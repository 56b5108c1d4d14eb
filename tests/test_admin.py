from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Account, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db: None) -> Client:
    staff = User.objects.create_superuser(email="support@example.com", password="x-pass-123")
    client = Client()
    client.force_login(staff)
    return client


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
