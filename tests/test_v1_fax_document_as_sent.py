"""The document downloaded is the one faxed: the bytes the carrier received for the latest
attempt, header line included, while the stored document stays without it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from faxes.models import Fax
from faxes.services import pipeline as fax_pipeline
from tests import documents
from tests.conftest import ApiClient
from tests.telnyx import API

pytestmark = pytest.mark.django_db

FIRST = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)
SECOND = datetime(2026, 11, 30, 12, 47, tzinfo=UTC)


def downloaded(client: Client, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def submit(telnyx, fax: Fax, *, at: datetime) -> None:
    telnyx.accepts_media()
    telnyx.accepts_fax()
    with time_machine.travel(at, tick=False):
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)


def stored(fax: Fax) -> bytes:
    with fax.document.open("rb") as document:
        return document.read()


def test_it_downloads_the_bytes_the_carrier_received(
    telnyx, api_client: ApiClient, accepted_fax: Callable
) -> None:
    fax = accepted_fax(cover_page={"subject": "Referral"})
    submit(telnyx, fax, at=FIRST)

    [sent] = telnyx.uploaded_media()
    assert downloaded(api_client, f"/v1/faxes/{fax.pk}/document") == sent
    first, *_ = documents.page_texts(sent)
    assert "Subject: Referral" in first
    assert "2026-11-30 07:05 EST" in first
    assert "Page 1/4" in first


def test_a_download_later_still_shows_the_time_it_was_sent(
    telnyx, api_client: ApiClient, accepted_fax: Callable
) -> None:
    fax = accepted_fax()
    submit(telnyx, fax, at=FIRST)

    with time_machine.travel(SECOND, tick=False):
        content = downloaded(api_client, f"/v1/faxes/{fax.pk}/document")

    assert content == telnyx.uploaded_media()[0]
    assert all("2026-11-30 07:05 EST" in page for page in documents.page_texts(content))


def test_after_a_second_attempt_it_downloads_what_that_attempt_sent(
    telnyx, api_client: ApiClient, accepted_fax: Callable
) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.mock.add("POST", f"{API}/faxes", status=503, json={})
    with (
        time_machine.travel(FIRST, tick=False),
        pytest.raises(fax_pipeline.RetryLater) as later,
    ):
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    telnyx.accepts_media()
    telnyx.accepts_fax()
    with time_machine.travel(SECOND, tick=False):
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id, token=later.value.token)

    first, second = telnyx.uploaded_media()
    content = downloaded(api_client, f"/v1/faxes/{fax.pk}/document")
    assert content == second
    assert content != first
    assert "2026-11-30 07:47 EST" in documents.page_texts(content)[0]


def test_the_dashboard_downloads_the_bytes_the_carrier_received(
    telnyx, owner_client: Client, accepted_fax: Callable
) -> None:
    fax = accepted_fax()
    submit(telnyx, fax, at=FIRST)

    content = downloaded(owner_client, f"/dashboard/faxes/{fax.pk}/document")

    assert content == telnyx.uploaded_media()[0]


def test_the_stored_document_keeps_no_header(telnyx, accepted_fax: Callable) -> None:
    fax = accepted_fax(
        document={
            "content": documents.b64(documents.text_pdf("body")),
            "content_type": "application/pdf",
        }
    )
    submit(telnyx, fax, at=FIRST)

    assert documents.page_texts(stored(fax)) == ["body"]


def test_without_the_header_it_downloads_the_stored_document(
    telnyx, api_client: ApiClient, accepted_fax: Callable
) -> None:
    fax = accepted_fax(header=False)
    submit(telnyx, fax, at=FIRST)

    content = downloaded(api_client, f"/v1/faxes/{fax.pk}/document")

    assert content == telnyx.uploaded_media()[0] == stored(fax)


def test_before_it_is_sent_it_shows_the_header_it_would_get_now(
    api_client: ApiClient, accepted_fax: Callable
) -> None:
    fax = accepted_fax()

    with time_machine.travel(SECOND, tick=False):
        content = downloaded(api_client, f"/v1/faxes/{fax.pk}/document")

    pages = documents.page_texts(content)
    assert len(pages) == 3
    assert all("2026-11-30 07:47 EST" in page for page in pages)


def replace_stored(fax: Fax, content: bytes) -> None:
    """Store `content` (encrypted, as every document) in place of the fax's document."""
    from django.core.files.base import ContentFile

    storage, name = fax.document.storage, fax.document.name
    storage.delete(name)
    assert storage.save(name, ContentFile(content)) == name


def test_a_stored_document_that_cannot_be_stamped_is_410_unreadable(
    api_client: ApiClient, accepted_fax: Callable, caplog
) -> None:
    fax = accepted_fax()
    replace_stored(fax, b"%PDF-1.4 this is no longer a PDF")

    response = api_client.get(f"/v1/faxes/{fax.pk}/document")

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "document_unreadable"
    assert "cannot be stamped" in caplog.text
