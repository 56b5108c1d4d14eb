"""A received fax's pages: fetched from Telnyx's media link (a local HTTPS server here) through
the guarded fetcher, stored encrypted, renewed when the link expired, failed when they never
come."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from developers.models import WebhookEvent
from developers.services import webhook_endpoints
from faxes import tasks
from faxes.models import Fax, FaxStatus
from faxes.services import inbound
from tests import documents
from tests.receiver import Answer

pytestmark = pytest.mark.django_db

PDF = documents.pdf_bytes(pages=2)


@pytest.fixture
def received_fax(telnyx, account, receiver, pipeline) -> Fax:
    """A fax Telnyx reports received, its media link on the local HTTPS server."""
    carrier_fax_id = str(uuid.uuid4())
    telnyx.deliver(
        telnyx.inbound_event(
            "fax.received",
            carrier_fax_id=carrier_fax_id,
            to=account.fax_numbers.get().number,
            media_url=receiver.url(f"/inbound/{carrier_fax_id}.pdf?sig=old"),
        )
    )
    return Fax.objects.get(carrier_fax_id=carrier_fax_id)


def pdf_answer() -> Answer:
    return Answer(body=PDF, headers={"Content-Type": "application/pdf"})


def test_it_stores_the_received_pages_encrypted(received_fax, receiver) -> None:
    receiver.answer(pdf_answer())

    assert inbound.inbound_media_fetch(fax_id=received_fax.id)

    received_fax.refresh_from_db()
    assert (received_fax.status, received_fax.page_count) == (FaxStatus.RECEIVED, 2)
    with received_fax.document.open("rb") as document:
        assert document.read() == PDF
    assert b"%PDF" not in (settings.MEDIA_ROOT / received_fax.document.name).read_bytes()


@pytest.fixture
def endpoint(account, receiver):
    return webhook_endpoints.webhook_endpoint_create(
        account=account, url=receiver.url("/hooks/fax"), description="EHR"
    )


def test_it_emits_fax_received_with_the_fax_object(received_fax, receiver, endpoint) -> None:
    receiver.answer(pdf_answer())

    inbound.inbound_media_fetch(fax_id=received_fax.id)

    event = WebhookEvent.objects.get(type="fax.received")
    fax = event.body["data"]["object"]
    assert (fax["id"], fax["direction"], fax["status"]) == (received_fax.id, "inbound", "received")
    assert fax["from"] == "+15551230000"
    assert "url" not in fax["document"]


def test_it_renews_an_expired_link_and_fetches_the_new_one(received_fax, receiver, telnyx) -> None:
    receiver.answer(Answer(status=403, body=b"expired"), pdf_answer())
    telnyx.renews_media(received_fax.carrier_fax_id, media_url=receiver.url("/inbound/new.pdf"))

    assert inbound.inbound_media_fetch(fax_id=received_fax.id)

    assert [r.path for r in receiver.received][-1] == "/inbound/new.pdf"
    assert telnyx.posts_to(f"/faxes/{received_fax.carrier_fax_id}/actions/refresh")
    received_fax.refresh_from_db()
    assert received_fax.status == FaxStatus.RECEIVED


def test_it_retries_later_while_the_media_host_fails(received_fax, receiver) -> None:
    receiver.answer(Answer(status=503, body=b"busy"))

    with pytest.raises(inbound.MediaRetryLater):
        inbound.inbound_media_fetch(fax_id=received_fax.id)

    received_fax.refresh_from_db()
    assert (received_fax.status, received_fax.lease_expires_at) == (FaxStatus.RECEIVING, None)


def test_it_fails_media_unavailable_after_retrying_and_keeps_the_events(
    received_fax, receiver, telnyx, endpoint, monkeypatch
) -> None:
    refresh = f"{telnyx.settings()['TELNYX_API_BASE']}/faxes/{received_fax.carrier_fax_id}"
    telnyx.mock.add("POST", f"{refresh}/actions/refresh", json={"errors": []}, status=404)
    waits: list[float] = []
    real_backoff = tasks.backoff
    monkeypatch.setattr(tasks, "backoff", lambda n: waits.append(real_backoff(n)) or waits[-1])

    # Eagerly, Celery runs each retry at once: the media host answers 404 every time.
    tasks.inbound_media_fetch_task.apply(args=[received_fax.id])

    received_fax.refresh_from_db()
    assert (received_fax.status, received_fax.failure_reason) == ("failed", "media_unavailable")
    assert len(receiver.received) == tasks.MEDIA_MAX_RETRIES + 1
    assert 4 * 60 < sum(waits) < 20 * 60  # about 10 minutes, with jitter
    assert received_fax.events.filter(type="fax.received").exists()
    assert WebhookEvent.objects.filter(type="fax.failed").exists()


def test_it_fails_media_that_is_not_a_pdf(received_fax, receiver) -> None:
    receiver.answer(Answer(body=b"<html>not a fax</html>"))

    assert not inbound.inbound_media_fetch(fax_id=received_fax.id)

    received_fax.refresh_from_db()
    assert (received_fax.status, received_fax.failure_reason) == ("failed", "media_invalid")


def test_it_fetches_a_fax_once_when_the_task_runs_twice(received_fax, receiver) -> None:
    receiver.answer(pdf_answer(), pdf_answer())

    assert inbound.inbound_media_fetch(fax_id=received_fax.id)
    assert not inbound.inbound_media_fetch(fax_id=received_fax.id)

    assert len(receiver.received) == 1


def test_the_sweep_resends_a_lost_media_task(received_fax, pipeline) -> None:
    Fax.objects.filter(pk=received_fax.pk).update(
        enqueued_at=timezone.now() - timedelta(minutes=20)
    )

    assert inbound.inbound_faxes_sweep() == (1, 0)

    assert pipeline[-1] == (inbound.MEDIA_TASK, [received_fax.id], {})
    assert inbound.inbound_faxes_sweep() == (0, 0)


def test_the_sweep_leaves_a_fax_whose_media_task_is_recent(received_fax, pipeline) -> None:
    assert inbound.inbound_faxes_sweep() == (0, 0)


def test_the_sweep_fails_a_fax_whose_media_never_came(received_fax, pipeline) -> None:
    long_ago = timezone.now() - timedelta(hours=2)
    Fax.objects.filter(pk=received_fax.pk).update(enqueued_at=long_ago, created_at=long_ago)

    assert inbound.inbound_faxes_sweep() == (0, 1)

    received_fax.refresh_from_db()
    assert (received_fax.status, received_fax.failure_reason) == ("failed", "media_unavailable")
