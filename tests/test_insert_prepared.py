"""insert_prepared (sendfaxmail/lib/sql.py) writes a send's fax row as the ORM's save would: the
same values, the auto_now fields, the signals; on PostgreSQL as a prepared statement, and on
SQLite (`make run`) as a plain one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account
from faxes.models import Fax, FaxEvent, FaxStatus
from sendfaxmail.lib.sql import insert_prepared, insert_row, insert_unless_duplicate
from tests.processes import run_script

pytestmark = pytest.mark.django_db


def a_fax(account: Account) -> Fax:
    """A fax with a value in every kind of column: text, JSON, times, numbers, a file name."""
    return Fax(
        account=account,
        to_number="+15551234567",
        from_number=account.fax_numbers.get().number,
        status=FaxStatus.SCHEDULED,
        client_reference="ref-1",
        send_at=timezone.now() + timedelta(hours=1),
        enqueued_at=timezone.now(),
        retry_attempts=2,
        retry_interval_seconds=600,
        document="faxes/one.pdf",
        document_size_bytes=1234,
        page_count=3,
        cover_page={"subject": "Hello", "message": "Line one\nLine two"},
        document_parts=[{"url": "https://example.com/a.pdf"}],
        attempts=[{"number": 1, "status": "failed"}],
        header_text="ACME Clinic",
    )


def stored(fax: Fax) -> dict:
    row = Fax.objects.filter(pk=fax.pk).values().get()
    return {name: row[name] for name in sorted(row)}


def test_the_row_is_the_one_save_writes(account: Account) -> None:
    prepared, saved = a_fax(account), a_fax(account)
    saved.send_at, saved.enqueued_at = prepared.send_at, prepared.enqueued_at

    insert_prepared(prepared)
    saved.save(force_insert=True)

    ours, django = stored(prepared), stored(saved)
    for row in (ours, django):
        row.pop("id")
        # Each auto_now field reads the clock in its pre_save, as in save().
        assert row.pop("updated_at") - row.pop("created_at") < timedelta(seconds=1)
    assert ours == django
    assert prepared.created_at is not None  # auto_now_add set on the instance, as save() does
    assert not prepared._state.adding


def test_it_sends_the_save_signals(account: Account) -> None:
    sent = []

    def receiver(sender: type, instance: Fax, created: bool, **kwargs: object) -> None:
        sent.append((instance.pk, kwargs["update_fields"], created))

    post_save.connect(receiver, sender=Fax)
    try:
        fax = a_fax(account)
        insert_prepared(fax)
    finally:
        post_save.disconnect(receiver, sender=Fax)

    assert sent == [(fax.pk, None, True)]


def test_it_is_one_statement(account: Account) -> None:
    fax = a_fax(account)
    with CaptureQueriesContext(connection) as captured:
        insert_prepared(fax)

    assert [query["sql"].split()[:3] for query in captured.captured_queries] == [
        ["INSERT", "INTO", '"faxes_fax"']
    ]


def test_a_model_with_a_value_the_database_makes_is_refused(account: Account) -> None:
    with pytest.raises(TypeError, match="id"):
        insert_prepared(FaxEvent(fax=a_fax(account), source="api", type="x"))


SQLITE_SEND = """
import json
import django

django.setup()
from celery.app.base import Celery
from django.core.management import call_command

call_command("migrate", verbosity=0)
Celery.send_task = lambda self, name, *args, **kwargs: None

from faxes.models import Fax
from faxes.services.intake import FaxRequest, InlineDocument, fax_accept
from tests import documents
from tests.factories import AccountFactory

account = AccountFactory(plan_slug="business", with_number=True)
accepted = fax_accept(
    account=account, api_key=None, livemode=True, idempotency_key=None, fingerprint="f",
    request=FaxRequest(
        to="+15551234567", from_number=None, client_reference="sqlite",
        document=InlineDocument(documents.b64(documents.pdf_bytes()), "application/pdf"),
        document_url=None,
    ),
)
fax = Fax.objects.get(pk=accepted.fax_id)
from django.utils import timezone
from faxes.models import FaxEvent
from sendfaxmail.lib.sql import insert_unless_duplicate
once = [
    insert_unless_duplicate(
        FaxEvent(fax=fax, source="carrier", type="x", carrier_event_id="e-1",
                 occurred_at=timezone.now(), payload={"a": 1}),
        unique="carrier_event_id",
    )
    for _ in range(2)
]
from faxes.services.status import fax_advance
advanced = fax_advance(fax=fax, status="sending", source="pipeline", attempts=[{"number": 1}])
print(json.dumps([fax.client_reference, fax.page_count, fax.status, fax.created_at is not None,
                  once, fax.events.get(carrier_event_id="e-1").payload, advanced, fax.attempts,
                  fax.updated_at.tzinfo is not None]))
"""


def test_a_send_a_carrier_event_and_a_status_change_are_stored_on_sqlite(tmp_path: Path) -> None:
    found = run_script(
        SQLITE_SEND,
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "DOCUMENT_ROOT": str(tmp_path / "documents"),
        },
    )

    assert found == [
        "sqlite",
        1,
        "sending",
        True,
        [True, False],
        {"a": 1},
        True,
        [{"number": 1}],
        True,
    ]


def test_a_duplicate_is_not_inserted_and_says_so(account: Account) -> None:
    fax = a_fax(account)
    insert_prepared(fax)

    def carrier_event(event_id: str | None) -> FaxEvent:
        return FaxEvent(
            fax=fax,
            source="carrier",
            type="x",
            carrier_event_id=event_id,
            occurred_at=timezone.now(),
        )

    assert insert_unless_duplicate(carrier_event("event-1"), unique="carrier_event_id")
    assert not insert_unless_duplicate(carrier_event("event-1"), unique="carrier_event_id")
    assert insert_unless_duplicate(carrier_event(None), unique="carrier_event_id")
    assert insert_unless_duplicate(carrier_event(None), unique="carrier_event_id")
    assert list(fax.events.values_list("carrier_event_id", flat=True).order_by("id")) == [
        "event-1",
        None,
        None,
    ]


def test_insert_row_writes_a_history_line_whose_key_the_database_makes(account: Account) -> None:
    fax = a_fax(account)
    insert_prepared(fax)
    line = FaxEvent(fax=fax, source="pipeline", type="status.sending", occurred_at=timezone.now())

    with CaptureQueriesContext(connection) as queries:
        insert_row(line)
        insert_row(FaxEvent(fax=fax, source="pipeline", type="x", occurred_at=timezone.now()))

    assert len(queries) == 2
    assert line.pk is None
    stored = list(fax.events.order_by("id").values_list("type", "payload"))
    assert stored == [("status.sending", {}), ("x", {})]
