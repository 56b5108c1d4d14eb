"""Dashboard pages show PHI, keys and secrets: nothing is cached, and idle sessions end."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from accounts.models import Account
from tests.factories import FaxFactory

pytestmark = pytest.mark.django_db


def no_store(response: HttpResponse) -> bool:
    directives = response.get("Cache-Control", "").split(",")
    return "no-store" in (d.strip() for d in directives)


@pytest.mark.parametrize(
    "path", ["/dashboard/", "/dashboard/faxes", "/dashboard/developers", "fax-detail"]
)
def test_it_marks_dashboard_pages_no_store(
    owner_client: Client, account: Account, path: str
) -> None:
    if path == "fax-detail":
        path = f"/dashboard/faxes/{FaxFactory(account=account).pk}"

    response = owner_client.get(path)

    assert response.status_code == 200
    assert no_store(response)


def test_it_marks_the_page_showing_a_new_key_no_store(owner_client: Client) -> None:
    response = owner_client.post(
        "/dashboard/developers/keys",
        {"name": "CI", "scopes": ["faxes:send"], "mode": "live"},
    )

    assert response.status_code == 201
    assert "sfm_live_" in response.content.decode()
    assert no_store(response)


def test_public_pages_stay_cacheable(client: Client) -> None:
    assert not no_store(client.get("/docs/api"))


def test_an_active_session_lasts_past_the_idle_timeout(owner_client: Client) -> None:
    start = timezone.now()
    for minutes in (20, 40, 60):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert owner_client.get("/dashboard/").status_code == 200


def test_a_session_idle_for_30_minutes_is_logged_out(owner_client: Client) -> None:
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        response = owner_client.get("/dashboard/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_session_idle_for_29_minutes_is_still_logged_in(owner_client: Client) -> None:
    with time_machine.travel(timezone.now() + timedelta(minutes=29), tick=False):
        assert owner_client.get("/dashboard/").status_code == 200


def test_pages_within_a_minute_do_not_write_the_session(owner_client: Client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        owner_client.get("/dashboard/")

    writes = [q["sql"] for q in queries if q["sql"].startswith(("UPDATE", "INSERT"))]
    assert not [sql for sql in writes if "django_session" in sql]


def test_api_requests_create_no_session(api_client) -> None:
    response = api_client.get("/v1/numbers")

    assert response.status_code == 200
    assert "sessionid" not in response.cookies
