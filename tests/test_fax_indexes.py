"""Every index of faxes_fax and faxes_faxevent is written by every send and every status change:
each one there is listed here, with what it serves (faxes/migrations/0011)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils.timezone import now

from accounts.models import Account
from faxes.models import Fax, FaxEvent
from tests.factories import FaxFactory

pytestmark = pytest.mark.django_db


def event(fax: Fax, carrier_event_id: str | None) -> FaxEvent:
    return FaxEvent.objects.create(
        fax=fax, source="carrier", type="x", carrier_event_id=carrier_event_id, occurred_at=now()
    )


def indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


def test_the_fax_table_has_only_the_indexes_its_queries_use() -> None:
    found = indexes("faxes_fax")

    assert sorted(found) == [
        "fax_account_newest",  # listings; the account's faxes
        "fax_api_key",  # ON DELETE SET NULL of a key, only faxes that have one
        "fax_carrier_fax_id_unique",  # the carrier's webhooks, once submitted
        "fax_document_kept",  # the retention purge
        "fax_resent_from",  # ON DELETE SET NULL, only resends
        "fax_scheduled_due",  # the release of scheduled faxes
        "fax_unfinished",  # the sweeper and the queue gauges
        "faxes_fax_pkey",
    ]
    assert not [name for name, definition in found.items() if "pattern_ops" in definition]


def test_the_event_table_has_only_the_indexes_its_queries_use() -> None:
    assert sorted(indexes("faxes_faxevent")) == [
        "faxes_faxev_fax_id_d9db59_idx",  # a fax's history
        "faxes_faxevent_pkey",
        "faxevent_carrier_event_id_unique",  # a carrier event is recorded once
    ]


def test_a_carrier_id_is_still_unique(account: Account) -> None:
    first = FaxFactory(account=account, carrier_fax_id="carrier-1")
    second = FaxFactory(account=account)
    event(first, "event-1")
    event(first, None), event(second, None)  # many without one

    second.carrier_fax_id = "carrier-1"
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save(update_fields=["carrier_fax_id"])
    with pytest.raises(IntegrityError), transaction.atomic():
        event(second, "event-1")
