"""Reading the audit log: one account's entries, filtered, in keyset pages, or all for export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.models import AuditEntry

PAGE_SIZE = 50
EXPORT_CHUNK = 2000


@dataclass(frozen=True)
class AuditFilters:
    """What the Security page narrows the log to. Dates are whole days, both included."""

    actor: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last entry's time and id (the page order is newest first)."""

    occurred_at: datetime
    id: int

    def encode(self) -> str:
        return f"{self.occurred_at.isoformat()}_{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """ValueError if `text` is not a cursor this module wrote."""
        moment, _, entry_id = text.rpartition("_")
        occurred_at = datetime.fromisoformat(moment)
        if occurred_at.tzinfo is None:
            raise ValueError("A cursor's time has a zone.")
        return cls(occurred_at=occurred_at, id=int(entry_id))


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: Cursor | None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def audit_entries_for_account(*, account_id: int, filters: AuditFilters) -> QuerySet[AuditEntry]:
    """The account's entries that match `filters`, newest first. Never another account's."""
    entries = AuditEntry.objects.filter(account_id=account_id)
    if filters.actor:
        entries = entries.filter(actor_label__icontains=filters.actor)
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.since:
        entries = entries.filter(occurred_at__gte=_day_start(filters.since))
    if filters.until:
        entries = entries.filter(occurred_at__lt=_day_start(filters.until + timedelta(days=1)))
    return entries.order_by("-occurred_at", "-id")


def audit_page_for_account(
    *,
    account_id: int,
    filters: AuditFilters,
    after: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> AuditPage:
    """One page of entries older than `after` (the newest page without it), in one query."""
    entries = audit_entries_for_account(account_id=account_id, filters=filters)
    if after is not None:
        entries = entries.filter(
            Q(occurred_at__lt=after.occurred_at) | Q(occurred_at=after.occurred_at, id__lt=after.id)
        )
    rows = list(entries[: size + 1])
    if len(rows) <= size:
        return AuditPage(entries=rows, next_cursor=None)
    last = rows[size - 1]
    return AuditPage(entries=rows[:size], next_cursor=Cursor(last.occurred_at, last.id))


def audit_entries_for_export(*, account_id: int, filters: AuditFilters) -> Iterator[AuditEntry]:
    """Every matching entry of the account, oldest first, read in chunks (a server-side cursor
    on PostgreSQL) so that a long range is streamed rather than held in memory."""
    entries = audit_entries_for_account(account_id=account_id, filters=filters)
    return entries.order_by("occurred_at", "id").iterator(chunk_size=EXPORT_CHUNK)
