from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import Account, User
from fax_numbers.models import FaxNumber
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_account_makes_an_owner_on_the_plan() -> None:
    run("create_account", "ops@example.com", "--plan", "enterprise", "--password", "s3cret-pass-99")

    account = Account.objects.get(owner__email="ops@example.com")
    assert account.plan.slug == "enterprise"
    assert account.trial_ends_at is None
    assert User.objects.get(email="ops@example.com").check_password("s3cret-pass-99")


def test_create_account_refuses_a_taken_email(account: Account) -> None:
    with pytest.raises(CommandError, match="already exists"):
        run("create_account", account.owner.email, "--plan", "business")


@pytest.mark.parametrize(
    "bad", ["not-an-email", "a@", "a b@example.com", "a" * 250 + "@example.com"]
)
def test_create_account_refuses_a_malformed_email(bad: str) -> None:
    with pytest.raises(CommandError, match="is not a valid email address"):
        run("create_account", bad, "--plan", "business")
    assert not User.objects.exists()


def test_create_account_refuses_an_unknown_plan() -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        run("create_account", "x@example.com", "--plan", "platinum")
    assert not User.objects.filter(email="x@example.com").exists()


def test_set_plan_changes_the_plan(account: Account) -> None:
    output = run("set_plan", account.owner.email, "starter")

    account.refresh_from_db()
    assert account.plan.slug == "starter"
    assert "Starter" in output


def test_set_plan_refuses_an_unknown_email() -> None:
    with pytest.raises(CommandError, match="No user with the email"):
        run("set_plan", "nobody@example.com", "business")


def test_set_plan_refuses_an_unknown_plan(account: Account) -> None:
    with pytest.raises(CommandError, match="Unknown plan 'gold'"):
        run("set_plan", account.owner.email, "gold")


def test_add_number_adds_it_with_a_label(account: Account) -> None:
    run("add_number", account.owner.email, "+15550100999", "--label", "Front desk")

    number = FaxNumber.objects.get(number="+15550100999")
    assert number.account == account
    assert number.label == "Front desk"


@pytest.mark.parametrize("bad", ["5550100999", "+1555", "+1 555 010 0999", "+999123456789", "abc"])
def test_add_number_refuses_a_malformed_number(account: Account, bad: str) -> None:
    with pytest.raises(CommandError):
        run("add_number", account.owner.email, bad)
    assert account.fax_numbers.count() == 1


def test_add_number_refuses_a_taken_number(account: Account, other_account: Account) -> None:
    taken = other_account.fax_numbers.get().number

    with pytest.raises(CommandError, match="already taken"):
        run("add_number", account.owner.email, taken)


def test_add_number_refuses_an_unknown_email() -> None:
    with pytest.raises(CommandError, match="No user"):
        run("add_number", "nobody@example.com", "+15550100999")


def lock_out(email: str, ip: str = "198.51.100.7") -> None:
    client = Client(REMOTE_ADDR=ip)
    for n in range(10):
        client.post("/accounts/login/", {"username": email, "password": f"wrong-{n}"})


def log_in(email: str, ip: str = "198.51.100.7") -> int:
    client = Client(REMOTE_ADDR=ip)
    return client.post("/accounts/login/", {"username": email, "password": PASSWORD}).status_code


def test_unlock_login_lets_a_locked_out_email_in_again(account: Account) -> None:
    lock_out(account.owner.email)
    lock_out(account.owner.email, ip="203.0.113.9")
    assert log_in(account.owner.email) == 429

    output = run("unlock_login", account.owner.email.upper())

    assert "Unlocked" in output
    assert log_in(account.owner.email) == 302
    assert log_in(account.owner.email, ip="203.0.113.9") == 302


def test_unlock_login_unlocks_an_address(account: Account) -> None:
    guesser = Client(REMOTE_ADDR="198.51.100.7")
    for n in range(100):
        guesser.post("/accounts/login/", {"username": f"g{n // 5}@example.com", "password": "x"})
    assert log_in(account.owner.email) == 429

    run("unlock_login", "--ip", "198.51.100.7")

    assert log_in(account.owner.email) == 302


def test_unlock_login_says_when_there_is_nothing_to_unlock(account: Account) -> None:
    assert "Nothing to unlock" in run("unlock_login", account.owner.email)


def test_unlock_login_refuses_a_malformed_email() -> None:
    with pytest.raises(CommandError, match="'not-an-email' is not a valid email address"):
        run("unlock_login", "not-an-email")


def test_unlock_login_refuses_an_unknown_email() -> None:
    with pytest.raises(CommandError, match="No user with the email"):
        run("unlock_login", "nobody@example.com")


def test_unlock_login_refuses_a_malformed_address() -> None:
    with pytest.raises(CommandError, match="not an IP address"):
        run("unlock_login", "--ip", "300.1.2.3")


def test_seed_demo_is_idempotent() -> None:
    first = run("seed_demo")
    run("seed_demo")

    assert "demo@example.com" in first
    account = Account.objects.get(owner__email="demo@example.com")
    assert account.plan.slug == "business"
    assert account.fax_numbers.count() == 1
