"""/dashboard/security: the account owners' and admins' view of its audit log, its filters, its
pages and its CSV export; nobody else's entries, and no other role."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.http import HttpResponse
from django.test import Client

from accounts.models import Account, Role, User
from audit.models import Action, ActorType, AuditEntry
from audit.selectors import PAGE_SIZE
from audit.services import Actor, audit_record
from tests.conftest import verified_client
from tests.factories import member

pytestmark = pytest.mark.django_db

URL = "/dashboard/security"
EXPORT = "/dashboard/security/export"


def record(
    account: Account,
    action: str = Action.API_KEY_CREATED,
    label: str = "owner@clinic.test",
    at: datetime | None = None,
    **fields: str,
) -> AuditEntry:
    actor = Actor(type=ActorType.MEMBER, id="1", label=label, ip="203.0.113.5")
    if at is None:
        return audit_record(action=action, account_id=account.pk, actor=actor, **fields)
    with time_machine.travel(at, tick=False):
        return audit_record(action=action, account_id=account.pk, actor=actor, **fields)


def rows_of(response: HttpResponse) -> list[str]:
    """The `data-action` of each row of the log table, top to bottom."""
    return re.findall(r'<tr data-action="([^"]+)"', response.content.decode())


def csv_of(response: HttpResponse) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def day(d: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, d, hour, tzinfo=UTC)


def test_the_owner_sees_the_accounts_entries_newest_first(
    owner_client: Client, account: Account
) -> None:
    record(account, Action.API_KEY_CREATED, at=day(1))
    record(account, Action.PLAN_CHANGED, at=day(2))

    response = owner_client.get(URL)

    assert response.status_code == 200
    # The owner's own log-in (the test client's) is the newest.
    assert rows_of(response) == [Action.LOGIN, Action.PLAN_CHANGED, Action.API_KEY_CREATED]


def test_another_accounts_entries_are_invisible(
    owner_client: Client, account: Account, other_account: Account
) -> None:
    record(other_account, Action.WEBHOOK_SECRET_REVEALED, label="them@other.test")

    response = owner_client.get(URL)

    assert "them@other.test" not in response.content.decode()
    assert Action.WEBHOOK_SECRET_REVEALED not in rows_of(response)


def test_a_member_who_is_neither_owner_nor_admin_is_refused(account: Account) -> None:
    client = Client()
    client.force_login(member(account, Role.DEVELOPER))
    record(account)

    response = client.get(URL)

    assert response.status_code == 403
    assert "owner@clinic.test" not in response.content.decode()


def test_a_member_who_is_neither_owner_nor_admin_cannot_export(account: Account) -> None:
    client = Client()
    client.force_login(member(account, Role.DEVELOPER))

    assert client.get(EXPORT).status_code == 403


def test_an_admin_sees_the_accounts_log(account: Account) -> None:
    client = Client()
    client.force_login(member(account, Role.ADMIN))
    record(account)

    response = client.get(URL)

    assert response.status_code == 200
    assert "owner@clinic.test" in response.content.decode()


def test_a_visitor_is_sent_to_log_in(db: None) -> None:
    response = Client().get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_staff_without_an_account_get_a_404(db: None) -> None:
    client = verified_client(User.objects.create_superuser(email="s@example.com", password="x1"))

    assert client.get(URL).status_code == 404


def test_the_page_is_never_cached(owner_client: Client) -> None:
    assert "no-store" in owner_client.get(URL)["Cache-Control"]


def test_it_filters_by_action(owner_client: Client, account: Account) -> None:
    record(account, Action.API_KEY_CREATED)
    record(account, Action.PLAN_CHANGED)

    response = owner_client.get(URL, {"action": Action.PLAN_CHANGED})

    assert rows_of(response) == [Action.PLAN_CHANGED]


def test_it_filters_by_actor(owner_client: Client, account: Account) -> None:
    record(account, Action.API_KEY_CREATED, label="ann@clinic.test")
    record(account, Action.API_KEY_REVOKED, label="bob@clinic.test")

    response = owner_client.get(URL, {"actor": "BOB@"})

    assert rows_of(response) == [Action.API_KEY_REVOKED]


def test_it_filters_by_dates_both_days_included(owner_client: Client, account: Account) -> None:
    record(account, Action.API_KEY_CREATED, at=day(1, 23))
    record(account, Action.API_KEY_REVOKED, at=day(2, 0))
    record(account, Action.API_KEY_DELETED, at=day(3, 23))
    record(account, Action.PLAN_CHANGED, at=day(4, 0))

    response = owner_client.get(URL, {"since": "2026-03-02", "until": "2026-03-03"})

    assert rows_of(response) == [Action.API_KEY_DELETED, Action.API_KEY_REVOKED]


def test_an_end_before_the_start_is_a_400(owner_client: Client) -> None:
    response = owner_client.get(URL, {"since": "2026-03-05", "until": "2026-03-01"})

    assert response.status_code == 400
    assert "before the start" in response.content.decode()


def test_pages_follow_on_without_gaps_or_repeats(owner_client: Client, account: Account) -> None:
    # Twenty entries a second: the page boundary is on (time, id), not on time alone.
    for n in range(PAGE_SIZE + 5):
        record(account, at=day(1 + n // 20))
    newest_first = list(
        AuditEntry.objects.filter(account_id=account.pk)
        .order_by("-occurred_at", "-id")
        .values_list("pk", flat=True)
    )

    first = owner_client.get(URL).content.decode()
    older = re.search(r'href="\?([^"]+)" id="older"', first).group(1).replace("&amp;", "&")
    second = owner_client.get(f"{URL}?{older}").content.decode()

    shown = [int(pk) for pk in re.findall(r'data-id="(\d+)"', first + second)]
    assert shown == newest_first
    assert len(re.findall(r'data-id="', first)) == PAGE_SIZE
    assert 'id="older"' not in second


def test_a_damaged_page_link_is_a_400(owner_client: Client) -> None:
    assert owner_client.get(URL, {"after": "yesterday_12"}).status_code == 400


def test_a_page_takes_the_same_queries_however_many_entries(
    owner_client: Client, account: Account, django_assert_max_num_queries
) -> None:
    for _ in range(PAGE_SIZE):
        record(account)

    # session, user, memberships, the two-factor check, the page
    with django_assert_max_num_queries(5):
        response = owner_client.get(URL)

    assert len(rows_of(response)) == PAGE_SIZE


def test_post_is_not_allowed(owner_client: Client) -> None:
    assert owner_client.post(URL).status_code == 405


# --- CSV export -----------------------------------------------------------------------------


def test_the_export_is_an_attachment(owner_client: Client) -> None:
    response = owner_client.get(EXPORT, {"since": "2026-03-01", "until": "2026-03-31"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        'attachment; filename="security-log-2026-03-01-to-2026-03-31.csv"'
    )
    assert "no-store" in response["Cache-Control"]


def test_the_export_holds_the_date_range_oldest_first(
    owner_client: Client, account: Account
) -> None:
    record(account, Action.API_KEY_CREATED, at=day(1))
    record(account, Action.API_KEY_REVOKED, at=day(2))
    record(account, Action.API_KEY_DELETED, at=day(3))
    record(account, Action.PLAN_CHANGED, at=day(4))

    rows = csv_of(owner_client.get(EXPORT, {"since": "2026-03-02", "until": "2026-03-03"}))

    assert [row["action"] for row in rows] == [Action.API_KEY_REVOKED, Action.API_KEY_DELETED]
    assert rows[0]["occurred_at"] == "2026-03-02T12:00:00.000000Z"
    assert (rows[0]["actor"], rows[0]["ip"]) == ("owner@clinic.test", "203.0.113.5")


def test_the_export_holds_only_the_accounts_rows(
    owner_client: Client, account: Account, other_account: Account
) -> None:
    record(account, Action.API_KEY_CREATED, at=day(1))
    record(other_account, Action.API_KEY_CREATED, label="them@other.test", at=day(1))

    rows = csv_of(owner_client.get(EXPORT, {"until": "2026-03-31"}))

    assert [row["actor"] for row in rows] == ["owner@clinic.test"]


def test_the_export_cannot_start_a_formula_in_a_spreadsheet(
    owner_client: Client, account: Account
) -> None:
    record(
        account,
        label='=HYPERLINK("http://evil.test")',
        target_label="+1+cmd|' /C calc'!A0",
        target_type="@SUM(1)",
        target_id="-2",
        at=day(1),
    )

    [row] = csv_of(owner_client.get(EXPORT, {"until": "2026-03-31"}))

    assert row["actor"] == '\'=HYPERLINK("http://evil.test")'
    assert row["target"] == "'+1+cmd|' /C calc'!A0"
    assert (row["target_type"], row["target_id"]) == ("'@SUM(1)", "'-2")


def test_an_export_is_itself_recorded(owner_client: Client, account: Account) -> None:
    csv_of(owner_client.get(EXPORT, {"since": "2026-03-01", "until": "2026-03-31"}))

    [entry] = AuditEntry.objects.filter(action=Action.AUDIT_LOG_EXPORTED)
    assert (entry.account_id, entry.actor_label) == (account.pk, account.owner.email)
    assert entry.details["since"] == "2026-03-01"


def test_the_owners_dashboard_links_to_the_page(owner_client: Client) -> None:
    assert f'href="{URL}"' in owner_client.get("/dashboard/").content.decode()
