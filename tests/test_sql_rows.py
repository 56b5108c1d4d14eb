"""select_prepared, update_returning and model_from_values (sendfaxmail/lib/sql.py): rows read by
written-out SQL and rows an UPDATE hands back, each as the ORM reads them, in one statement;
instances built from some of a row's values, the rest deferred; and the status
changes built on them, whose customer events carry the row as it is, not as the caller last
read it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account
from developers.models import WebhookEvent
from faxes.models import Fax, FaxStatus
from faxes.services.status import fax_advance
from sendfaxmail.lib.sql import (
    model_from_values,
    refresh_from,
    select_prepared,
    update_returning,
)
from tests.factories import AccountFactory, FaxFactory, endpoint_for_every_event

pytestmark = pytest.mark.django_db


def fields_of(fax: Fax) -> dict[str, object]:
    return {field.attname: getattr(fax, field.attname) for field in Fax._meta.concrete_fields}


def test_the_changed_rows_come_back_as_a_query_reads_them(account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.QUEUED)
    FaxFactory(account=account, status=FaxStatus.DELIVERED)
    now = timezone.now()

    changed = update_returning(
        Fax.objects.filter(account=account, status=FaxStatus.QUEUED),
        status=FaxStatus.SENDING,
        attempts=[{"number": 1, "status": "failed"}],
        next_attempt_at=now + timedelta(minutes=5),
        updated_at=now,
    )

    assert len(changed) == 1
    assert fields_of(changed[0]) == fields_of(Fax.objects.get(pk=fax.pk))
    assert changed[0].attempts == [{"number": 1, "status": "failed"}]
    assert changed[0].next_attempt_at == now + timedelta(minutes=5)
    assert changed[0]._state.adding is False


def test_select_prepared_reads_every_field_as_the_orm_does(account: Account) -> None:
    fax = FaxFactory(
        account=account,
        attempts=[{"number": 1, "status": "failed"}],
        cover_page={"subject": "Hello"},
        send_at=timezone.now() + timedelta(hours=1),
    )
    FaxFactory(account=account)

    with CaptureQueriesContext(connection) as queries:
        rows = select_prepared(Fax, "id = %s", [fax.pk])

    assert [fields_of(row) for row in rows] == [fields_of(Fax.objects.get(pk=fax.pk))]
    assert rows[0].attempts == [{"number": 1, "status": "failed"}]
    assert rows[0].cover_page == {"subject": "Hello"}
    assert len(queries) == 1
    assert select_prepared(Fax, "id = %s", ["fax_none"]) == []


def test_select_prepared_locks_the_rows_with_lock(account: Account) -> None:
    fax = FaxFactory(account=account)

    with CaptureQueriesContext(connection) as queries:
        select_prepared(Fax, "id = %s", [fax.pk], lock=True)

    assert queries[0]["sql"].endswith(" FOR UPDATE")


def test_nothing_matched_changes_nothing_and_returns_nothing(account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.DELIVERED)

    changed = update_returning(
        Fax.objects.filter(pk=fax.pk, status=FaxStatus.QUEUED), status=FaxStatus.SENDING
    )

    assert changed == []
    assert Fax.objects.get(pk=fax.pk).status == FaxStatus.DELIVERED


def test_it_is_one_statement(account: Account) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.QUEUED)

    with CaptureQueriesContext(connection) as queries:
        update_returning(Fax.objects.filter(pk=fax.pk), status=FaxStatus.SENDING)

    assert len(queries) == 1
    assert queries[0]["sql"].startswith('UPDATE "faxes_fax"')
    assert " RETURNING " in queries[0]["sql"]


def test_refresh_from_keeps_a_cached_relation_only_while_its_key_is_the_same(
    account: Account,
) -> None:
    fax = Fax.objects.select_related("account").get(pk=FaxFactory(account=account).pk)
    same = Fax.objects.get(pk=fax.pk)
    same.status = FaxStatus.SENDING

    refresh_from(fax, same)

    assert fax.status == FaxStatus.SENDING
    with CaptureQueriesContext(connection) as queries:
        assert fax.account == account
    assert len(queries) == 0

    other = AccountFactory()
    moved = Fax.objects.get(pk=fax.pk)
    moved.account_id = other.pk
    refresh_from(fax, moved)

    assert fax.account == other


def test_a_status_event_shows_what_changed_after_the_caller_read_the_fax(
    account: Account,
) -> None:
    endpoint_for_every_event(account)
    fax = FaxFactory(account=account, status=FaxStatus.SUBMITTING)
    read_by_the_worker = Fax.objects.get(pk=fax.pk)
    # The customer asks for a cancel while the worker holds its stale copy.
    asked = timezone.now()
    Fax.objects.filter(pk=fax.pk).update(cancel_requested_at=asked)

    assert fax_advance(fax=read_by_the_worker, status=FaxStatus.SENDING, source="pipeline")

    event = WebhookEvent.objects.get(object_id=fax.pk, type="fax.sending")
    assert event.body["data"]["object"]["cancel_requested_at"] is not None
    assert read_by_the_worker.cancel_requested_at == asked
    assert read_by_the_worker.status == FaxStatus.SENDING


def test_model_from_values_fills_the_named_fields_and_defers_the_rest(account: Account) -> None:
    Account.objects.filter(pk=account.pk).update(time_zone="Europe/Berlin")  # not the default
    # Not in the model's order: each value goes to the field it is named for.
    built = model_from_values(Account, ["name", "id"], ["Read by hand", account.pk])

    assert (built.pk, built.name) == (account.pk, "Read by hand")
    assert not built._state.adding
    assert "time_zone" in built.get_deferred_fields()
    with CaptureQueriesContext(connection) as queries:
        time_zone = built.time_zone  # read from the row, not a default

    assert time_zone == "Europe/Berlin"
    assert len(queries) == 1
