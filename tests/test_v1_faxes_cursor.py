"""GET /v1/faxes paged by `cursor`, `starting_after` and `ending_before`: stable under inserts
and equal creation times, alongside `page`."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from faxes.models import Fax
from tests.conftest import ApiClient
from tests.factories import FaxFactory

pytestmark = pytest.mark.django_db


def same_time_faxes(account: Account, count: int) -> list[str]:
    """`count` faxes created at the very same microsecond; their ids, newest first as listed
    (ties ordered by id, descending)."""
    ids = [FaxFactory(account=account).pk for _ in range(count)]
    Fax.objects.filter(pk__in=ids).update(created_at=timezone.now() - timedelta(minutes=5))
    return sorted(ids, reverse=True)


def walk(client: ApiClient, limit: int, between=lambda: None, **params: object) -> list[str]:
    """Every fax id the list gives by following `next_cursor` (with the same `params`),
    calling `between()` after each page."""
    seen: list[str] = []
    body = client.get("/v1/faxes", {"limit": limit, **params}).json()
    while True:
        seen += [f["id"] for f in body["data"]]
        between()
        if body["next_cursor"] is None:
            return seen
        next_page = {"limit": limit, **params, "cursor": body["next_cursor"]}
        body = client.get("/v1/faxes", next_page).json()


def test_it_walks_every_fax_once_by_cursor_with_equal_times(
    api_client: ApiClient, account: Account
) -> None:
    ids = same_time_faxes(account, 7)

    assert walk(api_client, 2) == ids


def test_a_walk_by_cursor_is_stable_under_inserts(api_client: ApiClient, account: Account) -> None:
    ids = same_time_faxes(account, 9)

    seen = walk(api_client, 2, between=lambda: FaxFactory(account=account))

    assert seen == ids


@pytest.mark.django_db(transaction=True)
def test_a_walk_by_cursor_is_stable_under_concurrent_inserts(account: Account) -> None:
    from tests.conftest import make_key

    client = ApiClient(make_key(account)[1])
    ids = same_time_faxes(account, 30)
    stop = threading.Event()

    def insert() -> None:
        try:
            while not stop.is_set():
                FaxFactory(account=account)
        finally:
            connection.close()

    inserter = threading.Thread(target=insert)
    inserter.start()
    try:
        seen = walk(client, 4)
    finally:
        stop.set()
        inserter.join(timeout=30)

    # New faxes are newer than the walk's position: only the first page may show some.
    older = [fax_id for fax_id in seen if fax_id in set(ids)]
    assert older == ids
    assert len(seen) == len(set(seen))


def test_the_last_page_has_no_next_cursor(api_client: ApiClient, account: Account) -> None:
    same_time_faxes(account, 2)

    body = api_client.get("/v1/faxes", {"limit": 2}).json()

    assert (body["has_more"], body["next_cursor"]) == (False, None)


def test_a_page_answer_carries_a_cursor_that_continues_after_it(
    api_client: ApiClient, account: Account
) -> None:
    ids = same_time_faxes(account, 5)

    first = api_client.get("/v1/faxes", {"page": 1, "limit": 2}).json()
    after = api_client.get("/v1/faxes", {"limit": 2, "cursor": first["next_cursor"]}).json()

    assert first["page"] == 1
    assert [f["id"] for f in after["data"]] == ids[2:4]
    assert "page" not in after


def test_starting_after_a_fax_is_the_page_just_older(
    api_client: ApiClient, account: Account
) -> None:
    ids = same_time_faxes(account, 6)

    body = api_client.get("/v1/faxes", {"limit": 2, "starting_after": ids[1]}).json()

    assert [f["id"] for f in body["data"]] == ids[2:4]
    assert body["has_more"] is True


def test_ending_before_a_fax_is_the_page_just_newer_still_newest_first(
    api_client: ApiClient, account: Account
) -> None:
    ids = same_time_faxes(account, 6)

    body = api_client.get("/v1/faxes", {"limit": 2, "ending_before": ids[4]}).json()

    assert [f["id"] for f in body["data"]] == ids[2:4]
    assert body["has_more"] is True
    after = api_client.get("/v1/faxes", {"limit": 2, "cursor": body["next_cursor"]}).json()
    assert [f["id"] for f in after["data"]] == ids[4:6]


def test_ending_before_the_newest_page_has_no_more(api_client: ApiClient, account: Account) -> None:
    ids = same_time_faxes(account, 3)

    body = api_client.get("/v1/faxes", {"limit": 2, "ending_before": ids[2]}).json()

    assert [f["id"] for f in body["data"]] == ids[:2]
    assert body["has_more"] is False


def test_a_cursor_applies_the_filters(api_client: ApiClient, account: Account) -> None:
    ids = same_time_faxes(account, 6)
    Fax.objects.filter(pk__in=ids[::2]).update(to_number="+15550001111")

    seen = walk(api_client, 1, to="+15550001111")

    assert seen == ids[::2]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"cursor": "nonsense"}, "cursor"),
        ({"cursor": "MTIz"}, "cursor"),
        ({"cursor": "x" * 201}, "cursor"),
        ({"starting_after": "fax_doesnotexist"}, "starting_after"),
        ({"ending_before": "fax_doesnotexist"}, "ending_before"),
        ({"page": 2, "cursor": "abc"}, "page"),
        ({"starting_after": "a", "ending_before": "b"}, "ending_before"),
    ],
)
def test_bad_paging_parameters_are_400_naming_them(
    api_client: ApiClient, params: dict, param: str
) -> None:
    response = api_client.get("/v1/faxes", params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["param"] == param


def test_another_accounts_fax_is_no_place_to_start(
    api_client: ApiClient, other_account: Account
) -> None:
    theirs = FaxFactory(account=other_account)

    response = api_client.get("/v1/faxes", {"starting_after": theirs.pk})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "starting_after"


def test_a_cursor_page_runs_one_query_for_the_faxes(
    api_client: ApiClient, account: Account, django_assert_num_queries
) -> None:
    same_time_faxes(account, 5)
    cursor = api_client.get("/v1/faxes", {"limit": 2}).json()["next_cursor"]

    with django_assert_num_queries(2):  # the key; the page of faxes
        response = api_client.get("/v1/faxes", {"limit": 2, "cursor": cursor})

    assert len(response.json()["data"]) == 2
