"""The audit log itself: append-only through the ORM and (on PostgreSQL) through raw SQL, and
`audit_record`'s guard on what it stores."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import RequestFactory

from audit.models import Action, ActorType, AppendOnlyError, AuditEntry
from audit.services import Actor, audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry() -> AuditEntry:
    return audit_record(
        action=Action.LOGIN, account_id=7, actor=Actor(type=ActorType.MEMBER, label="a@x.test")
    )


def test_it_refuses_to_save_an_existing_entry_again(entry: AuditEntry) -> None:
    entry.action = Action.LOGOUT

    with pytest.raises(AppendOnlyError):
        entry.save()

    assert AuditEntry.objects.get(pk=entry.pk).action == Action.LOGIN


def test_it_refuses_to_delete_an_entry(entry: AuditEntry) -> None:
    with pytest.raises(AppendOnlyError):
        entry.delete()

    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_it_refuses_a_queryset_update(entry: AuditEntry) -> None:
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(actor_label="someone else")

    assert AuditEntry.objects.get(pk=entry.pk).actor_label == "a@x.test"


def test_it_refuses_a_queryset_delete(entry: AuditEntry) -> None:
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()

    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_it_refuses_a_bulk_update(entry: AuditEntry) -> None:
    entry.actor_label = "someone else"

    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.bulk_update([entry], ["actor_label"])


def test_it_refuses_to_overwrite_an_entry_by_inserting_its_id(entry: AuditEntry) -> None:
    forged = AuditEntry(pk=entry.pk, action=Action.LOGOUT, actor_type=ActorType.SYSTEM)

    with pytest.raises(DatabaseError), transaction.atomic():
        forged.save()

    assert AuditEntry.objects.get(pk=entry.pk).action == Action.LOGIN


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditentry SET actor_label = 'someone else' WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
    ],
)
def test_raw_sql_cannot_change_or_delete_an_entry(entry: AuditEntry, sql: str) -> None:
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [entry.pk])

    assert AuditEntry.objects.get(pk=entry.pk).actor_label == "a@x.test"


def test_it_drops_detail_keys_that_name_a_secret() -> None:
    entry = audit_record(
        action=Action.API_KEY_CREATED,
        details={
            "scopes": ["faxes:send"],
            "secret": "s1",
            "password": "p1",
            "api_key": "k1",
            "Token": "t1",
            "document_content": "c1",
            "nested": {"webhook_secret": "s2", "kept": 1},
        },
    )

    assert entry.details == {"scopes": ["faxes:send"], "nested": {"kept": 1}}


def test_it_redacts_values_that_look_like_our_secrets() -> None:
    entry = audit_record(
        action=Action.API_KEY_CREATED,
        details={"note": "sfm_live_abcdef", "other": ["whsec_abc", "fine"]},
    )

    assert entry.details == {"note": "[redacted]", "other": ["[redacted]", "fine"]}


def test_it_caps_the_size_of_details() -> None:
    entry = audit_record(
        action=Action.PLAN_CHANGED, details={f"field{n}": "x" * 190 for n in range(20)}
    )

    assert entry.details == {"truncated": True}


def test_it_refuses_an_unknown_action() -> None:
    with pytest.raises(ValueError, match="Unknown audit action"):
        audit_record(action="fax.teleported")


def test_it_takes_the_address_and_user_agent_from_the_request() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="A" * 1000)

    entry = audit_record(
        action=Action.FAX_CANCELED,
        account_id=1,
        actor_type=ActorType.API_KEY,
        actor_id="key_1",
        actor_label="EHR (sfm_live_abcd…)",
        request=request,
    )

    assert (entry.actor_type, entry.actor_id, entry.ip) == ("api_key", "key_1", "203.0.113.9")
    assert len(entry.user_agent) == 256


def test_without_an_actor_it_is_the_system() -> None:
    assert audit_record(action=Action.RETENTION_CHANGED).actor_type == ActorType.SYSTEM
