from __future__ import annotations

import pytest

from accounts.models import Account
from developers.models import Scope
from tests.conftest import ApiClient, make_key
from tests.factories import FaxNumberFactory

pytestmark = pytest.mark.django_db


def test_it_lists_the_accounts_numbers_only(
    api_client: ApiClient, account: Account, other_account: Account
) -> None:
    second = FaxNumberFactory(account=account, label="")

    response = api_client.get("/v1/numbers")

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    numbers = [n["number"] for n in body["data"]]
    assert numbers == [account.fax_numbers.order_by("created_at").first().number, second.number]
    assert other_account.fax_numbers.get().number not in numbers


def test_each_number_has_the_documented_shape(api_client: ApiClient, account: Account) -> None:
    number = account.fax_numbers.get()

    item = api_client.get("/v1/numbers").json()["data"][0]

    assert item == {
        "id": number.pk,
        "object": "number",
        "number": number.number,
        "label": number.label,
        "created_at": number.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert item["id"].startswith("num_")


@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        ([Scope.NUMBERS_READ], 200),
        ([Scope.FAXES_READ], 403),
        ([Scope.FAXES_SEND], 403),
        ([Scope.FAXES_SEND, Scope.FAXES_READ], 403),
    ],
)
def test_it_needs_the_numbers_read_scope(account: Account, scopes: list[str], status: int) -> None:
    response = ApiClient(make_key(account, scopes=scopes)[1]).get("/v1/numbers")

    assert response.status_code == status


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_other_methods_are_405_in_the_envelope(api_client: ApiClient, method: str) -> None:
    response = getattr(api_client, method)(
        "/v1/numbers", data="{}", content_type="application/json"
    )

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_an_account_without_numbers_gets_an_empty_list(account: Account) -> None:
    account.fax_numbers.all().delete()

    response = ApiClient(make_key(account)[1]).get("/v1/numbers")

    assert response.json() == {"object": "list", "data": []}


def test_the_query_count_does_not_grow_with_numbers(
    api_client: ApiClient, account: Account, django_assert_max_num_queries
) -> None:
    FaxNumberFactory.create_batch(20, account=account)
    api_client.get("/v1/numbers")

    with django_assert_max_num_queries(2):
        assert len(api_client.get("/v1/numbers").json()["data"]) == 21
