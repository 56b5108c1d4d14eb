"""The simulated carrier: the same pipeline and event processing, outcomes chosen by number."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from faxes import tasks
from faxes.carrier import decode_client_state
from faxes.models import Fax, FaxStatus
from faxes.services import pipeline as fax_pipeline
from faxes.services import sweeper

pytestmark = pytest.mark.django_db


def play(pipeline: list) -> list[str]:
    """Run the simulator's scheduled steps in order, as the worker would; return their types."""
    steps = [kwargs for name, _, kwargs in pipeline if name == "faxes.tasks.simulator_step_task"]
    for kwargs in steps:
        tasks.simulator_step_task.run(**kwargs)
    return [Fax.objects.get(pk=decode_client_state(s["client_state"])).status for s in steps]


@pytest.mark.parametrize(
    ("to", "status", "reason", "pages"),
    [
        ("+15551234567", "delivered", None, 3),
        ("+15550000002", "failed", "busy", 0),
        ("+15550000003", "failed", "no_answer", 0),
        ("+15550000004", "failed", "invalid_number", 0),
        ("+15550000005", "failed", "transmission_error", 1),
        ("+15550000007", "delivered", None, 3),
    ],
)
def test_each_magic_number_has_its_outcome(
    accepted_fax, pipeline, to, status, reason, pages
) -> None:
    fax = accepted_fax(to=to)

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    play(pipeline)

    fax.refresh_from_db()
    assert fax.carrier == "simulator"
    assert fax.status == status
    assert (fax.failure_reason or None) == reason
    assert fax.pages_delivered == pages


def test_the_slow_number_is_delivered_only_after_60_seconds(
    accepted_fax, pipeline, monkeypatch
) -> None:
    steps: list[tuple[float, dict]] = []
    monkeypatch.setattr(
        "celery.app.base.Celery.send_task",
        lambda self, name, *a, kwargs=None, countdown=None, **k: steps.append((countdown, kwargs)),
    )
    fax = accepted_fax(to="+15550000007")
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    for _, kwargs in [step for step in steps if step[0] < 60]:
        tasks.simulator_step_task.run(**kwargs)
    before_a_minute = Fax.objects.get(pk=fax.pk).status
    for _, kwargs in [step for step in steps if step[0] == 60]:
        tasks.simulator_step_task.run(**kwargs)

    assert before_a_minute == FaxStatus.SENDING
    assert Fax.objects.get(pk=fax.pk).status == FaxStatus.DELIVERED


def test_simulated_events_walk_through_every_status(accepted_fax, pipeline) -> None:
    fax = accepted_fax()
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    play(pipeline)

    types = list(fax.events.filter(carrier_event_id__isnull=False).values_list("type", flat=True))
    assert types == ["fax.queued", "fax.media.processed", "fax.sending.started", "fax.delivered"]


def test_a_replayed_simulator_step_is_a_duplicate(accepted_fax, pipeline) -> None:
    fax = accepted_fax()
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    play(pipeline)

    play(pipeline)

    assert fax.events.filter(carrier_event_id__isnull=False).count() == 4


def test_the_simulator_never_reaches_telnyx(accepted_fax, pipeline, telnyx, settings) -> None:
    settings.FAX_CARRIER = "simulator"
    fax = accepted_fax()

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    assert len(telnyx.mock.calls) == 0
    assert Fax.objects.get(pk=fax.pk).status == FaxStatus.SENDING


@pytest.mark.parametrize(
    ("to", "status", "reason", "pages"),
    [("+15551234567", "delivered", "", 3), ("+15550000002", "failed", "busy", 0)],
)
def test_the_sweepers_poll_finishes_a_simulated_fax_whose_events_were_lost(
    accepted_fax, pipeline, to, status, reason, pages
) -> None:
    fax = accepted_fax(to=to)
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    eleven_minutes_ago = timezone.now() - timedelta(minutes=11)
    Fax.objects.filter(pk=fax.pk).update(
        updated_at=eleven_minutes_ago, submitted_at=eleven_minutes_ago
    )

    tasks.faxes_sweep_task.run()  # none of the simulator's event tasks ran

    fax.refresh_from_db()
    assert (fax.status, fax.failure_reason, fax.pages_delivered) == (status, reason, pages)


def test_a_polled_simulated_fax_is_sending_until_its_outcome_is_due(accepted_fax, pipeline) -> None:
    fax = accepted_fax(to="+15550000007")  # delivered after 60 seconds
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    Fax.objects.filter(pk=fax.pk).update(updated_at=timezone.now() - timedelta(minutes=11))

    assert sweeper.faxes_poll_silent() == 1

    assert Fax.objects.get(pk=fax.pk).status == FaxStatus.SENDING
