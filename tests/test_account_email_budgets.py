"""The public pages' email budgets: sign-up and password reset mail whatever address anyone types
in, at most ACCOUNT_EMAIL_RATE times an hour to one address and ACCOUNT_EMAIL_CLIENT_RATE times
for one client, and a refusal reads the same whether or not the address has an account."""

from __future__ import annotations

import logging
import re
import time

import pytest
from django.http import HttpResponse
from django.test import Client

from sendfaxmail.lib.redis import get_redis
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SIGN_UP = "/accounts/signup/"
RESET = "/accounts/password_reset/"


@pytest.fixture(autouse=True)
def _one_window(settings) -> None:
    """Budgets are fixed hours: start each test early enough in one that its requests share it."""
    settings.ACCOUNT_EMAIL_RATE = "3/h"
    settings.ACCOUNT_EMAIL_CLIENT_RATE = "5/h"
    if time.time() % 3600 > 3590:
        time.sleep(3600.5 - time.time() % 3600)


def from_address(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def page_text(response: HttpResponse, email: str) -> str:
    """The page with the address, the form's CSRF token (new on every page) and the minutes to
    wait (a minute may turn between two requests) blanked."""
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    page = re.sub(r"Try again in \d+ minutes?", "Try again in N minutes", page)
    return page.replace(email, "EMAIL")


@pytest.mark.parametrize("page", [SIGN_UP, RESET])
def test_an_address_gets_three_emails_an_hour_then_a_429_that_says_why(
    page: str, mailoutbox: list
) -> None:
    UserFactory(email="owner@example.com")  # the reset page mails only an account's address
    answers = [
        from_address(f"203.0.113.{n}").post(page, {"email": "Owner@Example.com"})
        for n in range(1, 5)
    ]

    assert [answer.status_code for answer in answers[:3]] in ([200] * 3, [302] * 3)
    refused = answers[3]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert "already sent several emails to this address" in refused.content.decode()
    assert "Try again in" in refused.content.decode()
    assert len(mailoutbox) == 3


def test_a_refusal_reads_the_same_for_an_address_with_an_account_and_without(
    mailoutbox: list,
) -> None:
    UserFactory(email="taken@example.com")
    for _ in range(3):
        from_address("203.0.113.1").post(SIGN_UP, {"email": "taken@example.com"})
        from_address("203.0.113.2").post(SIGN_UP, {"email": "new@example.com"})

    taken = from_address("203.0.113.3").post(SIGN_UP, {"email": "taken@example.com"})
    new = from_address("203.0.113.4").post(SIGN_UP, {"email": "new@example.com"})

    assert taken.status_code == new.status_code == 429
    assert page_text(taken, "taken@example.com") == page_text(new, "new@example.com")


def test_one_client_gets_its_budget_across_addresses_and_others_are_not_held_back(
    settings, mailoutbox: list
) -> None:
    settings.ACCOUNT_EMAIL_RATE = "1/h"  # so that a refusal which spent it would show
    client = from_address("198.51.100.7")
    answers = [client.post(SIGN_UP, {"email": f"person{n}@example.com"}) for n in range(6)]
    elsewhere = from_address("198.51.100.8").post(SIGN_UP, {"email": "person5@example.com"})

    assert [answer.status_code for answer in answers] == [200] * 5 + [429]
    assert "from your network" in answers[5].content.decode()
    # The refused request spent nothing of its address's one email.
    assert elsewhere.status_code == 200
    assert [m.to for m in mailoutbox][-1] == ["person5@example.com"]
    assert len(mailoutbox) == 6


def test_an_ipv6_client_is_its_64_network(mailoutbox: list) -> None:
    answers = [
        from_address(f"2001:db8:1:2::{n:x}").post(SIGN_UP, {"email": f"person{n}@example.com"})
        for n in range(1, 7)
    ]
    other_network = from_address("2001:db8:1:3::1").post(SIGN_UP, {"email": "x@example.com"})

    assert [answer.status_code for answer in answers] == [200] * 5 + [429]
    assert other_network.status_code == 200


def test_addresses_are_counted_under_a_digest_not_written_to_redis(mailoutbox: list) -> None:
    from_address("203.0.113.1").post(SIGN_UP, {"email": "someone@example.com"})

    names = [name.decode() for name in get_redis().keys("*")]
    assert len(names) == 2  # the client's counter and the address's
    assert not [name for name in names if "someone" in name or "203.0.113" in name]


def test_the_mail_goes_out_when_the_counter_is_down(
    settings, mailoutbox: list, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    with caplog.at_level(logging.ERROR, logger="sendfaxmail.lib.ratelimit"):
        answer = from_address("203.0.113.1").post(SIGN_UP, {"email": "someone@example.com"})

    assert answer.status_code == 200
    assert len(mailoutbox) == 1
    assert any("Rate limiter unavailable" in record.message for record in caplog.records)
