"""/dashboard/developers/logs: the account's /v1 requests, filtered, searched, paged and opened."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Role
from developers.models import ApiKey, RequestLogEntry
from tests import documents
from tests.conftest import ApiClient, make_key
from tests.factories import member

pytestmark = pytest.mark.django_db

LOGS = "/dashboard/developers/logs"
NOW = timezone.now()


def entry(account: Account, *, minutes_ago: float = 0, **fields: Any) -> RequestLogEntry:
    """An entry as RequestLogMiddleware writes it, `minutes_ago` minutes old."""
    values: dict[str, Any] = {
        "request_id": f"req_{RequestLogEntry.objects.count():024d}",
        "method": "GET",
        "path": "/v1/numbers",
        "status": 200,
        "duration_ms": 4.2,
        "created_at": NOW - timedelta(minutes=minutes_ago),
        **fields,
    }
    return RequestLogEntry.objects.create(account=account, **values)


def listed(response) -> list[str]:
    """The request ids in the page's table, top to bottom."""
    return re.findall(r'data-request-id="([^"]+)"', response.content.decode())


def test_it_lists_the_accounts_requests_newest_first(
    owner_client: Client, account: Account, other_account: Account
) -> None:
    old = entry(account, minutes_ago=10)
    new = entry(account, minutes_ago=1)
    entry(other_account)

    response = owner_client.get(LOGS)

    assert response.status_code == 200
    assert listed(response) == [new.request_id, old.request_id]


def test_it_shows_what_was_asked_and_answered(owner_client: Client, account: Account) -> None:
    key, _ = make_key(account)
    entry(
        account,
        api_key=key,
        method="POST",
        path="/v1/faxes",
        status=422,
        error_code="idempotency_key_reused",
        duration_ms=12.34,
    )

    page = owner_client.get(LOGS).content.decode()

    assert "POST /v1/faxes" in page
    assert "422" in page
    assert "idempotency_key_reused" in page
    assert "Test key" in page
    assert key.masked in page
    assert "12.3 ms" in page


def test_it_filters_by_status_class(owner_client: Client, account: Account) -> None:
    ok = entry(account, status=201)
    refused = entry(account, status=429, error_code="rate_limited")
    broken = entry(account, status=500, error_code="internal_error")

    assert listed(owner_client.get(LOGS, {"status": "4xx"})) == [refused.request_id]
    assert listed(owner_client.get(LOGS, {"status": "5xx"})) == [broken.request_id]
    assert listed(owner_client.get(LOGS, {"status": "2xx"})) == [ok.request_id]


def test_it_filters_by_key(owner_client: Client, account: Account) -> None:
    mine, _ = make_key(account)
    theirs, _ = make_key(account)
    wanted = entry(account, api_key=mine)
    entry(account, api_key=theirs)

    response = owner_client.get(LOGS, {"key": mine.pk})

    assert listed(response) == [wanted.request_id]


def test_it_filters_by_path(owner_client: Client, account: Account) -> None:
    wanted = entry(account, path="/v1/faxes/fax_abc")
    entry(account, path="/v1/numbers")

    response = owner_client.get(LOGS, {"path": "fax_abc"})

    assert listed(response) == [wanted.request_id]


def test_it_filters_by_dates_in_utc_both_days_included(
    owner_client: Client, account: Account
) -> None:
    def at(day: int, hour: int) -> RequestLogEntry:
        return entry(account, created_at=datetime(2026, 11, day, hour, tzinfo=UTC))

    at(19, 23)
    first, last = at(20, 0), at(21, 23)
    at(22, 0)

    response = owner_client.get(LOGS, {"date_from": "2026-11-20", "date_to": "2026-11-21"})

    assert listed(response) == [last.request_id, first.request_id]


def test_it_finds_a_request_by_its_request_id(owner_client: Client, account: Account) -> None:
    entry(account)
    wanted = entry(account, request_id="req_theOneSupportAskedFor0")

    response = owner_client.get(LOGS, {"request_id": " req_theOneSupportAskedFor0 "})

    assert listed(response) == [wanted.request_id]


def test_it_does_not_find_another_accounts_request_id(
    owner_client: Client, other_account: Account
) -> None:
    entry(other_account, request_id="req_someoneElsesRequest00")

    response = owner_client.get(LOGS, {"request_id": "req_someoneElsesRequest00"})

    assert listed(response) == []
    assert "No request matches" in response.content.decode()


def test_it_ignores_a_bad_filter_value_and_says_so(owner_client: Client, account: Account) -> None:
    kept = entry(account)

    response = owner_client.get(LOGS, {"date_from": "yesterday", "key": "key_notmine"})

    assert response.status_code == 200
    assert listed(response) == [kept.request_id]
    assert "Enter a valid date" in response.content.decode()


def test_it_pages_by_keyset_without_offset(owner_client: Client, account: Account) -> None:
    entries = [entry(account, minutes_ago=minute) for minute in range(120)]
    newest_first = [e.request_id for e in entries]

    first = owner_client.get(LOGS)
    older = re.search(r'href="\?older_than=([0-9.]+)"', first.content.decode())[1]
    with CaptureQueriesContext(connection) as queries:
        second = owner_client.get(LOGS, {"older_than": older})
    third_cursor = re.search(r'href="\?older_than=([0-9.]+)"', second.content.decode())[1]
    third = owner_client.get(LOGS, {"older_than": third_cursor})
    newer = re.search(r'href="\?newer_than=([0-9.]+)"', third.content.decode())[1]
    back = owner_client.get(LOGS, {"newer_than": newer})

    assert listed(first) == newest_first[:50]
    assert listed(second) == newest_first[50:100]
    assert listed(third) == newest_first[100:]
    assert "older_than=" not in third.content.decode()
    assert listed(back) == newest_first[50:100]
    assert not any("OFFSET" in query["sql"].upper() for query in queries.captured_queries)


def test_paging_keeps_the_filters(owner_client: Client, account: Account) -> None:
    for minute in range(120):
        entry(account, minutes_ago=minute, status=404 if minute % 2 else 200)

    first = owner_client.get(LOGS, {"status": "4xx"}).content.decode()
    link = re.search(r'href="\?(status=4xx&amp;older_than=[0-9.]+)"', first)[1]
    second = owner_client.get(f"{LOGS}?{link.replace('&amp;', '&')}")

    assert len(listed(second)) == 10
    assert all(
        e.status == 404 for e in RequestLogEntry.objects.filter(request_id__in=listed(second))
    )


def test_entries_with_the_same_time_are_paged_without_loss(
    owner_client: Client, account: Account
) -> None:
    moment = NOW - timedelta(minutes=5)
    ids = {entry(account, created_at=moment).request_id for _ in range(70)}

    first = owner_client.get(LOGS)
    older = re.search(r'older_than=([0-9.]+)"', first.content.decode())[1]
    second = owner_client.get(LOGS, {"older_than": older})

    assert set(listed(first)) | set(listed(second)) == ids
    assert len(listed(first)) + len(listed(second)) == 70


def test_a_garbled_cursor_shows_the_first_page(owner_client: Client, account: Account) -> None:
    kept = entry(account)

    response = owner_client.get(LOGS, {"older_than": "9" * 30 + ".x", "newer_than": "bad"})

    assert response.status_code == 200
    assert listed(response) == [kept.request_id]


def test_the_list_runs_the_same_queries_for_3_or_40_entries(
    owner_client: Client, account: Account, django_assert_num_queries
) -> None:
    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as context:
            assert owner_client.get(LOGS).status_code == 200
        return len(context.captured_queries)

    for _ in range(3):
        entry(account, api_key=make_key(account)[0])
    few = queries_for_page()
    for _ in range(37):
        entry(account, api_key=make_key(account)[0])

    assert queries_for_page() == few
    # Session, user, membership with account, two-factor device; the keys for the filter; the
    # page of entries with their keys.
    with django_assert_num_queries(6):
        owner_client.get(LOGS)


# --- One request -------------------------------------------------------------------------------


def test_it_opens_a_request_with_its_details(owner_client: Client, account: Account) -> None:
    key, _ = make_key(account)
    entry(
        account,
        api_key=key,
        request_id="req_detailPageRequest0000",
        method="POST",
        path="/v1/faxes",
        status=409,
        error_code="idempotency_key_in_progress",
        idempotency_key="order-4815",
        client_ip="203.0.113.9",
    )

    response = owner_client.get(f"{LOGS}/req_detailPageRequest0000")

    page = response.content.decode()
    assert response.status_code == 200
    assert "req_detailPageRequest0000" in page
    assert "POST /v1/faxes" in page
    assert "idempotency_key_in_progress" in page
    assert "order-4815" in page
    assert "203.0.113.9" in page
    assert key.masked in page
    assert 'id="sent-fax"' not in page


def test_a_request_page_takes_five_queries(
    owner_client: Client, account: Account, django_assert_num_queries
) -> None:
    entry(account, api_key=make_key(account)[0], request_id="req_countedQueries0000000")

    # Session, user, membership with account, two-factor device; the entry with its key.
    with django_assert_num_queries(5):
        assert owner_client.get(f"{LOGS}/req_countedQueries0000000").status_code == 200


def test_a_sent_fax_links_to_its_dashboard_page(
    owner_client: Client, api_client: ApiClient, pipeline: list
) -> None:
    sent = api_client.post_json(
        "/v1/faxes", {"to": "+15557654321", "document": documents.inline_pdf()}
    )
    fax_id = sent.json()["id"]

    page = owner_client.get(f"{LOGS}/{sent['Request-Id']}").content.decode()

    assert f'href="/dashboard/faxes/{fax_id}"' in page
    assert owner_client.get(f"/dashboard/faxes/{fax_id}").status_code == 200


def test_the_list_links_each_request_to_its_page(owner_client: Client, account: Account) -> None:
    wanted = entry(account)

    page = owner_client.get(LOGS).content.decode()

    assert f'href="{LOGS}/{wanted.request_id}"' in page


def test_another_accounts_request_is_a_404(owner_client: Client, other_account: Account) -> None:
    entry(other_account, request_id="req_someoneElsesRequest00")

    response = owner_client.get(f"{LOGS}/req_someoneElsesRequest00")

    assert response.status_code == 404


def test_an_unknown_request_is_a_404(owner_client: Client, account: Account) -> None:
    assert owner_client.get(f"{LOGS}/req_neverHappened00000000").status_code == 404


# --- Who may look ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMIN, Role.DEVELOPER])
def test_admins_and_developers_see_the_log(account: Account, role: str) -> None:
    entry(account, request_id="req_anyRequestId0000000000")
    client = Client()
    client.force_login(member(account, role))

    assert "req_anyRequestId" in client.get(LOGS).content.decode()
    assert client.get(f"{LOGS}/req_anyRequestId0000000000").status_code == 200


@pytest.mark.parametrize("role", [Role.SENDER, Role.VIEWER])
@pytest.mark.parametrize("path", [LOGS, f"{LOGS}/req_anyRequestId0000000000"])
def test_senders_and_viewers_are_refused(account: Account, role: str, path: str) -> None:
    entry(account, request_id="req_anyRequestId0000000000")
    client = Client()
    client.force_login(member(account, role))

    response = client.get(path)

    assert response.status_code == 403
    assert "req_anyRequestId" not in response.content.decode()


def test_a_visitor_is_sent_to_log_in() -> None:
    response = Client().get(LOGS)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", [LOGS, f"{LOGS}/req_cachedNever0000000000"])
def test_pages_are_never_cached(owner_client: Client, account: Account, path: str) -> None:
    entry(account, request_id="req_cachedNever0000000000")

    response = owner_client.get(path)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_the_list_refuses_other_methods(owner_client: Client) -> None:
    assert owner_client.post(LOGS).status_code == 405


def test_the_developers_page_links_to_the_logs(owner_client: Client) -> None:
    page = owner_client.get("/dashboard/developers").content.decode()

    assert f'href="{LOGS}"' in page


def test_a_deleted_key_still_names_its_requests(owner_client: Client, account: Account) -> None:
    from developers.services.api_keys import api_key_delete

    key, _ = make_key(account)
    entry(account, api_key=key)
    api_key_delete(api_key=ApiKey.objects.get(pk=key.pk))

    page = owner_client.get(LOGS).content.decode()

    assert "Test key" in page
    assert "deleted" in page
