"""The sweeper (faxes/services/sweeper.py): restarting lost steps, failing stalled faxes, polling
silent ones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from faxes import tasks
from faxes.carrier import encode_client_state
from faxes.models import Fax, FaxStatus
from faxes.services import pipeline as fax_pipeline
from faxes.services import sweeper
from tests.telnyx import API

pytestmark = pytest.mark.django_db

URL = "https://docs.example.com/referral.pdf"


def send_url_fax(api_client) -> str:
    response = api_client.post_json("/v1/faxes", {"to": "+15551234567", "document_url": URL})
    assert response.status_code == 201
    return response.json()["id"]


def fetches(pipeline: list) -> list[str]:
    return [args[0] for name, args, _ in pipeline if name == "faxes.tasks.fax_fetch_task"]


def submissions(pipeline: list) -> list[str]:
    return [args[0] for name, args, _ in pipeline if name == "faxes.tasks.fax_submit_task"]


# The sweeper. Time passes by moving every fax's timestamps back.

TIMESTAMPS = ("created_at", "updated_at", "enqueued_at", "lease_expires_at", "submitted_at")


def minutes_pass(minutes: float) -> None:
    Fax.objects.update(**{name: F(name) - timedelta(minutes=minutes) for name in TIMESTAMPS})


def sweep_every_minute(minutes: int) -> None:
    for _ in range(minutes):
        minutes_pass(1)
        tasks.faxes_sweep_task.run()


def test_the_sweeper_restarts_faxes_whose_task_is_overdue(
    accepted_fax, api_client, pipeline
) -> None:
    inline = accepted_fax()
    url_fax_id = send_url_fax(api_client)
    minutes_pass(6)
    fresh = accepted_fax()

    outcome = sweeper.faxes_restart_stalled()

    assert sorted(outcome.restarted) == sorted([(inline.id, "submit"), (url_fax_id, "fetch")])
    assert fresh.id not in dict(outcome.restarted)


def test_two_sweeps_of_a_stalled_queue_send_no_task_twice(
    api_client, pipeline, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        faxes = [send_url_fax(api_client) for _ in range(3)]
    minutes_pass(2)

    sweep_every_minute(2)

    assert sorted(fetches(pipeline)) == sorted(faxes)


def test_a_stalled_queue_gets_each_fax_again_once_per_growing_wait(
    api_client, pipeline, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        faxes = [send_url_fax(api_client) for _ in range(3)]

    sweep_every_minute(60)

    # Sent at 0, then restarted at 5, 15 and 35 minutes.
    assert sorted(fetches(pipeline)) == sorted(faxes * 4)
    assert set(Fax.objects.values_list("pipeline_restarts", flat=True)) == {3}


def test_a_fetch_that_never_finishes_fails_the_fax_once_out_of_restarts(
    api_client, pipeline, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        fax_id = send_url_fax(api_client)

    sweep_every_minute(124)
    assert Fax.objects.get(pk=fax_id).status == FaxStatus.QUEUED
    sweep_every_minute(1)

    body = api_client.get(f"/v1/faxes/{fax_id}").json()
    assert (body["status"], body["failure_reason"]) == ("failed", "document_fetch_failed")
    assert body["failure_message"] == (
        "The document could not be fetched in time: 6 attempts over 125 minutes did not finish."
        " Send the fax again."
    )
    assert len(fetches(pipeline)) == 6


def test_a_submission_that_never_finishes_fails_as_carrier_error(accepted_fax, pipeline) -> None:
    fax = accepted_fax()
    fax_pipeline.fax_claim(fax_id=fax.id)
    Fax.objects.filter(pk=fax.pk).update(pipeline_restarts=sweeper.MAX_PIPELINE_RESTARTS)
    minutes_pass(31)

    assert sweeper.faxes_restart_stalled().failed == [fax.id]

    fax.refresh_from_db()
    assert (fax.status, fax.failure_reason) == (FaxStatus.FAILED, "carrier_error")
    assert fax.failure_message.startswith("The fax could not be handed to the carrier in time")
    assert submissions(pipeline) == []


def test_a_stalled_fax_that_may_have_reached_the_carrier_says_so(accepted_fax, pipeline) -> None:
    fax = accepted_fax()
    fax_pipeline.fax_claim(fax_id=fax.id)
    Fax.objects.filter(pk=fax.pk).update(
        pipeline_restarts=sweeper.MAX_PIPELINE_RESTARTS, submitted_at=timezone.now()
    )
    minutes_pass(31)

    sweeper.faxes_restart_stalled()

    fax.refresh_from_db()
    assert "may have reached the carrier" in fax.failure_message


def test_a_fax_the_broker_refused_at_commit_starts_at_the_next_sweep(
    api_client, pipeline, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    def broker_down(self: object, name: str, *args: object, **kwargs: object) -> None:
        raise OSError("connection refused")

    with monkeypatch.context() as down:
        down.setattr("celery.app.base.Celery.send_task", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            fax_id = send_url_fax(api_client)

    sweep_every_minute(1)

    assert fetches(pipeline) == [fax_id]
    assert Fax.objects.get(pk=fax_id).pipeline_restarts == 0


def test_a_restart_the_broker_refused_is_not_counted(api_client, pipeline, monkeypatch) -> None:
    fax_id = send_url_fax(api_client)
    minutes_pass(6)

    def broker_down(self: object, name: str, *args: object, **kwargs: object) -> None:
        raise OSError("connection refused")

    with monkeypatch.context() as down:
        down.setattr("celery.app.base.Celery.send_task", broker_down)
        with pytest.raises(OSError, match="connection refused"):
            sweeper.faxes_restart_stalled()
    sweep_every_minute(1)

    assert fetches(pipeline) == [fax_id]
    assert Fax.objects.get(pk=fax_id).pipeline_restarts == 1


def test_the_sweeper_takes_over_an_expired_lease_and_reconciles_first(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    fax_pipeline.fax_claim(fax_id=fax.id)
    # The worker died after its POST: the outcome is unknown and the lease runs out.
    Fax.objects.filter(pk=fax.pk).update(submitted_at=timezone.now())
    minutes_pass(11)
    assert sweeper.faxes_restart_stalled().restarted == [(fax.id, "submit")]
    telnyx.mock.add(
        "GET",
        f"{API}/faxes",
        json={
            "data": [
                {"id": "found-1", "status": "sending", "client_state": encode_client_state(fax.id)}
            ]
        },
    )

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    fax.refresh_from_db()
    assert fax.carrier_fax_id == "found-1"
    assert telnyx.posts_to("/faxes") == []


def test_the_sweeper_leaves_a_leased_submission_alone(accepted_fax, pipeline) -> None:
    fax = accepted_fax()
    minutes_pass(6)
    fax_pipeline.fax_claim(fax_id=fax.id)

    assert sweeper.faxes_restart_stalled().restarted == []


def age(fax: Fax, **delta: float) -> None:
    Fax.objects.filter(pk=fax.pk).update(updated_at=timezone.now() - timedelta(**delta))


def test_the_sweeper_asks_telnyx_about_silent_faxes(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    carrier_fax_id = telnyx.accepts_fax()
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    age(fax, minutes=11)
    telnyx.mock.add(
        "GET",
        f"{API}/faxes/{carrier_fax_id}",
        json={"data": {"id": carrier_fax_id, "status": "delivered", "page_count": 3}},
    )

    assert sweeper.faxes_poll_silent() == 1

    fax.refresh_from_db()
    assert fax.status == FaxStatus.DELIVERED
    assert fax.pages_delivered == 3
    assert sweeper.faxes_poll_silent() == 0


def test_the_sweeper_leaves_recent_sending_faxes_alone(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.accepts_fax()
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    assert sweeper.faxes_poll_silent() == 0
