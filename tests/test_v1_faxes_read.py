"""GET /v1/faxes/{id} and GET /v1/faxes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account
from developers.models import Scope
from faxes.models import Fax, FaxStatus
from tests.conftest import ApiClient, make_key
from tests.factories import FaxFactory

pytestmark = pytest.mark.django_db


def make_faxes(account: Account, count: int, **kwargs) -> list[Fax]:
    """`count` faxes, created one second apart, oldest first."""
    start = timezone.now() - timedelta(hours=1)
    faxes = []
    for i in range(count):
        fax = FaxFactory(account=account, **kwargs)
        Fax.objects.filter(pk=fax.pk).update(created_at=start + timedelta(seconds=i))
        faxes.append(fax)
    return faxes


def test_it_gets_a_fax_by_id(api_client: ApiClient, account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SENDING, page_count=4)

    response = api_client.get(f"/v1/faxes/{fax.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == fax.pk
    assert body["status"] == "sending"
    assert body["page_count"] == 4


def test_an_internal_status_shows_as_queued(api_client: ApiClient, account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.SUBMITTING)

    assert api_client.get(f"/v1/faxes/{fax.pk}").json()["status"] == "queued"


def test_another_accounts_fax_is_404(api_client: ApiClient, other_account: Account) -> None:
    fax = FaxFactory(account=other_account)

    response = api_client.get(f"/v1/faxes/{fax.pk}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_unknown_fax_is_404(api_client: ApiClient) -> None:
    response = api_client.get("/v1/faxes/fax_doesnotexist")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_reading_needs_the_read_scope(account: Account) -> None:
    fax = FaxFactory(account=account)
    client = ApiClient(make_key(account, scopes=[Scope.FAXES_SEND])[1])

    for url in (f"/v1/faxes/{fax.pk}", "/v1/faxes"):
        response = client.get(url)
        assert response.status_code == 403
        assert "faxes:read" in response.json()["error"]["message"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_fax_cannot_be_changed(api_client: ApiClient, account: Account, method: str) -> None:
    fax = FaxFactory(account=account)

    response = getattr(api_client, method)(
        f"/v1/faxes/{fax.pk}", data="{}", content_type="application/json"
    )

    assert response.status_code == 405


def test_it_lists_newest_first(api_client: ApiClient, account: Account) -> None:
    faxes = make_faxes(account, 3)

    body = api_client.get("/v1/faxes").json()

    assert [f["id"] for f in body["data"]] == [f.pk for f in reversed(faxes)]
    assert body == {**body, "object": "list", "page": 1, "limit": 20, "has_more": False}


def test_it_lists_only_the_accounts_faxes(
    api_client: ApiClient, account: Account, other_account: Account
) -> None:
    mine = FaxFactory(account=account)
    FaxFactory(account=other_account)

    assert [f["id"] for f in api_client.get("/v1/faxes").json()["data"]] == [mine.pk]


def test_pages_never_repeat_or_skip_a_fax_with_equal_times(
    api_client: ApiClient, account: Account
) -> None:
    faxes = [FaxFactory(account=account) for _ in range(7)]
    same_time = timezone.now() - timedelta(minutes=5)
    Fax.objects.filter(account=account).update(created_at=same_time)

    seen = []
    for page in range(1, 5):
        body = api_client.get("/v1/faxes", {"page": page, "limit": 2}).json()
        seen += [f["id"] for f in body["data"]]
        assert body["has_more"] == (page < 4)

    assert sorted(seen) == sorted(f.pk for f in faxes)
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"page": 0}, "page"),
        ({"page": "2.5"}, "page"),
        ({"status": "lost"}, "status"),
        ({"status": "submitting"}, "status"),
        ({"to": "12345"}, "to"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2026-11-26T10:00:00"}, "created_before"),
    ],
)
def test_bad_list_parameters_are_400_naming_them(
    api_client: ApiClient, params: dict, param: str
) -> None:
    response = api_client.get("/v1/faxes", params)

    assert response.status_code == 400
    assert response.json()["error"] == {
        **response.json()["error"],
        "code": "validation_error",
        "param": param,
    }


def test_it_filters_by_status_and_destination(api_client: ApiClient, account: Account) -> None:
    delivered = FaxFactory(account=account, status=FaxStatus.DELIVERED, to_number="+15550001111")
    FaxFactory(account=account, status=FaxStatus.FAILED, to_number="+15550001111")
    FaxFactory(account=account, status=FaxStatus.DELIVERED, to_number="+15550002222")

    body = api_client.get("/v1/faxes", {"status": "delivered", "to": "+15550001111"}).json()

    assert [f["id"] for f in body["data"]] == [delivered.pk]


def test_the_queued_filter_includes_faxes_being_submitted(
    api_client: ApiClient, account: Account
) -> None:
    submitting = FaxFactory(account=account, status=FaxStatus.SUBMITTING)

    assert [f["id"] for f in api_client.get("/v1/faxes", {"status": "queued"}).json()["data"]] == [
        submitting.pk
    ]


def test_it_filters_by_creation_time(api_client: ApiClient, account: Account) -> None:
    _, middle, _ = make_faxes(account, 3)
    middle.refresh_from_db()
    after = (middle.created_at - timedelta(milliseconds=500)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    before = (middle.created_at + timedelta(milliseconds=500)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    body = api_client.get("/v1/faxes", {"created_after": after, "created_before": before}).json()

    assert [f["id"] for f in body["data"]] == [middle.pk]


@pytest.mark.parametrize("limit", [1, 100])
def test_the_query_count_does_not_grow_with_limit(
    api_client: ApiClient, account: Account, limit: int, django_assert_num_queries
) -> None:
    make_faxes(account, 101)
    api_client.get("/v1/faxes")  # records the key's last use

    with django_assert_num_queries(2):  # the key; the page of faxes
        response = api_client.get("/v1/faxes", {"limit": limit})

    assert len(response.json()["data"]) == limit
    assert response.json()["has_more"] is True


def test_head_needs_the_read_scope_too(account: Account) -> None:
    fax = FaxFactory(account=account)
    client = ApiClient(make_key(account, scopes=[Scope.FAXES_SEND])[1])

    assert client.head(f"/v1/faxes/{fax.pk}").status_code == 403
