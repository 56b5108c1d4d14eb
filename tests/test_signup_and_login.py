from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import Account, User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def sign_up_link(mail: object) -> str:
    """The path of the link in a sign-up mail."""
    match = re.search(r"http://testserver(/accounts/signup/confirm/\S+/)", mail.body)
    assert match, mail.body
    return match.group(1)


def test_it_signs_up_through_the_mailed_link_into_a_seven_day_business_trial(
    client: Client, mailoutbox: list
) -> None:
    sent = client.post("/accounts/signup/", {"name": "Harbor Clinic", "email": "Owner@Example.com"})
    assert sent.status_code == 200
    assert "Check your email" in sent.content.decode()
    assert [m.to for m in mailoutbox] == [["owner@example.com"]]

    response = client.post(sign_up_link(mailoutbox[0]), {"password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    account = Account.objects.get(name="Harbor Clinic")
    assert account.owner.email == "owner@example.com"
    assert account.owner.check_password(PASSWORD)
    assert account.plan.slug == "business"
    assert account.on_trial
    assert abs(account.trial_ends_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    assert "Harbor Clinic" in client.get("/dashboard/").content.decode()


def test_it_creates_nothing_until_the_link_is_followed(client: Client, mailoutbox: list) -> None:
    client.post("/accounts/signup/", {"email": "new@example.com"})

    assert not User.objects.filter(email="new@example.com").exists()
    assert len(mailoutbox) == 1


def test_it_answers_an_existing_email_as_it_answers_a_new_one(mailoutbox: list) -> None:
    UserFactory(email="taken@example.com")

    taken = Client().post("/accounts/signup/", {"email": "TAKEN@example.com"})
    new = Client().post("/accounts/signup/", {"email": "new@example.com"})

    assert taken.status_code == new.status_code == 200
    assert taken.content.decode().replace("taken@example.com", "EMAIL") == (
        new.content.decode().replace("new@example.com", "EMAIL")
    )
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


def test_it_mails_an_existing_email_that_it_has_an_account(
    client: Client, mailoutbox: list
) -> None:
    UserFactory(email="taken@example.com")

    client.post("/accounts/signup/", {"email": "taken@example.com"})

    assert [m.to for m in mailoutbox] == [["taken@example.com"]]
    assert "already has an account" in mailoutbox[0].body
    assert "http://testserver/accounts/password_reset/" in mailoutbox[0].body
    assert "/accounts/signup/confirm/" not in mailoutbox[0].body


def test_it_refuses_a_260_character_email_with_a_form_error(
    client: Client, mailoutbox: list
) -> None:
    email = "a" * (260 - len("@example.com")) + "@example.com"

    response = client.post("/accounts/signup/", {"email": email})

    assert response.status_code == 400
    assert "at most 254 characters" in response.content.decode()
    assert mailoutbox == []


def test_it_refuses_a_malformed_email(client: Client, mailoutbox: list) -> None:
    response = client.post("/accounts/signup/", {"email": "not-an-email"})

    assert response.status_code == 400
    assert "Enter a valid email address" in response.content.decode()
    assert mailoutbox == []


def test_it_refuses_a_weak_password(client: Client, mailoutbox: list) -> None:
    client.post("/accounts/signup/", {"email": "new@example.com"})

    response = client.post(sign_up_link(mailoutbox[0]), {"password": "123"})

    assert response.status_code == 400
    assert "too short" in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()


def test_it_refuses_an_altered_sign_up_link(client: Client, mailoutbox: list) -> None:
    client.post("/accounts/signup/", {"email": "new@example.com"})
    link = sign_up_link(mailoutbox[0])
    altered = link.replace(link[-8:-1], "AAAAAAA")

    response = client.post(altered, {"password": PASSWORD})

    assert response.status_code == 400
    assert "invalid or has expired" in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()


def test_it_refuses_a_sign_up_link_after_three_days(client: Client, mailoutbox: list) -> None:
    client.post("/accounts/signup/", {"email": "new@example.com"})

    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1)):
        response = client.get(sign_up_link(mailoutbox[0]))

    assert response.status_code == 400
    assert "invalid or has expired" in response.content.decode()


def test_it_refuses_a_sign_up_link_used_already(client: Client, mailoutbox: list) -> None:
    client.post("/accounts/signup/", {"email": "new@example.com"})
    link = sign_up_link(mailoutbox[0])
    Client().post(link, {"password": PASSWORD})

    response = client.post(link, {"password": "another-" + PASSWORD})

    assert response.status_code == 400
    assert "has an account already" in response.content.decode()
    assert User.objects.get(email="new@example.com").check_password(PASSWORD)


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
