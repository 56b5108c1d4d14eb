"""The retention purge: documents deleted from storage once their account's retention has run
out after the fax finished; the fax keeps its metadata."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Account
from audit.models import Action, AuditEntry
from faxes.models import Fax, FaxStatus
from faxes.services import documents
from faxes.services.status import fax_advance
from faxes.tasks import documents_purge_task

pytestmark = pytest.mark.django_db


def finished(fax: Fax, status: FaxStatus = FaxStatus.DELIVERED) -> Fax:
    """The fax, finished now (its `completed_at`), as the carrier's events would leave it."""
    fax_advance(fax=fax, status=status, source="test")
    fax.refresh_from_db()
    return fax


def set_retention(account: Account, days: int) -> None:
    Account.objects.filter(pk=account.pk).update(document_retention_days=days)


def later(**delta: float) -> time_machine.travel:
    return time_machine.travel(timezone.now() + timedelta(**delta), tick=False)


def test_a_document_is_kept_until_its_retention_runs_out(accepted_fax: Callable) -> None:
    fax = finished(accepted_fax())
    name = fax.document.name

    with later(days=29, hours=23):
        assert documents.documents_purge_due() == 0
    assert default_storage.exists(name)


def test_it_purges_a_document_past_retention_and_keeps_the_fax(accepted_fax: Callable) -> None:
    fax = finished(accepted_fax())
    name, sha256, size = fax.document.name, fax.document_sha256, fax.document_size_bytes

    with later(days=30, minutes=1):
        assert documents.documents_purge_due() == 1
        now = timezone.now()

    assert not default_storage.exists(name)
    fax.refresh_from_db()
    assert fax.document_purged_at == now
    assert (fax.status, fax.document_sha256, fax.document_size_bytes) == (
        FaxStatus.DELIVERED,
        sha256,
        size,
    )
    assert (fax.page_count, fax.document_content_type) == (3, "application/pdf")
    assert fax.events.filter(type="document.purged", source="retention").count() == 1


def test_retention_counts_from_completion_not_creation(accepted_fax: Callable) -> None:
    fax = accepted_fax()
    with later(days=20):
        finished(fax)
    with later(days=40):
        assert documents.documents_purge_due() == 0
    with later(days=50, minutes=1):
        assert documents.documents_purge_due() == 1


def test_zero_days_purges_right_after_completion(account: Account, accepted_fax: Callable) -> None:
    set_retention(account, 0)
    fax = finished(accepted_fax(), FaxStatus.FAILED)

    documents_purge_task()

    fax.refresh_from_db()
    assert fax.document_purged_at is not None
    assert not fax.document


@pytest.mark.parametrize("status", [FaxStatus.QUEUED, FaxStatus.SUBMITTING, FaxStatus.SENDING])
def test_a_fax_in_progress_is_never_purged(
    account: Account, accepted_fax: Callable, status: FaxStatus
) -> None:
    set_retention(account, 0)
    fax = accepted_fax()
    # Finished long ago on paper, but still in progress: a status is what counts.
    Fax.objects.filter(pk=fax.pk).update(
        status=status, completed_at=timezone.now() - timedelta(days=400)
    )

    assert documents.documents_purge_due() == 0
    assert default_storage.exists(fax.document.name)


def test_it_purges_in_batches_and_a_second_run_does_nothing(
    account: Account, accepted_fax: Callable
) -> None:
    set_retention(account, 0)
    faxes = [finished(accepted_fax()) for _ in range(5)]

    assert documents.documents_purge_due(batch=2) == 5
    assert documents.documents_purge_due(batch=2) == 0
    assert all(not default_storage.exists(fax.document.name) for fax in faxes)
    assert Fax.objects.filter(document_purged_at__isnull=True).count() == 0


def test_a_run_stops_at_its_limit_and_the_next_goes_on(
    account: Account, accepted_fax: Callable
) -> None:
    set_retention(account, 0)
    for _ in range(3):
        finished(accepted_fax())

    assert documents.documents_purge_due(batch=1, limit=2) == 2
    assert documents.documents_purge_due(batch=1, limit=2) == 1


def test_each_account_has_its_own_retention(
    account: Account, other_account: Account, accepted_fax: Callable
) -> None:
    from tests.factories import FaxFactory

    set_retention(account, 7)
    kept = FaxFactory(account=other_account, status=FaxStatus.DELIVERED)
    Fax.objects.filter(pk=kept.pk).update(completed_at=timezone.now())
    fax = finished(accepted_fax())

    with later(days=8):
        assert documents.documents_purge_due() == 1

    kept.refresh_from_db()
    fax.refresh_from_db()
    assert fax.document_purged_at is not None
    assert kept.document_purged_at is None


def test_a_purge_interrupted_before_marking_the_fax_deletes_again(
    account: Account, accepted_fax: Callable
) -> None:
    set_retention(account, 0)
    fax = finished(accepted_fax())
    # The object was deleted, then the worker died before the fax was marked.
    default_storage.delete(fax.document.name)

    assert documents.documents_purge_due() == 1
    fax.refresh_from_db()
    assert fax.document_purged_at is not None


# --- On S3 (SeaweedFS) ---------------------------------------------------------------------


@pytest.fixture
def documents_on_s3(settings, s3_backend: dict) -> dict:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "sendfaxmail.lib.storage.EncryptedStorage",
            "OPTIONS": {"inner": s3_backend},
        },
    }
    return s3_backend


def test_on_s3_the_purged_object_is_gone_from_the_bucket(
    account: Account, accepted_fax: Callable, documents_on_s3: dict, seaweed
) -> None:
    from botocore.exceptions import ClientError

    set_retention(account, 1)
    fax = accepted_fax()
    # Finished a day ago (S3 refuses requests signed at a travelled time, so the clock moves
    # back for the completion instead of forward for the purge).
    with later(days=-1, seconds=-1):
        finished(fax)
    options = documents_on_s3["OPTIONS"]
    key = f"{options['location']}/{fax.document.name}"
    client = seaweed.client()
    assert client.head_object(Bucket=options["bucket_name"], Key=key)["ContentLength"] > 0

    assert documents.documents_purge_due() == 1

    with pytest.raises(ClientError) as missing:
        client.head_object(Bucket=options["bucket_name"], Key=key)
    assert missing.value.response["Error"]["Code"] in ("404", "NoSuchKey")
    fax.refresh_from_db()
    assert fax.document_purged_at is not None
    assert fax.document_sha256


# --- Changing the retention ----------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_command_sets_the_retention_and_audits_it(account: Account) -> None:
    output = run("set_document_retention", account.owner.email.upper(), "90")

    account.refresh_from_db()
    assert account.document_retention_days == 90
    assert "90 day(s)" in output
    [entry] = AuditEntry.objects.filter(action=Action.RETENTION_CHANGED)
    assert (entry.account_id, entry.actor_type) == (account.pk, "system")
    assert entry.actor_label == "manage.py set_document_retention"
    assert entry.details == {"from": 30, "to": 90}


def test_the_command_refuses_an_unknown_email(account: Account) -> None:
    with pytest.raises(CommandError, match="No user with the email"):
        run("set_document_retention", "nobody@example.com", "10")


@pytest.mark.parametrize("days", ["366", "-1", "ten", "1.5"])
def test_the_command_refuses_days_out_of_range(account: Account, days: str) -> None:
    with pytest.raises(CommandError, match=r"from 0 to 365|0 to 365 days"):
        run("set_document_retention", account.owner.email, days)

    account.refresh_from_db()
    assert account.document_retention_days == 30
    assert not AuditEntry.objects.filter(action=Action.RETENTION_CHANGED).exists()


def test_the_new_account_keeps_documents_30_days(account: Account) -> None:
    assert Account.objects.get(pk=account.pk).document_retention_days == 30


# --- Received faxes --------------------------------------------------------------------------


def test_a_received_fax_is_purged_and_its_pages_are_no_longer_shown(
    account: Account, owner_client, pipeline
) -> None:
    from faxes.services import inbound
    from tests import documents as test_documents

    set_retention(account, 0)
    fax = inbound.inbound_fax_simulate(
        number=account.fax_numbers.get().number,
        from_="+15551230000",
        document=test_documents.pdf_bytes(pages=2),
        livemode=True,
    )
    name = fax.document.name

    assert documents.documents_purge_due() == 1

    assert not default_storage.exists(name)
    assert owner_client.get(f"/dashboard/faxes/{fax.pk}/pages/1.png").status_code == 404
    assert "/pages/1.png" not in owner_client.get(f"/dashboard/faxes/{fax.pk}").content.decode()
