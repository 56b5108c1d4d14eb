"""The dashboard home's fax activity: this month's faxes and pages sent and received, in the
account's time zone, and the chart of the last 30 days drawn as SVG on the server."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.test import Client

from accounts.models import Account, Role
from faxes.models import Direction, Fax, FaxStatus
from faxes.selectors import fax_activity
from tests.factories import FaxFactory, member

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def fax(account: Account, created_at: datetime, **fields: object) -> Fax:
    """A fax created at `created_at` (the column is set on insert, so it is moved after)."""
    made = FaxFactory(account=account, **fields)
    Fax.objects.filter(pk=made.pk).update(created_at=created_at)
    return made


def sent(account: Account, created_at: datetime, pages: int = 1, **fields: object) -> Fax:
    return fax(
        account,
        created_at,
        status=FaxStatus.DELIVERED,
        page_count=pages,
        pages_delivered=pages,
        **fields,
    )


def received(account: Account, created_at: datetime, pages: int = 1) -> Fax:
    return fax(
        account,
        created_at,
        direction=Direction.INBOUND,
        status=FaxStatus.RECEIVED,
        page_count=pages,
    )


def test_it_counts_this_months_faxes_and_pages(account: Account) -> None:
    sent(account, datetime(2026, 11, 2, 12, tzinfo=UTC), pages=3)
    sent(account, datetime(2026, 11, 20, 12, tzinfo=UTC), pages=2)
    received(account, datetime(2026, 11, 10, 12, tzinfo=UTC), pages=4)

    month = fax_activity(account=account, now=NOW).month

    assert (month.sent, month.sent_pages, month.received, month.received_pages) == (2, 5, 1, 4)


def test_it_counts_only_what_was_delivered_or_received(account: Account) -> None:
    fax(account, NOW, status=FaxStatus.FAILED, pages_delivered=1)
    fax(account, NOW, status=FaxStatus.SENDING)
    fax(account, NOW, direction=Direction.INBOUND, status=FaxStatus.RECEIVING)

    month = fax_activity(account=account, now=NOW).month

    assert (month.sent, month.received) == (0, 0)


def test_it_leaves_out_test_faxes_and_other_accounts(
    account: Account, other_account: Account
) -> None:
    sent(account, NOW, livemode=False)
    sent(other_account, NOW)

    assert fax_activity(account=account, now=NOW).month.sent == 0


def test_it_leaves_out_last_month(account: Account) -> None:
    sent(account, datetime(2026, 10, 31, 12, tzinfo=UTC))

    activity = fax_activity(account=account, now=NOW)

    assert activity.month.sent == 0
    assert (activity.days[9].day, activity.days[9].sent) == (date(2026, 10, 31), 1)


def test_the_month_begins_at_midnight_in_the_accounts_time_zone(account: Account) -> None:
    # 02:00 UTC on December 1st is still November 30th in New York, already December in Paris.
    late = datetime(2026, 12, 1, 2, tzinfo=UTC)
    now = datetime(2026, 12, 1, 3, tzinfo=UTC)
    sent(account, late)

    new_york = fax_activity(account=account, now=now)
    account.time_zone = "Europe/Paris"
    paris = fax_activity(account=account, now=now)

    assert (new_york.month.day, new_york.month.sent) == (date(2026, 11, 1), 1)
    assert (paris.month.day, paris.month.sent) == (date(2026, 12, 1), 1)
    assert new_york.days[-1].day == date(2026, 11, 30)


def test_a_late_evening_fax_counts_on_its_day_in_the_accounts_time_zone(
    account: Account,
) -> None:
    # 21:00 in New York on November 30th is 02:00 UTC on December 1st.
    sent(account, datetime(2026, 12, 1, 2, tzinfo=UTC))

    days = fax_activity(account=account, now=datetime(2026, 12, 1, 3, tzinfo=UTC)).days

    assert (days[-1].day, days[-1].sent) == (date(2026, 11, 30), 1)


def test_it_gives_each_of_the_last_30_days(account: Account) -> None:
    sent(account, datetime(2026, 11, 19, 12, tzinfo=UTC))
    sent(account, datetime(2026, 11, 19, 13, tzinfo=UTC))
    received(account, datetime(2026, 11, 20, 12, tzinfo=UTC))

    days = fax_activity(account=account, now=NOW).days

    assert len(days) == 30
    assert (days[0].day, days[-1].day) == (date(2026, 10, 22), date(2026, 11, 20))
    assert [(d.day.day, d.sent, d.received) for d in days if d.sent or d.received] == [
        (19, 2, 0),
        (20, 0, 1),
    ]


def test_it_takes_one_query(account: Account, django_assert_num_queries) -> None:
    for day in (2, 5, 9):
        sent(account, datetime(2026, 11, day, 12, tzinfo=UTC))
        received(account, datetime(2026, 11, day, 12, tzinfo=UTC))

    with django_assert_num_queries(1):
        fax_activity(account=account, now=NOW)


def bars(page: str) -> list[tuple[str, str, int, float]]:
    """(series, day, count, height) of each bar of the home page's chart."""
    return [
        (series, day, int(count), float(height))
        for series, day, count, height in re.findall(
            r'<rect class="(\w+)" data-day="([\d-]+)" data-count="(\d+)" [^>]*height="([\d.]+)"',
            page,
        )
    ]


@time_machine.travel(NOW, tick=False)
def test_the_home_page_shows_the_months_numbers(owner_client: Client, account: Account) -> None:
    sent(account, datetime(2026, 11, 19, 12, tzinfo=UTC), pages=3)
    received(account, datetime(2026, 11, 20, 12, tzinfo=UTC), pages=2)

    page = owner_client.get("/dashboard/").content.decode()

    assert "Faxes in November 2026" in page
    assert re.search(r'id="month-sent">1<.*id="month-sent-pages">3<', page, re.S)
    assert re.search(r'id="month-received">1<.*id="month-received-pages">2<', page, re.S)


@time_machine.travel(NOW, tick=False)
def test_the_chart_has_a_bar_for_each_day_and_kind(owner_client: Client, account: Account) -> None:
    for _ in range(2):
        sent(account, datetime(2026, 11, 19, 12, tzinfo=UTC))
    sent(account, datetime(2026, 11, 20, 12, tzinfo=UTC))
    received(account, datetime(2026, 11, 20, 13, tzinfo=UTC))

    page = owner_client.get("/dashboard/").content.decode()

    # The busiest day (2 faxes) fills the 142-unit plot; one fax is half as tall.
    assert bars(page) == [
        ("sent", "2026-11-19", 2, 142.0),
        ("sent", "2026-11-20", 1, 71.0),
        ("received", "2026-11-20", 1, 71.0),
    ]


@time_machine.travel(NOW, tick=False)
def test_the_chart_of_a_quiet_month_has_no_bars(owner_client: Client) -> None:
    page = owner_client.get("/dashboard/").content.decode()

    assert '<svg id="activity-chart"' in page
    assert bars(page) == []


def test_every_role_sees_the_numbers(account: Account) -> None:
    client = Client()
    client.force_login(member(account, Role.VIEWER))

    assert 'id="fax-activity"' in client.get("/dashboard/").content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_chart_labels_a_day_a_week_ending_today(owner_client: Client) -> None:
    page = owner_client.get("/dashboard/").content.decode()

    labels = re.findall(r'text-anchor="(\w+)" fill="currentColor">([^<]+)<', page)
    assert labels == [
        ("middle", "Oct 23"),
        ("middle", "Oct 30"),
        ("middle", "Nov 6"),
        ("middle", "Nov 13"),
        ("end", "Nov 20"),
    ]
