from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Account, User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_it_signs_up_into_a_seven_day_business_trial(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {"name": "Harbor Clinic", "email": "Owner@Example.com", "password": PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    account = Account.objects.get(name="Harbor Clinic")
    assert account.owner.email == "owner@example.com"
    assert account.plan.slug == "business"
    assert account.on_trial
    assert abs(account.trial_ends_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    assert "Harbor Clinic" in client.get("/dashboard/").content.decode()


def test_it_refuses_a_second_sign_up_with_the_same_email(client: Client) -> None:
    UserFactory(email="taken@example.com")

    response = client.post(
        "/accounts/signup/", {"email": "TAKEN@example.com", "password": PASSWORD}
    )

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


def test_it_refuses_a_weak_password(client: Client) -> None:
    response = client.post("/accounts/signup/", {"email": "new@example.com", "password": "123"})

    assert response.status_code == 200
    assert "too short" in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()


def test_it_logs_in_with_email_in_the_username_field(client: Client, account: Account) -> None:
    response = client.post(
        "/accounts/login/", {"username": account.owner.email.upper(), "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_it_refuses_a_wrong_password(client: Client, account: Account) -> None:
    response = client.post(
        "/accounts/login/", {"username": account.owner.email, "password": "wrong-password"}
    )

    assert response.status_code == 200
    assert "enter a correct" in response.content.decode().lower()


def test_it_logs_out_on_post(owner_client: Client) -> None:
    response = owner_client.post("/accounts/logout/")

    assert response.status_code == 302
    assert owner_client.get("/dashboard/").status_code == 302


def test_it_sends_a_password_reset_email(
    client: Client, account: Account, mailoutbox: list
) -> None:
    response = client.post("/accounts/password_reset/", {"email": account.owner.email})

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "/accounts/reset/" in mailoutbox[0].body


def test_the_dashboard_requires_login(client: Client) -> None:
    response = client.get("/dashboard/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
