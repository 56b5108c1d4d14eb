from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import Account, Plan
from accounts.services import account_set_plan, account_sign_up
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_plans_and_their_prices() -> None:
    plans = {p.slug: (p.monthly_price, p.api_access) for p in Plan.objects.all()}

    assert plans == {
        "starter": ("$19.99", False),
        "professional": ("$39.99", False),
        "business": ("$79.99", True),
        "enterprise": ("$169.99", True),
    }


def test_it_gives_api_access_during_the_trial_and_takes_it_away_after() -> None:
    account = account_sign_up(email="trial@example.com", password=PASSWORD)
    assert account.has_api_access

    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        account.refresh_from_db()
        assert not account.has_api_access
        assert account.plan_label == "Trial ended"


def test_it_ends_the_trial_when_a_plan_is_chosen() -> None:
    account = account_sign_up(email="trial@example.com", password=PASSWORD)

    account_set_plan(account=account, plan=Plan.objects.get(slug="enterprise"))

    with time_machine.travel(timezone.now() + timedelta(days=30)):
        account.refresh_from_db()
        assert account.has_api_access
        assert account.plan_label == "Enterprise"


def test_a_plan_change_takes_effect_at_once(account: Account) -> None:
    account_set_plan(account=account, plan=Plan.objects.get(slug="professional"))

    assert not Account.objects.select_related("plan").get(pk=account.pk).has_api_access


def test_the_dashboard_shows_plan_trial_and_numbers(client: Client) -> None:
    account = account_sign_up(email="trial@example.com", password=PASSWORD, name="Bay Law")
    client.force_login(account.owner)

    page = client.get("/dashboard/").content.decode()

    plan = re.search(r'<article id="current-plan">(.*?)</article>', page, re.S).group(1)
    assert "<strong>Business (trial)</strong> · $79.99/mo" in plan
    assert "Your free trial ends on" in plan
    assert "No fax number yet" in page


def test_the_dashboard_lists_the_accounts_numbers(owner_client: Client, account: Account) -> None:
    page = owner_client.get("/dashboard/").content.decode()

    assert account.fax_numbers.get().number in page
