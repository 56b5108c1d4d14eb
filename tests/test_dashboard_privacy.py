"""Dashboard pages show PHI, keys and secrets: nothing is cached, and idle sessions end."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import Account
from tests.factories import FaxFactory

pytestmark = pytest.mark.django_db


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
    assert response["Cache-Control"] == "no-store"


def test_it_marks_the_page_showing_a_new_key_no_store(owner_client: Client) -> None:
    response = owner_client.post(
        "/dashboard/developers/keys",
        {"name": "CI", "scopes": ["faxes:send"], "mode": "live"},
    )

    assert response.status_code == 201
    assert "sfm_live_" in response.content.decode()
    assert response["Cache-Control"] == "no-store"


def test_public_pages_stay_cacheable(client: Client) -> None:
    assert "no-store" not in client.get("/docs/api").get("Cache-Control", "")


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
