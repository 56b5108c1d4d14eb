"""Per-key rate limits and the account-wide ceiling, counted in Redis, exact under concurrency."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from accounts.models import Account
from sendfaxmail.lib import redis as lib_redis
from sendfaxmail.lib.ratelimit import Rate, Usage, hit
from tests.conftest import ApiClient, make_key
from tests.factories import AccountFactory


@pytest.fixture(autouse=True)
def _one_window() -> None:
    """Windows are fixed minutes: start each test early in one, so that its requests share it
    even on a slow machine."""
    if time.time() % 60 > 50:
        time.sleep(60.5 - time.time() % 60)


def test_fifty_parallel_requests_against_a_limit_of_ten_let_exactly_ten_through(
    live_server, transactional_db: None, settings
) -> None:
    settings.API_READ_RATE = "10/h"
    account = AccountFactory(plan_slug="business", with_number=True)
    _, secret = make_key(account)
    url = f"{live_server.url}/v1/numbers"

    def call(_: int) -> int:
        with requests.Session() as session:
            return session.get(
                url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
            ).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(call, range(50)))

    assert statuses.count(200) == 10
    assert statuses.count(429) == 40


def test_the_counter_is_exact_under_concurrent_hits() -> None:
    rate = Rate(limit=10, window=3600)

    with ThreadPoolExecutor(max_workers=25) as pool:
        usages = list(pool.map(lambda _: hit(bucket="read", key_id="key_x", rate=rate), range(100)))

    assert sum(u.allowed for u in usages) == 10


@pytest.mark.django_db
def test_a_429_carries_retry_after_and_the_envelope(account: Account, settings) -> None:
    settings.API_READ_RATE = "2/m"
    client = ApiClient(make_key(account)[1])
    client.get("/v1/numbers")
    client.get("/v1/numbers")

    response = client.get("/v1/numbers")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["RateLimit-Remaining"] == "0"


@pytest.mark.django_db
def test_every_response_carries_ratelimit_headers(account: Account, settings) -> None:
    settings.API_READ_RATE = "5/m"
    client = ApiClient(make_key(account)[1])

    first = client.get("/v1/numbers")
    second = client.get("/v1/numbers")

    assert first["RateLimit-Limit"] == "5"
    assert first["RateLimit-Remaining"] == "4"
    assert second["RateLimit-Remaining"] == "3"
    assert 1 <= int(first["RateLimit-Reset"]) <= 60


@pytest.mark.django_db
def test_requests_pass_again_after_the_window(account: Account, settings) -> None:
    settings.API_READ_RATE = "2/s"
    client = ApiClient(make_key(account)[1])
    # Start at the beginning of a fresh one-second window.
    time.sleep(1 - time.time() % 1)
    assert [client.get("/v1/numbers").status_code for _ in range(3)] == [200, 200, 429]

    time.sleep(1 - time.time() % 1 + 0.05)

    assert client.get("/v1/numbers").status_code == 200


@pytest.mark.django_db
def test_each_key_has_its_own_budget(account: Account, settings) -> None:
    settings.API_READ_RATE = "1/m"
    first = ApiClient(make_key(account)[1])
    second = ApiClient(make_key(account)[1])

    assert first.get("/v1/numbers").status_code == 200
    assert first.get("/v1/numbers").status_code == 429
    assert second.get("/v1/numbers").status_code == 200


def test_sends_and_reads_have_separate_budgets() -> None:
    rate = Rate(limit=1, window=60)

    assert hit(bucket="send", key_id="key_y", rate=rate).allowed
    assert hit(bucket="read", key_id="key_y", rate=rate).allowed
    assert not hit(bucket="send", key_id="key_y", rate=rate).allowed


@pytest.mark.django_db
def test_limits_fail_open_with_an_error_log_when_redis_is_down(
    account: Account, settings, caplog: pytest.LogCaptureFixture
) -> None:
    client = ApiClient(make_key(account)[1])
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # the limiter's connection follows it
    with caplog.at_level(logging.ERROR, logger="sendfaxmail.lib.ratelimit"):
        response = client.get("/v1/numbers")

    assert response.status_code == 200
    assert "RateLimit-Limit" not in response
    assert any("Rate limiter unavailable" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("60/m", Rate(60, 60)),
        ("600/min", Rate(600, 60)),
        ("5/s", Rate(5, 1)),
        ("100/h", Rate(100, 3600)),
    ],
)
def test_it_parses_rates(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.django_db
def test_an_accounts_keys_together_stop_at_the_account_ceiling(account: Account, settings) -> None:
    settings.API_READ_RATE = "2/m"
    settings.API_ACCOUNT_RATE_MULTIPLIER = 3
    clients = [ApiClient(make_key(account)[1]) for _ in range(4)]

    statuses = [client.get("/v1/numbers").status_code for client in clients for _ in range(2)]

    assert statuses == [200] * 6 + [429] * 2


@pytest.mark.django_db
def test_the_account_ceiling_answers_the_same_429_contract(account: Account, settings) -> None:
    settings.API_READ_RATE = "1/m"
    settings.API_ACCOUNT_RATE_MULTIPLIER = 2
    for _ in range(2):
        ApiClient(make_key(account)[1]).get("/v1/numbers")

    response = ApiClient(make_key(account)[1]).get("/v1/numbers")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert "account" in response.json()["error"]["message"]
    assert 1 <= int(response["Retry-After"]) <= 60
    assert (response["RateLimit-Limit"], response["RateLimit-Remaining"]) == ("2", "0")


@pytest.mark.django_db
def test_another_account_is_unaffected_by_a_ceiling(
    account: Account, other_account: Account, settings
) -> None:
    settings.API_READ_RATE = "1/m"
    settings.API_ACCOUNT_RATE_MULTIPLIER = 1
    ApiClient(make_key(account)[1]).get("/v1/numbers")
    assert ApiClient(make_key(account)[1]).get("/v1/numbers").status_code == 429

    assert ApiClient(make_key(other_account)[1]).get("/v1/numbers").status_code == 200


@pytest.mark.django_db
def test_a_key_over_its_own_limit_does_not_spend_the_accounts_budget(
    account: Account, settings
) -> None:
    settings.API_READ_RATE = "2/m"
    settings.API_ACCOUNT_RATE_MULTIPLIER = 2
    runaway = ApiClient(make_key(account)[1])
    for _ in range(10):
        runaway.get("/v1/numbers")
    other = ApiClient(make_key(account)[1])

    assert [other.get("/v1/numbers").status_code for _ in range(2)] == [200, 200]


@pytest.mark.django_db
def test_live_and_test_keys_have_separate_ceilings(account: Account, settings) -> None:
    settings.API_READ_RATE = "1/m"
    settings.API_ACCOUNT_RATE_MULTIPLIER = 1
    ApiClient(make_key(account, livemode=False)[1]).get("/v1/numbers")
    assert ApiClient(make_key(account, livemode=False)[1]).get("/v1/numbers").status_code == 429

    assert ApiClient(make_key(account)[1]).get("/v1/numbers").status_code == 200


def test_the_account_ceiling_is_exact_under_concurrent_hits_from_many_keys() -> None:
    rate = Rate(limit=10, window=3600)

    def call(n: int) -> Usage | None:
        return hit(
            bucket="send", key_id=f"key_{n % 5}", rate=rate, account="acct_2:live", account_limit=30
        )

    with ThreadPoolExecutor(max_workers=25) as pool:
        usages = list(pool.map(call, range(100)))

    assert sum(u.allowed for u in usages) == 30


def test_an_out_of_step_connection_fails_open_once_then_counts_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rate = Rate(limit=5, window=60)
    assert hit(bucket="read", key_id="key_z", rate=rate).remaining == 4
    lib_redis._own.connection.send_command("PING")  # an answer nobody reads

    with caplog.at_level(logging.ERROR, logger="sendfaxmail.lib.ratelimit"):
        stray = hit(bucket="read", key_id="key_z", rate=rate)
    after = hit(bucket="read", key_id="key_z", rate=rate)

    assert stray is None  # let through, and logged
    assert any("Rate limiter unavailable" in r.message for r in caplog.records)
    assert after is not None
    assert after.remaining == 2  # the lost answer's request counted too
