"""Login throttling (django-axes): an (email, IP) pair is locked after 10 failures, an IP alone
after 100, for 15 minutes, on the dashboard login and the admin login alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.http import HttpResponse
from django.test import Client

from accounts.models import Account, User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
ATTACKER = "198.51.100.7"


def attempt(
    email: str, password: str, ip: str = ATTACKER, path: str = LOGIN, **headers: str
) -> HttpResponse:
    """One log-in attempt from `ip` in a fresh browser; returns its response."""
    return Client(REMOTE_ADDR=ip).post(path, {"username": email, "password": password}, **headers)


def fail(
    email: str, times: int, ip: str = ATTACKER, path: str = LOGIN, **headers: str
) -> list[HttpResponse]:
    """`times` wrong passwords for `email` from `ip` (one client: a new one costs 0.3 s)."""
    client = Client(REMOTE_ADDR=ip)
    return [
        client.post(path, {"username": email, "password": f"wrong-{n}"}, **headers)
        for n in range(times)
    ]


def logs_in(response: HttpResponse) -> bool:
    return response.status_code == 302


def test_it_refuses_the_right_password_after_ten_wrong_ones(account: Account) -> None:
    email = account.owner.email

    responses = fail(email, 10)
    right = attempt(email, PASSWORD)

    assert [r.status_code for r in responses] == [200] * 9 + [429]
    assert right.status_code == 429
    assert "Too many failed log-in attempts" in right.content.decode()
    assert "_auth_user_id" not in right.client.session


def test_it_lets_the_right_password_in_after_nine_wrong_ones(account: Account) -> None:
    fail(account.owner.email, 9)

    assert logs_in(attempt(account.owner.email, PASSWORD))


def test_it_says_when_to_try_again(account: Account) -> None:
    with time_machine.travel(datetime(2026, 11, 30, 14, 32, 10, tzinfo=UTC), tick=False):
        response = fail(account.owner.email, 10)[-1]

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    page = response.content.decode()
    assert "Try again after" in page
    assert "<strong>14:47 UTC</strong> (in 15 minutes)" in page


def test_it_lets_the_right_password_in_fifteen_minutes_after_the_last_failure(
    account: Account,
) -> None:
    fail(account.owner.email, 10)

    with time_machine.travel(datetime.now(tz=UTC) + timedelta(minutes=15, seconds=5)):
        assert logs_in(attempt(account.owner.email, PASSWORD))


def test_it_does_not_lock_the_same_email_from_another_address(account: Account) -> None:
    fail(account.owner.email, 10, ip=ATTACKER)

    assert logs_in(attempt(account.owner.email, PASSWORD, ip="203.0.113.9"))


def test_it_does_not_lock_other_emails_behind_the_same_address(
    account: Account, other_account: Account
) -> None:
    """A clinic behind one NAT address: one person's typos do not lock out a colleague."""
    fail(account.owner.email, 10)

    assert logs_in(attempt(other_account.owner.email, PASSWORD))


def test_it_locks_an_address_after_a_hundred_failures_across_emails(account: Account) -> None:
    guesser = Client(REMOTE_ADDR=ATTACKER)
    for n in range(99):
        guesser.post(LOGIN, {"username": f"guess{n // 3}@example.com", "password": f"{n}"})
    assert logs_in(attempt(account.owner.email, PASSWORD))  # 99 failures: still open

    last = attempt("guess-last@example.com", "wrong")
    right = attempt(account.owner.email, PASSWORD)

    assert last.status_code == 429
    assert right.status_code == 429
    assert logs_in(attempt(account.owner.email, PASSWORD, ip="203.0.113.9"))


def test_it_counts_an_email_in_any_case_as_one(account: Account) -> None:
    emails = [account.owner.email.upper(), account.owner.email, account.owner.email.title()]

    guesser = Client(REMOTE_ADDR=ATTACKER)
    responses = [
        guesser.post(LOGIN, {"username": emails[n % 3], "password": "wrong"}) for n in range(10)
    ]

    assert responses[-1].status_code == 429
    assert attempt(account.owner.email, PASSWORD).status_code == 429


def test_it_locks_the_admin_login_too() -> None:
    staff = UserFactory(is_staff=True, is_superuser=True)

    responses = fail(staff.email, 10, path=ADMIN_LOGIN)
    right = attempt(staff.email, PASSWORD, path=ADMIN_LOGIN)

    assert responses[-1].status_code == 429
    assert right.status_code == 429
    assert "Try again after" in right.content.decode()
    assert "admin log-in" in right.content.decode()


def test_the_dashboard_and_admin_logins_share_one_count() -> None:
    staff = UserFactory(is_staff=True)

    fail(staff.email, 5, path=ADMIN_LOGIN)
    fail(staff.email, 5, path=LOGIN)

    assert attempt(staff.email, PASSWORD, path=ADMIN_LOGIN).status_code == 429


def test_it_ignores_x_forwarded_for_without_trusted_proxies(account: Account) -> None:
    """Otherwise a guesser would claim a new address on every attempt."""
    guesser = Client(REMOTE_ADDR=ATTACKER)
    for n in range(10):
        guesser.post(
            LOGIN,
            {"username": account.owner.email, "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )

    assert attempt(account.owner.email, PASSWORD).status_code == 429


def test_it_reads_the_client_address_behind_a_trusted_proxy(account: Account, settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    # A spoofed entry on the left is the client's own claim; the proxy appends the real one.
    fail(account.owner.email, 10, ip=proxy, HTTP_X_FORWARDED_FOR=f"192.0.2.1, {ATTACKER}")

    locked = attempt(account.owner.email, PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR=ATTACKER)
    elsewhere = attempt(
        account.owner.email, PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.9"
    )

    assert locked.status_code == 429
    assert logs_in(elsewhere)


def test_it_answers_a_locked_out_unknown_email_as_a_known_one(account: Account) -> None:
    """The lockout says nothing about whether an account exists."""
    fail(account.owner.email, 10)
    fail("nobody@example.com", 10)

    known = attempt(account.owner.email, "wrong")
    unknown = attempt("nobody@example.com", "wrong")

    assert known.status_code == unknown.status_code == 429
    assert not User.objects.filter(email="nobody@example.com").exists()
