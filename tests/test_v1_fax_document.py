"""GET and DELETE /v1/faxes/{id}/document: download the PDF, delete it now."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.storage import default_storage

from accounts.models import Account
from audit.models import Action, AuditEntry
from developers.models import Scope
from faxes.documents.compose import stamp_header
from faxes.models import DocumentSource, Fax, FaxStatus
from faxes.services.compose import fax_header_text
from faxes.services.status import fax_advance
from tests import documents
from tests.conftest import ApiClient, make_key
from tests.factories import FaxFactory

pytestmark = pytest.mark.django_db


def finished(fax: Fax, status: FaxStatus = FaxStatus.DELIVERED) -> Fax:
    fax_advance(fax=fax, status=status, source="test")
    fax.refresh_from_db()
    return fax


def url(fax: Fax | str) -> str:
    return f"/v1/faxes/{getattr(fax, 'pk', fax)}/document"


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def the_pdf(fax: Fax) -> bytes:
    with fax.document.open("rb") as document:
        return document.read()


NOW = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[None]:
    """The clock stopped, so that a header stamped "now" is stamped with one time."""
    with time_machine.travel(NOW, tick=False):
        yield


def as_faxed(fax: Fax) -> bytes:
    """The stored document with the header line a submission now would stamp."""
    return stamp_header(the_pdf(fax), text=fax_header_text(fax, sent_at=NOW))


# --- GET ------------------------------------------------------------------------------------


def test_it_downloads_the_pdf(api_client: ApiClient, accepted_fax: Callable, frozen: None) -> None:
    fax = accepted_fax()

    response = api_client.get(url(fax))

    assert response.status_code == 200
    content = body_of(response)
    assert content.startswith(b"%PDF")
    assert content == as_faxed(fax)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(content))
    assert response["Content-Disposition"] == f'attachment; filename="{fax.pk}.pdf"'
    assert response["Cache-Control"] == "no-store"


def test_it_streams_the_document(api_client: ApiClient, accepted_fax: Callable) -> None:
    response = api_client.get(url(accepted_fax()))

    assert response.streaming


def test_it_answers_a_client_that_accepts_only_pdf(
    api_client: ApiClient, accepted_fax: Callable
) -> None:
    response = api_client.get(url(accepted_fax()), HTTP_ACCEPT="application/pdf")

    assert response.status_code == 200
    assert body_of(response).startswith(b"%PDF")


def test_a_download_is_audited_with_the_key_and_address(
    api_client: ApiClient, api_key, account: Account, accepted_fax: Callable
) -> None:
    fax = accepted_fax()

    body_of(api_client.get(url(fax), REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="ehr/1.0"))

    [entry] = AuditEntry.objects.filter(action=Action.DOCUMENT_DOWNLOADED)
    assert (entry.account_id, entry.actor_type, entry.actor_id) == (
        account.pk,
        "api_key",
        str(api_key[0].pk),
    )
    assert entry.actor_label == str(api_key[0])
    assert (entry.ip, entry.user_agent) == ("203.0.113.9", "ehr/1.0")
    assert (entry.target_type, entry.target_id) == ("fax", fax.pk)
    assert entry.details == {"via": "api", "livemode": True}


def test_after_a_purge_it_is_410(api_client: ApiClient, accepted_fax: Callable) -> None:
    fax = finished(accepted_fax())
    api_client.delete(url(fax))

    response = api_client.get(url(fax))

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "document_purged"
    assert not AuditEntry.objects.filter(action=Action.DOCUMENT_DOWNLOADED).exists()


def test_an_accounts_downloads_past_its_budget_are_429_with_retry_after(
    api_client: ApiClient, accepted_fax: Callable, settings
) -> None:
    settings.DOCUMENT_DOWNLOAD_RATE = "2/m"
    fax = accepted_fax()
    other_key = ApiClient(make_key(fax.account)[1])

    assert [api_client.get(url(fax)).status_code for _ in range(2)] == [200, 200]
    response = other_key.get(url(fax))

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert "DOCUMENT_DOWNLOAD_RATE" in response.json()["error"]["message"]
    assert 1 <= int(response["Retry-After"]) <= 60


def test_another_accounts_downloads_do_not_spend_this_ones(
    api_client: ApiClient, accepted_fax: Callable, other_account: Account, settings
) -> None:
    settings.DOCUMENT_DOWNLOAD_RATE = "1/m"
    theirs = FaxFactory(account=other_account, status=FaxStatus.DELIVERED)
    ApiClient(make_key(other_account)[1]).get(url(theirs))

    assert api_client.get(url(accepted_fax())).status_code == 200


def test_another_accounts_fax_is_404(api_client: ApiClient, other_account: Account) -> None:
    fax = FaxFactory(account=other_account, status=FaxStatus.DELIVERED)

    for method in ("get", "delete"):
        response = getattr(api_client, method)(url(fax))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_a_fax_of_the_other_world_is_404(account: Account, accepted_fax: Callable) -> None:
    fax = accepted_fax()
    test_client = ApiClient(make_key(account, livemode=False)[1])

    assert test_client.get(url(fax)).status_code == 404
    assert test_client.delete(url(fax)).status_code == 404


def test_an_unknown_fax_is_404(api_client: ApiClient) -> None:
    response = api_client.get(url("fax_doesnotexist"))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_url_document_not_fetched_yet_is_409(api_client: ApiClient, account: Account) -> None:
    fax = FaxFactory(account=account, document_source=DocumentSource.URL)

    response = api_client.get(url(fax))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "document_not_ready"


def test_a_fax_that_failed_before_its_fetch_has_no_document(
    api_client: ApiClient, account: Account
) -> None:
    fax = finished(FaxFactory(account=account, document_source=DocumentSource.URL))

    response = api_client.get(url(fax))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_altered_document_is_410_unreadable_not_500(
    api_client: ApiClient, accepted_fax: Callable, caplog
) -> None:
    fax = accepted_fax()
    documents.alter_last_byte(fax.document.path)

    response = api_client.get(url(fax))

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "document_unreadable"
    assert "cannot be decrypted" in caplog.text


def test_a_storage_outage_is_503_with_retry_after(
    api_client: ApiClient, accepted_fax: Callable, monkeypatch
) -> None:
    from botocore.exceptions import EndpointConnectionError

    from sendfaxmail.lib.storage import EncryptedStorage

    def unreachable(self, name):
        raise EndpointConnectionError(endpoint_url="http://s3.invalid")

    fax = accepted_fax()
    monkeypatch.setattr(EncryptedStorage, "open_plaintext", unreachable)

    response = api_client.get(url(fax))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "document_unavailable"
    assert response["Retry-After"] == "30"


def test_downloading_needs_the_read_scope(account: Account, accepted_fax: Callable) -> None:
    fax = accepted_fax()
    client = ApiClient(make_key(account, scopes=[Scope.FAXES_SEND])[1])

    response = client.get(url(fax))

    assert response.status_code == 403
    assert "faxes:read" in response.json()["error"]["message"]


@pytest.mark.parametrize("method", ["get", "delete"])
def test_it_needs_a_key(account: Account, method: str) -> None:
    fax = FaxFactory(account=account)

    for client in (ApiClient(), ApiClient("sfm_live_notarealkey")):
        response = getattr(client, method)(url(fax))
        assert response.status_code == 401
        assert response.json()["error"]["code"] in ("authentication_required", "invalid_api_key")


@pytest.mark.parametrize("method", ["post", "put", "patch", "head"])
def test_other_methods_are_405(api_client: ApiClient, account: Account, method: str) -> None:
    fax = FaxFactory(account=account)

    response = getattr(api_client, method)(url(fax))

    assert response.status_code == 405
    assert not AuditEntry.objects.filter(action=Action.DOCUMENT_DOWNLOADED).exists()


def test_a_starter_plan_is_refused(starter_account: Account) -> None:
    fax = FaxFactory(account=starter_account)
    client = ApiClient(make_key(starter_account)[1])

    response = client.get(url(fax))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "plan_upgrade_required"


# --- DELETE ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [FaxStatus.DELIVERED, FaxStatus.FAILED, FaxStatus.CANCELED])
def test_it_deletes_the_document_of_a_finished_fax(
    api_client: ApiClient, accepted_fax: Callable, status: FaxStatus
) -> None:
    fax = finished(accepted_fax(), status)
    name = fax.document.name

    response = api_client.delete(url(fax))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == fax.pk
    assert body["status"] == status
    assert body["document"]["purged_at"] is not None
    assert body["document"]["size_bytes"] == fax.document_size_bytes
    assert not default_storage.exists(name)
    fax.refresh_from_db()
    assert fax.document_purged_at is not None
    assert api_client.get(f"/v1/faxes/{fax.pk}").json()["document"] == body["document"]


def test_deleting_twice_answers_the_same(api_client: ApiClient, accepted_fax: Callable) -> None:
    fax = finished(accepted_fax())

    first = api_client.delete(url(fax))
    second = api_client.delete(url(fax))

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == second.json()
    assert fax.events.filter(type="document.purged").count() == 1


@pytest.mark.parametrize("status", [FaxStatus.QUEUED, FaxStatus.SUBMITTING, FaxStatus.SENDING])
def test_a_fax_in_progress_keeps_its_document(
    api_client: ApiClient, accepted_fax: Callable, status: FaxStatus
) -> None:
    fax = accepted_fax()
    Fax.objects.filter(pk=fax.pk).update(status=status)

    response = api_client.delete(url(fax))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "fax_in_progress"
    assert default_storage.exists(fax.document.name)
    fax.refresh_from_db()
    assert fax.document_purged_at is None


def test_deleting_needs_the_send_scope(account: Account, accepted_fax: Callable) -> None:
    fax = finished(accepted_fax())
    client = ApiClient(make_key(account, scopes=[Scope.FAXES_READ])[1])

    response = client.delete(url(fax))

    assert response.status_code == 403
    assert "faxes:send" in response.json()["error"]["message"]
    assert default_storage.exists(fax.document.name)


def test_a_fax_shows_purged_at_null_until_then(
    api_client: ApiClient, accepted_fax: Callable
) -> None:
    fax = accepted_fax()

    assert api_client.get(f"/v1/faxes/{fax.pk}").json()["document"]["purged_at"] is None


# --- On S3 (SeaweedFS) ---------------------------------------------------------------------


def test_on_s3_download_then_delete(
    settings,
    s3_backend: dict,
    seaweed,
    api_client: ApiClient,
    accepted_fax: Callable,
) -> None:
    from botocore.exceptions import ClientError

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "sendfaxmail.lib.storage.EncryptedStorage",
            "OPTIONS": {"inner": s3_backend},
        },
    }
    fax = accepted_fax()
    # As if submitted (S3 refuses requests signed at a frozen time, so the clock runs).
    fax.header_line = "2026-11-30 07:05 EST   Acme   Fax +15550100001"
    fax.save(update_fields=["header_line"])
    pdf = stamp_header(the_pdf(fax), text=fax.header_line)
    bucket, key = s3_backend["OPTIONS"]["bucket_name"], f"{s3_backend['OPTIONS']['location']}/"
    key += fax.document.name

    downloaded = body_of(api_client.get(url(fax)))
    finished(fax)
    deleted = api_client.delete(url(fax))

    assert downloaded == pdf
    assert pdf.startswith(b"%PDF")
    assert deleted.status_code == 200
    with pytest.raises(ClientError):
        seaweed.client().head_object(Bucket=bucket, Key=key)
    assert api_client.get(url(fax)).status_code == 410
