"""Every read of faxes that is more than a `get`: what the API, the dashboard, the simulator and
the services look up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Case, Count, F, Q, QuerySet, Sum, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Account
from fax_numbers.selectors import fax_number_rows_of_account
from faxes.models import Direction, Fax, FaxEmail, FaxEvent, FaxStatus
from sendfaxmail.lib.sql import select_prepared


@dataclass(frozen=True)
class FaxFilters:
    """What GET /v1/faxes filters on, already checked: a public status, an E.164 number, and
    aware times."""

    status: str | None = None
    direction: str | None = None
    to: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


# A public status and the statuses it stands for (`submitting` is shown as `queued`).
_STATUSES_SHOWN_AS = {FaxStatus.QUEUED: [FaxStatus.QUEUED, FaxStatus.SUBMITTING]}


def faxes_of_account(*, account: Account, livemode: bool) -> QuerySet[Fax]:
    """The account's faxes in one world (live or test): nothing else is reachable."""
    return Fax.objects.filter(account=account, livemode=livemode)


def fax_of_account(*, account: Account, livemode: bool, fax_id: str) -> Fax | None:
    """One of the account's faxes in that world, or None (another account's fax included)."""
    return faxes_of_account(account=account, livemode=livemode).filter(pk=fax_id).first()


@dataclass(frozen=True)
class FaxPosition:
    """A place in the newest-first list: just after (older than) or just before (newer than)
    the fax created at `created_at` with id `id`. (created_at, id) orders every fax, ties in
    creation time included, so a position never skips or repeats one."""

    created_at: datetime
    id: str
    before: bool = False


def _filtered(*, account: Account, livemode: bool, filters: FaxFilters) -> QuerySet[Fax]:
    faxes = faxes_of_account(account=account, livemode=livemode)
    if filters.status is not None:
        faxes = faxes.filter(status__in=_STATUSES_SHOWN_AS.get(filters.status, [filters.status]))
    if filters.direction is not None:
        faxes = faxes.filter(direction=filters.direction)
    if filters.to is not None:
        faxes = faxes.filter(to_number=filters.to)
    if filters.created_after is not None:
        faxes = faxes.filter(created_at__gt=filters.created_after)
    if filters.created_before is not None:
        faxes = faxes.filter(created_at__lt=filters.created_before)
    return faxes


def faxes_page(
    *, account: Account, livemode: bool, filters: FaxFilters, page: int, limit: int
) -> tuple[list[Fax], bool]:
    """Page `page` (from 1) of `limit` faxes, newest first, and whether a next page has any.
    Costs grow with `page` (PostgreSQL walks every earlier row): `faxes_after` does not."""
    faxes = _filtered(account=account, livemode=livemode, filters=filters)
    offset = (page - 1) * limit
    rows = list(faxes.order_by("-created_at", "-id")[offset : offset + limit + 1])
    return rows[:limit], len(rows) > limit


def faxes_at(
    *, account: Account, livemode: bool, filters: FaxFilters, position: FaxPosition, limit: int
) -> tuple[list[Fax], bool]:
    """`limit` faxes next to `position`, newest first, and whether more lie beyond them in that
    direction (older ones after the position, newer ones before it).

    A keyset read: the index fax_account_newest is entered at the position, so the cost is the
    same on the first page and the five hundredth. The redundant `created_at` bound is what
    lets PostgreSQL use it as an index condition rather than a filter on every row.
    """
    faxes = _filtered(account=account, livemode=livemode, filters=filters)
    at, fax_id = position.created_at, position.id
    if position.before:
        faxes = faxes.filter(created_at__gte=at).filter(Q(created_at__gt=at) | Q(id__gt=fax_id))
        rows = list(faxes.order_by("created_at", "id")[: limit + 1])
        return list(reversed(rows[:limit])), len(rows) > limit
    faxes = faxes.filter(created_at__lte=at).filter(Q(created_at__lt=at) | Q(id__lt=fax_id))
    rows = list(faxes.order_by("-created_at", "-id")[: limit + 1])
    return rows[:limit], len(rows) > limit


def fax_position(
    *, account: Account, livemode: bool, fax_id: str, before: bool = False
) -> FaxPosition | None:
    """The position of one of the account's faxes in that world, or None."""
    row = (
        faxes_of_account(account=account, livemode=livemode)
        .filter(pk=fax_id)
        .values_list("created_at", flat=True)
        .first()
    )
    return None if row is None else FaxPosition(created_at=row, id=fax_id, before=before)


def faxes_newest_first(*, account: Account, livemode: bool) -> QuerySet[Fax]:
    """The dashboard's list: the account's faxes in one world, newest first."""
    return faxes_of_account(account=account, livemode=livemode).order_by("-created_at", "-id")


def faxes_received_newest_first(*, account: Account, livemode: bool) -> QuerySet[Fax]:
    """The inbox: the account's received faxes in one world, newest first."""
    return faxes_newest_first(account=account, livemode=livemode).filter(
        direction=Direction.INBOUND
    )


def fax_emails(*, fax: Fax) -> QuerySet[FaxEmail]:
    """Who the received fax was emailed to, and how each went."""
    return fax.emails.order_by("id")


def fax_of_member_account(*, account: Account, fax_id: str) -> Fax | None:
    """One of the account's faxes, live or test (the dashboard shows both), or None."""
    return Fax.objects.filter(account=account, pk=fax_id).first()


def fax_history(*, fax: Fax) -> list[FaxEvent]:
    """What happened to the fax, oldest first. A sent fax's first line, its creation, is not
    stored as an event (a send writes only the fax's row) but read from the fax; faxes sent
    before that kept a stored `fax.created` event, which this line replaces."""
    stored = fax.events.order_by("occurred_at", "id")
    if fax.direction != Direction.OUTBOUND:
        return list(stored)
    created = FaxEvent(
        fax=fax,
        source="api" if fax.api_key_id else "dashboard",
        type="fax.created",
        occurred_at=fax.created_at,
    )
    return [created, *stored.exclude(type="fax.created")]


def fax_with_account(*, fax_id: str) -> Fax:
    """The fax as stored now, with its account: two prepared queries by key, which cost the
    pipeline less than the ORM writing out the join of their 70-odd columns for each fax."""
    faxes = select_prepared(Fax, "id = %s", [fax_id])
    if not faxes:
        raise Fax.DoesNotExist(f"No fax {fax_id}")
    fax = faxes[0]
    fax.account = select_prepared(Account, "id = %s", [fax.account_id])[0]
    return fax


def fax_by_carrier_id(*, carrier_fax_id: str) -> Fax | None:
    return Fax.objects.filter(carrier_fax_id=carrier_fax_id).first()


def fax_with_attempts(*, fax_id: str | None) -> Fax | None:
    """The fax with only its finished calls loaded; None when there is no such fax."""
    if not fax_id:
        return None
    return Fax.objects.filter(pk=fax_id).only("attempts").first()


def fax_page_count(*, fax_id: str | None) -> int | None:
    """The fax's page count; None when it is unknown, or there is no such fax."""
    if not fax_id:
        return None
    fax = Fax.objects.filter(pk=fax_id).only("page_count").first()
    return fax.page_count if fax else None


def fax_from_number_default(*, account: Account) -> str | None:
    """The number faxes are sent from when the request names none: the account's first."""
    numbers = fax_number_rows_of_account(account_id=account.pk)
    return numbers[0]["number"] if numbers else None


def fax_from_number_allowed(*, account: Account, number: str) -> bool:
    """Whether `number` is one of the account's numbers, which faxes may be sent from."""
    return any(row["number"] == number for row in fax_number_rows_of_account(account_id=account.pk))


@dataclass(frozen=True)
class DayActivity:
    """One day's faxes in the account's time zone: sent (delivered) and received, with pages."""

    day: date
    sent: int = 0
    sent_pages: int = 0
    received: int = 0
    received_pages: int = 0


@dataclass(frozen=True)
class FaxActivity:
    """The dashboard home's numbers: this month's totals and the last days, oldest first."""

    month: DayActivity  # `day` is the first of the month
    days: list[DayActivity]


ACTIVITY_DAYS = 30


def fax_activity(
    *, account: Account, now: datetime | None = None, days: int = ACTIVITY_DAYS
) -> FaxActivity:
    """Live faxes sent (delivered) and received this month and on each of the last `days`
    days, today included, in the account's time zone: one aggregate query.

    A fax counts on the day it was created (accepted, or the call that brought it began): the
    account's newest-first index serves that range. Pages are those delivered for a sent fax
    and those received for a received one.
    """
    zone = _zone(account.time_zone)
    today = (now or timezone.now()).astimezone(zone).date()
    month_start = today.replace(day=1)
    first_day = min(today - timedelta(days=days - 1), month_start)
    counted = Q(direction=Direction.OUTBOUND, status=FaxStatus.DELIVERED) | Q(
        direction=Direction.INBOUND, status=FaxStatus.RECEIVED
    )
    rows = (
        Fax.objects.filter(
            counted,
            account=account,
            livemode=True,
            created_at__gte=datetime.combine(first_day, time.min, tzinfo=zone),
        )
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "direction")
        .annotate(
            faxes=Count("id"),
            pages=Sum(
                Case(
                    When(direction=Direction.OUTBOUND, then=F("pages_delivered")),
                    default=F("page_count"),
                )
            ),
        )
    )
    totals: dict[date, dict[str, int]] = {}
    for row in rows:
        day = totals.setdefault(row["day"], {})
        kind = "sent" if row["direction"] == Direction.OUTBOUND else "received"
        day[kind] = row["faxes"]
        day[f"{kind}_pages"] = row["pages"] or 0
    shown = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    month = {
        name: sum(values.get(name, 0) for day, values in totals.items() if day >= month_start)
        for name in ("sent", "sent_pages", "received", "received_pages")
    }
    return FaxActivity(
        month=DayActivity(day=month_start, **month),
        days=[DayActivity(day=day, **totals.get(day, {})) for day in shown],
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        return ZoneInfo("UTC")
