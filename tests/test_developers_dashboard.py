"""/dashboard/developers: create, show once, revoke, delete; plan gating; isolation; CSRF."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import Account
from developers.models import ApiKey
from tests.conftest import ApiClient, make_key

pytestmark = pytest.mark.django_db

URL = "/dashboard/developers"
SECRET = re.compile(r"sfm_live_[A-Za-z0-9]{46}")


def create(
    client: Client, name: str = "EHR", scopes: tuple[str, ...] = ("faxes:send", "faxes:read")
):
    return client.post(f"{URL}/keys", {"name": name, "scopes": list(scopes)})


def login(account: Account) -> Client:
    client = Client()
    client.force_login(account.owner)
    return client


def test_it_shows_the_create_form_on_business(owner_client: Client) -> None:
    page = owner_client.get(URL).content.decode()

    assert 'id="create-key-form"' in page
    for scope in ("faxes:send", "faxes:read", "numbers:read"):
        assert f'value="{scope}"' in page


def test_it_creates_a_key_and_shows_it_exactly_once(owner_client: Client, account: Account) -> None:
    response = create(owner_client)

    assert response.status_code == 201
    assert response["Cache-Control"].startswith("max-age=0")
    secret = SECRET.search(response.content.decode()).group(0)
    key = ApiKey.objects.get(account=account)
    assert key.scopes == ["faxes:send", "faxes:read"]
    assert key.created_by == account.owner
    assert "never be shown again" in response.content.decode()

    again = owner_client.get(URL).content.decode()
    assert secret not in again
    assert key.prefix in again


def test_the_created_key_works_with_its_scopes_only(owner_client: Client) -> None:
    secret = SECRET.search(create(owner_client, scopes=("numbers:read",)).content.decode()).group(0)

    assert ApiClient(secret).get("/v1/numbers").status_code == 200


def test_it_requires_at_least_one_scope(owner_client: Client, account: Account) -> None:
    response = create(owner_client, scopes=())

    assert response.status_code == 400
    assert "Choose at least one scope." in response.content.decode()
    assert not ApiKey.objects.filter(account=account).exists()


def test_it_refuses_unknown_scopes(owner_client: Client, account: Account) -> None:
    response = create(owner_client, scopes=("faxes:delete",))

    assert response.status_code == 400
    assert not ApiKey.objects.filter(account=account).exists()


def test_a_low_plan_sees_an_upgrade_notice_instead_of_the_form(starter_account: Account) -> None:
    page = login(starter_account).get(URL).content.decode()

    assert 'id="create-key-form"' not in page
    assert 'id="upgrade-notice"' in page


def test_a_low_plan_cannot_create_a_key_by_hand(starter_account: Account) -> None:
    response = create(login(starter_account))

    assert response.status_code == 403
    assert not ApiKey.objects.filter(account=starter_account).exists()
    assert not SECRET.search(response.content.decode())


def test_a_low_plan_can_still_revoke_and_delete(starter_account: Account) -> None:
    client = login(starter_account)
    first, _ = make_key(starter_account)
    second, _ = make_key(starter_account)

    client.post(f"{URL}/keys/{first.pk}/revoke")
    client.post(f"{URL}/keys/{second.pk}/delete")

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.revoked_at is not None
    assert second.deleted_at is not None


def test_revoke_marks_the_key_revoked_in_the_list(owner_client: Client, account: Account) -> None:
    key, secret = make_key(account)

    response = owner_client.post(f"{URL}/keys/{key.pk}/revoke")

    assert response.status_code == 302
    page = owner_client.get(URL).content.decode()
    assert "revoked" in page
    assert ApiClient(secret).get("/v1/numbers").status_code == 401


def test_delete_removes_the_key_from_the_list(owner_client: Client, account: Account) -> None:
    key, secret = make_key(account)

    owner_client.post(f"{URL}/keys/{key.pk}/delete")

    assert key.prefix not in owner_client.get(URL).content.decode()
    assert ApiClient(secret).get("/v1/numbers").status_code == 401


@pytest.mark.parametrize("action", ["revoke", "delete"])
def test_another_accounts_key_is_a_404(
    owner_client: Client, other_account: Account, action: str
) -> None:
    key, _ = make_key(other_account)

    response = owner_client.post(f"{URL}/keys/{key.pk}/{action}")

    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_another_accounts_keys_are_not_listed(owner_client: Client, other_account: Account) -> None:
    key, _ = make_key(other_account)

    assert key.prefix not in owner_client.get(URL).content.decode()


@pytest.mark.parametrize("path", ["/keys", "/keys/key_x/revoke", "/keys/key_x/delete"])
def test_every_form_needs_a_csrf_token(account: Account, path: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(account.owner)

    response = client.post(f"{URL}{path}", {"name": "x", "scopes": ["faxes:read"]})

    assert response.status_code == 403
    assert not ApiKey.objects.filter(account=account).exists()


@pytest.mark.parametrize("path", ["/keys/key_x/revoke", "/keys"])
def test_changes_need_post(owner_client: Client, path: str) -> None:
    assert owner_client.get(f"{URL}{path}").status_code == 405


def test_it_requires_login(client: Client) -> None:
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
