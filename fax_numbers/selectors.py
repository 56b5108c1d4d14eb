"""Reads of fax numbers, for this app's API and for the apps above it (faxes, the dashboard)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet

from accounts.models import Account
from fax_numbers.models import FaxNumber
from sendfaxmail.lib.sql import fetch_all


def fax_numbers_of_account(*, account: Account) -> QuerySet[FaxNumber]:
    """The account's fax numbers, oldest first (the first is the default `from`)."""
    return FaxNumber.objects.filter(account=account).order_by("created_at", "id")


def fax_number_by_number(*, number: str) -> FaxNumber | None:
    """The fax number `number` (E.164, as stored), whoever holds it; None if nobody does."""
    if not number:
        return None
    return FaxNumber.objects.filter(number=number).first()


# The same read, written out, for the hot paths (GET /v1/numbers, every send's `from`): compiling
# the ORM query on every request cost about three times what running it does. Prepared.
NUMBERS_SQL = """
SELECT id, number, label, created_at
  FROM numbers_faxnumber
 WHERE account_id = %s
 ORDER BY created_at, id
"""


def fax_number_rows_of_account(*, account_id: int) -> list[dict[str, Any]]:
    """`fax_numbers_of_account` as plain rows `{"id", "number", "label", "created_at"}`, oldest
    first, by one written-out query."""
    rows = fetch_all(NUMBERS_SQL, [account_id])
    return [
        {"id": number_id, "number": number, "label": label, "created_at": _aware(created_at)}
        for number_id, number, label, created_at in rows
    ]


def _aware(moment: datetime) -> datetime:
    """Stored times are UTC; SQLite returns them without a zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
