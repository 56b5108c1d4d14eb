"""A cancel racing a worker that claims and submits the same fax, in two threads against
PostgreSQL: whichever wins, a fax whose cancel was answered `canceled` is never sent, and a fax
that was sent has its cancel passed on to the carrier."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
import responses
from django.db import connection
from django.utils import timezone

from faxes.carrier import decode_client_state
from faxes.models import Fax, FaxStatus
from faxes.services import pipeline as fax_pipeline
from faxes.services.cancel import CancelOutcome, fax_cancel
from faxes.services.schedule import faxes_release_scheduled
from tests.telnyx import API

ROUNDS = 12
CANCEL_URL = re.compile(rf"{re.escape(API)}/faxes/([^/]+)/actions/cancel")


@pytest.fixture
def carrier(telnyx):
    """Telnyx taking media, giving every fax its own id, and accepting every cancel."""
    telnyx.accepts_media()
    telnyx.mock.add_callback(
        responses.POST,
        f"{API}/faxes",
        callback=lambda request: (
            202,
            {},
            json.dumps({"data": {"id": str(uuid.uuid4()), "status": "queued"}}),
        ),
    )
    telnyx.mock.add(responses.POST, CANCEL_URL, json={"data": {"result": "ok"}}, status=202)
    return telnyx


def in_threads(*steps: Callable[[], object]) -> list[object]:
    """Run `steps` at the same moment, each in its own thread with its own connection."""
    barrier = threading.Barrier(len(steps))
    results: list[object] = [None] * len(steps)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = steps[index]()
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(steps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def sends_of(telnyx, fax_id: str) -> list:
    return [
        call
        for call in telnyx.posts_to("/faxes")
        if decode_client_state(json.loads(call.request.body)["client_state"]) == fax_id
    ]


def cancels_of(telnyx, carrier_fax_id: str | None) -> list:
    return [
        call
        for call in telnyx.mock.calls
        if (match := CANCEL_URL.fullmatch(call.request.url)) and match[1] == carrier_fax_id
    ]


@pytest.mark.django_db(transaction=True)
def test_a_cancel_racing_a_submit_never_lets_a_canceled_fax_be_sent(carrier, accepted_fax) -> None:
    outcomes: Counter[str] = Counter()
    for _ in range(ROUNDS):
        fax = accepted_fax()

        canceled, submitted = in_threads(
            lambda fax=fax: fax_cancel(fax=Fax.objects.get(pk=fax.pk)),
            lambda fax=fax: fax_pipeline.fax_submit_to_carrier(fax_id=fax.pk),
        )

        assert submitted is None, submitted
        fax.refresh_from_db()
        sends = sends_of(carrier, fax.id)
        if canceled == CancelOutcome.CANCELED:
            assert (fax.status, sends) == (FaxStatus.CANCELED, [])
        else:
            assert canceled == CancelOutcome.REQUESTED, canceled
            assert len(sends) == 1
            assert fax.status == FaxStatus.SENDING
            assert fax.cancel_requested_at is not None
            assert len(cancels_of(carrier, fax.carrier_fax_id)) >= 1
        outcomes[str(canceled)] += 1
    print(f"outcomes over {ROUNDS} races: {dict(outcomes)}")


@pytest.mark.django_db(transaction=True)
def test_a_cancel_racing_the_release_of_a_scheduled_fax_never_lets_a_canceled_fax_be_sent(
    carrier, accepted_fax
) -> None:
    outcomes: Counter[str] = Counter()
    for _ in range(ROUNDS):
        fax = accepted_fax(send_at=(timezone.now() + timedelta(hours=1)).isoformat())
        Fax.objects.filter(pk=fax.pk).update(send_at=timezone.now() - timedelta(seconds=1))

        def release_and_submit(fax: Fax = fax) -> None:
            faxes_release_scheduled()
            fax_pipeline.fax_submit_to_carrier(fax_id=fax.pk)

        canceled, submitted = in_threads(
            lambda fax=fax: fax_cancel(fax=Fax.objects.get(pk=fax.pk)), release_and_submit
        )

        assert submitted is None, submitted
        fax.refresh_from_db()
        sends = sends_of(carrier, fax.id)
        if canceled == CancelOutcome.CANCELED:
            assert (fax.status, sends) == (FaxStatus.CANCELED, [])
        else:
            assert canceled == CancelOutcome.REQUESTED, canceled
            assert len(sends) == 1
            assert len(cancels_of(carrier, fax.carrier_fax_id)) >= 1
        outcomes[str(canceled)] += 1
    print(f"outcomes over {ROUNDS} races: {dict(outcomes)}")
