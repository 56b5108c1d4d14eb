"""Every index of developers_webhookevent and developers_webhookdelivery is written by every
customer event, and a delivery's are written again at each claim and attempt: each one there
is listed here, with what it serves (developers/migrations/0005)."""

from __future__ import annotations

import pytest
from django.db import connection

from developers.services import webhook_deliveries
from tests.test_fax_indexes import indexes

pytestmark = pytest.mark.django_db


def test_the_event_table_has_only_the_indexes_its_queries_use() -> None:
    found = indexes("developers_webhookevent")

    assert sorted(found) == [
        "developers_webhookevent_account_id_5def22eb",  # the account's events; its deletion
        "developers_webhookevent_object_id_07a96699",  # the events of a fax (its page, resends)
        "developers_webhookevent_pkey",
    ]
    assert not [name for name, definition in found.items() if "pattern_ops" in definition]


def test_the_delivery_table_has_only_the_indexes_its_queries_use() -> None:
    found = indexes("developers_webhookdelivery")

    assert sorted(found) == [
        "delivery_due",  # the claims: pending deliveries by due time
        "delivery_leased",  # the claims: the few in flight, per endpoint
        "developers__endpoin_11abf9_idx",  # an endpoint's deliveries, newest first; its deletion
        "developers_webhookdelivery_event_id_9b4c46a0",  # an event's deliveries; its deletion
        "developers_webhookdelivery_pkey",
    ]
    assert not [name for name, definition in found.items() if "pattern_ops" in definition]


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        (webhook_deliveries.HEADS_SQL, "delivery_due"),
        (webhook_deliveries.IN_FLIGHT_SQL, "delivery_due"),
    ],
    ids=["heads", "in-flight"],
)
def test_the_claims_prepared_reads_can_use_their_partial_index(sql: str, index: str) -> None:
    """A prepared statement runs on a generic plan, which uses a partial index only when the
    text itself matches the index's condition (a status passed as a parameter does not)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")
        parameters = ", ".join(["timestamptz"] * sql.count("%s"))
        cursor.execute(f"PREPARE claim_read ({parameters}) AS {sql.replace('%s', '$1')}")
        try:
            arguments = ", ".join(["now()"] * sql.count("%s"))
            cursor.execute(f"EXPLAIN EXECUTE claim_read ({arguments})")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE claim_read")

    assert index in plan
    assert "Seq Scan on developers_webhookdelivery" not in plan
