"""GET /v1/faxes/{id}/preview: the first page as a PNG, exactly as it is (or was) faxed."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from PIL import Image

from accounts.models import Account
from audit.models import Action, AuditEntry
from developers.models import Scope
from faxes.documents.render import render_page_png
from faxes.models import DocumentSource, Fax, FaxStatus
from faxes.services import inbound
from faxes.services import pipeline as fax_pipeline
from faxes.services.status import fax_advance
from tests import documents
from tests.conftest import ApiClient, make_key
from tests.factories import FaxFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n"


def url(fax: Fax | str) -> str:
    return f"/v1/faxes/{getattr(fax, 'pk', fax)}/preview"


def first_page(pdf: bytes) -> bytes:
    """Page 1 of `pdf` rendered as the preview renders it."""
    return render_page_png(pdf, page_number=1, scale=1.5)


def downloaded(api_client: ApiClient, fax: Fax) -> bytes:
    return b"".join(api_client.get(f"/v1/faxes/{fax.pk}/document").streaming_content)


def finished(fax: Fax) -> Fax:
    fax_advance(fax=fax, status=FaxStatus.DELIVERED, source="test")
    fax.refresh_from_db()
    return fax


def text_document(*texts: str) -> dict[str, str]:
    return {"content": documents.b64(documents.text_pdf(*texts)), "content_type": "application/pdf"}


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


# --- Works ----------------------------------------------------------------------------------


def test_it_answers_a_png_of_the_first_page(api_client: ApiClient, accepted_fax: Callable) -> None:
    response = api_client.get(url(accepted_fax()))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(PNG)
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (918, 1188)  # a US Letter page at 108 dpi
    assert image.mode == "L"


def test_previews_share_the_accounts_document_budget_with_downloads(
    api_client: ApiClient, accepted_fax: Callable, settings
) -> None:
    """A preview stamps and renders a page: like a download, it counts against the account's
    DOCUMENT_DOWNLOAD_RATE, whichever of its keys asks."""
    settings.DOCUMENT_DOWNLOAD_RATE = "2/m"
    fax = accepted_fax()
    other_key = ApiClient(make_key(fax.account)[1])

    assert api_client.get(url(fax)).status_code == 200
    assert api_client.get(f"/v1/faxes/{fax.id}/document").status_code == 200
    response = other_key.get(url(fax))

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert "DOCUMENT_DOWNLOAD_RATE" in response.json()["error"]["message"]
    assert 1 <= int(response["Retry-After"]) <= 60
    assert AuditEntry.objects.filter(action=Action.DOCUMENT_VIEWED).count() == 1


def test_it_is_never_cached(api_client: ApiClient, accepted_fax: Callable) -> None:
    response = api_client.get(url(accepted_fax()))

    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_it_shows_the_first_page_as_it_will_be_sent(
    api_client: ApiClient, accepted_fax: Callable, frozen: None
) -> None:
    fax = accepted_fax(document=text_document("first", "second"), cover_page={"subject": "Hi"})

    preview = api_client.get(url(fax)).content

    as_sent = downloaded(api_client, fax)
    assert "Subject: Hi" in documents.page_texts(as_sent)[0]
    assert preview == first_page(as_sent)


def test_it_shows_the_header_line(
    api_client: ApiClient, accepted_fax: Callable, frozen: None
) -> None:
    fax = accepted_fax(document=text_document("first"))
    with fax.document.open("rb") as stored:
        unstamped = first_page(stored.read())

    preview = api_client.get(url(fax)).content

    assert preview != unstamped
    top = Image.open(io.BytesIO(preview)).crop((0, 0, 918, 20))
    assert top.getextrema()[0] < 128  # dark pixels: the header line in the top margin


def test_without_the_header_it_shows_the_page_as_stored(
    api_client: ApiClient, accepted_fax: Callable
) -> None:
    fax = accepted_fax(document=text_document("first"), header=False)
    with fax.document.open("rb") as stored:
        unstamped = first_page(stored.read())

    assert api_client.get(url(fax)).content == unstamped


def test_after_sending_it_shows_what_the_carrier_received(
    telnyx, api_client: ApiClient, accepted_fax: Callable
) -> None:
    fax = accepted_fax(document=text_document("first", "second"))
    telnyx.accepts_media()
    telnyx.accepts_fax()
    with time_machine.travel(NOW, tick=False):
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    with time_machine.travel(datetime(2026, 12, 1, tzinfo=UTC), tick=False):
        preview = api_client.get(url(fax)).content

    [sent] = telnyx.uploaded_media()
    assert preview == first_page(sent)


def test_a_received_fax_shows_its_first_page(api_client: ApiClient, account: Account) -> None:
    received = documents.text_pdf("received one", "received two")
    fax = inbound.inbound_fax_simulate(
        number=account.fax_numbers.get().number,
        from_="anonymous",
        document=received,
        livemode=True,
    )

    response = api_client.get(url(fax))

    assert response.status_code == 200
    assert response.content == first_page(received)


def test_a_preview_is_audited_with_the_key_and_address(
    api_client: ApiClient, api_key, account: Account, accepted_fax: Callable
) -> None:
    fax = accepted_fax()

    api_client.get(url(fax), REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="ehr/1.0")

    [entry] = AuditEntry.objects.filter(action=Action.DOCUMENT_VIEWED)
    assert (entry.account_id, entry.actor_type, entry.actor_id) == (
        account.pk,
        "api_key",
        str(api_key[0].pk),
    )
    assert (entry.ip, entry.user_agent) == ("203.0.113.9", "ehr/1.0")
    assert (entry.target_type, entry.target_id) == ("fax", fax.pk)
    assert entry.details == {"page": 1, "via": "api", "direction": "outbound", "livemode": True}


def test_it_answers_a_client_that_accepts_only_png(
    api_client: ApiClient, accepted_fax: Callable
) -> None:
    response = api_client.get(url(accepted_fax()), HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert response.content.startswith(PNG)


# --- Errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "sfm_live_notarealkey"])
def test_it_needs_a_key(account: Account, secret: str | None) -> None:
    response = ApiClient(secret).get(url(FaxFactory(account=account)))

    assert response.status_code == 401
    assert response.json()["error"]["code"] in ("authentication_required", "invalid_api_key")


def test_a_starter_plan_is_refused(starter_account: Account) -> None:
    client = ApiClient(make_key(starter_account)[1])

    response = client.get(url(FaxFactory(account=starter_account)))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "plan_upgrade_required"


def test_it_needs_the_read_scope(account: Account, accepted_fax: Callable) -> None:
    client = ApiClient(make_key(account, scopes=[Scope.FAXES_SEND])[1])

    response = client.get(url(accepted_fax()))

    assert response.status_code == 403
    assert "faxes:read" in response.json()["error"]["message"]


def test_another_accounts_fax_is_404(api_client: ApiClient, other_account: Account) -> None:
    fax = FaxFactory(account=other_account, status=FaxStatus.DELIVERED)

    response = api_client.get(url(fax))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not AuditEntry.objects.filter(action=Action.DOCUMENT_VIEWED).exists()


def test_a_fax_of_the_other_world_is_404(account: Account, accepted_fax: Callable) -> None:
    test_client = ApiClient(make_key(account, livemode=False)[1])

    assert test_client.get(url(accepted_fax())).status_code == 404


@pytest.mark.parametrize("fax_id", ["fax_doesnotexist", "not-a-fax-id"])
def test_an_unknown_fax_is_404(api_client: ApiClient, fax_id: str) -> None:
    response = api_client.get(url(fax_id))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "head"])
def test_other_methods_are_405(api_client: ApiClient, account: Account, method: str) -> None:
    response = getattr(api_client, method)(url(FaxFactory(account=account)))

    assert response.status_code == 405
    assert not AuditEntry.objects.filter(action=Action.DOCUMENT_VIEWED).exists()


def test_a_url_document_not_fetched_yet_is_409(api_client: ApiClient, account: Account) -> None:
    fax = FaxFactory(account=account, document_source=DocumentSource.URL)

    response = api_client.get(url(fax))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "document_not_ready"


def test_a_fax_that_failed_before_its_fetch_is_404(api_client: ApiClient, account: Account) -> None:
    fax = finished(FaxFactory(account=account, document_source=DocumentSource.URL))

    response = api_client.get(url(fax))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_after_a_purge_it_is_410(api_client: ApiClient, accepted_fax: Callable) -> None:
    fax = finished(accepted_fax())
    api_client.delete(f"/v1/faxes/{fax.pk}/document")

    response = api_client.get(url(fax))

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "document_purged"
    assert not AuditEntry.objects.filter(action=Action.DOCUMENT_VIEWED).exists()


def test_an_altered_document_is_410_unreadable(
    api_client: ApiClient, accepted_fax: Callable, caplog
) -> None:
    fax = accepted_fax()
    documents.alter_last_byte(fax.document.path)

    response = api_client.get(url(fax))

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "document_unreadable"
    assert "cannot be decrypted" in caplog.text


def test_a_stored_document_that_cannot_be_rendered_is_410_unreadable(
    api_client: ApiClient, accepted_fax: Callable
) -> None:
    from django.core.files.base import ContentFile

    fax = accepted_fax()
    storage, name = fax.document.storage, fax.document.name
    storage.delete(name)
    storage.save(name, ContentFile(b"%PDF-1.4 this is no longer a PDF"))

    response = api_client.get(url(fax))

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "document_unreadable"
    assert not AuditEntry.objects.filter(action=Action.DOCUMENT_VIEWED).exists()


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
