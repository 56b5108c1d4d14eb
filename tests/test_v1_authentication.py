"""The order of checks on every /v1 route: header, key, plan, scope (rate: test_rate_limits)."""

from __future__ import annotations

import pytest

from accounts.models import Account, Plan
from accounts.services import account_set_plan
from developers.models import Scope
from developers.services.api_keys import api_key_delete, api_key_revoke
from tests.conftest import ApiClient, make_key

pytestmark = pytest.mark.django_db

URL = "/v1/numbers"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "param", "request_id"}
    assert body["error"]["request_id"] == response["Request-Id"]
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Token abc"]
)
def test_it_asks_for_a_bearer_key_when_none_is_sent(header: str | None) -> None:
    client = ApiClient()
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}

    response = client.get(URL, **extra)

    assert_error(response, 401, "authentication_required")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "secret",
    ["sfm_live_short", "sfm_live_" + "a" * 46, "not-a-key", "sfm_live_" + "é" * 46],
)
def test_it_refuses_malformed_keys_as_invalid(secret: str, account: Account) -> None:
    response = ApiClient(secret).get(URL)

    assert_error(response, 401, "invalid_api_key")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_an_unknown_well_formed_key(account: Account) -> None:
    from developers.keys import generate

    assert_error(ApiClient(generate()).get(URL), 401, "invalid_api_key")


def test_a_revoked_key_stops_working_on_the_next_request(account: Account) -> None:
    api_key, secret = make_key(account)
    client = ApiClient(secret)
    assert client.get(URL).status_code == 200

    api_key_revoke(api_key=api_key)

    error = assert_error(client.get(URL), 401, "invalid_api_key")
    assert "revoked" not in error["message"].split(".")[0]  # never says which


def test_a_deleted_key_gets_the_same_answer_as_an_unknown_one(account: Account) -> None:
    api_key, secret = make_key(account)
    api_key_delete(api_key=api_key)
    from developers.keys import generate

    deleted = ApiClient(secret).get(URL).json()["error"]
    unknown = ApiClient(generate()).get(URL).json()["error"]

    # Each answer names its own request; everything else is the same.
    assert deleted.pop("request_id") != unknown.pop("request_id")
    assert deleted == unknown


def test_a_lower_plan_gets_plan_upgrade_required(starter_account: Account) -> None:
    _, secret = make_key(starter_account)

    assert_error(ApiClient(secret).get(URL), 403, "plan_upgrade_required")


@pytest.mark.parametrize("url", ["/v1/numbers", "/v1/faxes", "/v1/faxes/fax_doesnotexist"])
def test_the_plan_gate_covers_every_route(starter_account: Account, url: str) -> None:
    _, secret = make_key(starter_account)

    assert_error(ApiClient(secret).get(url), 403, "plan_upgrade_required")


def test_the_plan_gate_comes_before_the_scope_check(starter_account: Account) -> None:
    _, secret = make_key(starter_account, scopes=[Scope.FAXES_SEND])

    assert_error(ApiClient(secret).get(URL), 403, "plan_upgrade_required")


def test_a_downgrade_locks_the_key_and_an_upgrade_unlocks_it_at_once(account: Account) -> None:
    client = ApiClient(make_key(account)[1])
    assert client.get(URL).status_code == 200

    account_set_plan(account=account, plan=Plan.objects.get(slug="professional"))
    assert_error(client.get(URL), 403, "plan_upgrade_required")

    account_set_plan(account=account, plan=Plan.objects.get(slug="enterprise"))
    assert client.get(URL).status_code == 200


def test_an_ended_trial_locks_the_key(account: Account) -> None:
    from datetime import timedelta

    from django.utils import timezone

    client = ApiClient(make_key(account)[1])
    account.trial_ends_at = timezone.now() - timedelta(seconds=1)
    account.save(update_fields=["trial_ends_at"])

    assert_error(client.get(URL), 403, "plan_upgrade_required")


def test_a_missing_scope_is_named(account: Account) -> None:
    _, secret = make_key(account, scopes=[Scope.FAXES_SEND, Scope.FAXES_READ])

    error = assert_error(ApiClient(secret).get(URL), 403, "insufficient_scope")

    assert "numbers:read" in error["message"]


def test_authentication_takes_one_query(account: Account, django_assert_num_queries) -> None:
    client = ApiClient(make_key(account)[1])
    client.get(URL)  # records last use, at most once a minute

    with django_assert_num_queries(2):  # the key with account and plan; the numbers
        assert client.get(URL).status_code == 200


def test_it_records_last_use_at_most_once_a_minute(account: Account) -> None:
    api_key, secret = make_key(account)
    client = ApiClient(secret)

    client.get(URL)
    api_key.refresh_from_db()
    first = api_key.last_used_at
    client.get(URL)
    api_key.refresh_from_db()

    assert first is not None
    assert api_key.last_used_at == first


def test_session_cookies_do_not_authenticate(owner_client) -> None:
    assert_error(owner_client.get(URL), 401, "authentication_required")
