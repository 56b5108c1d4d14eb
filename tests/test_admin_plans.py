"""Staff change an account's plan and trial in the admin through the account services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Account, User
from accounts.services import account_sign_up
from tests.conftest import ApiClient, make_key, verified_client
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db: None) -> Client:
    """Support staff, signed in with two-factor login (the admin demands it)."""
    staff = User.objects.create_superuser(email="support@example.com", password="x-pass-123")
    return verified_client(staff)


@pytest.fixture
def trial_ran_out() -> Account:
    """A sign-up whose 7-day trial of Business ended without a plan being chosen."""
    account = account_sign_up(email="trial@example.com", password=PASSWORD)
    Account.objects.filter(pk=account.pk).update(trial_ends_at=timezone.now() - timedelta(days=1))
    return Account.objects.get(pk=account.pk)


def save_in_admin(client: Client, account: Account, **fields: str):
    """POST the account's change form as the admin page would, plus `fields`."""
    memberships = list(account.memberships.all())
    data = {
        "name": account.name,
        "owner": str(account.owner_id),
        "new_plan": "",
        "new_trial_ends_at_0": "",
        "new_trial_ends_at_1": "",
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "invitations-TOTAL_FORMS": "0",
        "invitations-INITIAL_FORMS": "0",
        "_save": "Save",
        **fields,
    }
    for index, membership in enumerate(memberships):
        data[f"memberships-{index}-id"] = str(membership.pk)
        data[f"memberships-{index}-account"] = str(account.pk)
    return client.post(f"/admin/accounts/account/{account.pk}/change/", data)


def numbers_status(api: ApiClient) -> int:
    return api.get("/v1/numbers").status_code


def test_an_account_moved_to_business_after_its_trial_ran_out_can_use_the_api(
    staff_client: Client, trial_ran_out: Account
) -> None:
    api = ApiClient(make_key(trial_ran_out)[1])
    assert numbers_status(api) == 403

    response = save_in_admin(staff_client, trial_ran_out, new_plan="business")

    assert response.status_code == 302
    assert numbers_status(api) == 200
    assert Account.objects.get(pk=trial_ran_out.pk).trial_ends_at is None


def test_extending_a_trial_that_ran_out_gives_the_api_back(
    staff_client: Client, trial_ran_out: Account
) -> None:
    api = ApiClient(make_key(trial_ran_out)[1])
    later = timezone.now() + timedelta(days=7)

    response = save_in_admin(
        staff_client,
        trial_ran_out,
        new_trial_ends_at_0=later.strftime("%Y-%m-%d"),
        new_trial_ends_at_1=later.strftime("%H:%M:%S"),
    )

    assert response.status_code == 302
    assert numbers_status(api) == 200


def test_a_paid_account_has_no_trial_to_set(staff_client: Client, account: Account) -> None:
    response = save_in_admin(
        staff_client, account, new_trial_ends_at_0="2099-01-01", new_trial_ends_at_1="00:00:00"
    )

    assert response.status_code == 200
    assert "no trial to change" in response.content.decode()
    assert Account.objects.get(pk=account.pk).trial_ends_at is None


def test_the_plan_and_trial_fields_cannot_be_edited_directly(
    staff_client: Client, trial_ran_out: Account
) -> None:
    ended = trial_ran_out.trial_ends_at

    response = save_in_admin(
        staff_client, trial_ran_out, plan="enterprise", trial_ends_at="2099-01-01 00:00:00"
    )

    assert response.status_code == 302
    saved = Account.objects.get(pk=trial_ran_out.pk)
    assert (saved.plan_id, saved.trial_ends_at) == ("business", ended)
