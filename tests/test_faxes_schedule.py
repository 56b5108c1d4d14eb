"""Scheduling: `send_at` keeps a fax `scheduled` until then; the release queues it exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from developers.models import WebhookEvent, WebhookEventType
from faxes.documents.compose import stamp_header
from faxes.models import Fax, FaxStatus
from faxes.selectors import fax_history
from faxes.services import pipeline as fax_pipeline
from faxes.services import sweeper
from faxes.services.compose import fax_header_text
from faxes.services.schedule import faxes_release_scheduled
from sendfaxmail.lib.fetch import FetchedBody, FetchError
from tests import documents
from tests.conftest import ApiClient, make_key
from tests.factories import endpoint_for_every_event

pytestmark = pytest.mark.django_db

FETCH = "faxes.tasks.fax_fetch_task"
SUBMIT = "faxes.tasks.fax_submit_task"
URL = "https://docs.example.com/referral.pdf"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict:
    """What the customer's server answers (a 2-page PDF, or `error`)."""
    answer: dict = {"content": documents.pdf_bytes(pages=2)}

    def fake_fetch(url: str, *, max_bytes: int, timeout: float = 30.0) -> FetchedBody:
        if isinstance(answer.get("error"), Exception):
            raise answer["error"]
        return FetchedBody(content=answer["content"], content_type="application/pdf", final_url=url)

    monkeypatch.setattr(fax_pipeline, "fetch", fake_fetch)
    return answer


@pytest.fixture
def post(api_client: ApiClient, pipeline, django_capture_on_commit_callbacks):
    """POST /v1/faxes, running what the answer's transaction starts once it commits."""

    def send(**body: object):
        with django_capture_on_commit_callbacks(execute=True):
            return api_client.post_json("/v1/faxes", body)

    return send


@pytest.fixture
def accepted_fax(post):
    """A fax accepted through the API (an inline PDF unless told otherwise)."""

    def send(**body: object) -> Fax:
        document = {} if "document_url" in body else {"document": documents.inline_pdf()}
        response = post(**{"to": "+15551234567", **document, **body})
        assert response.status_code == 201, response.content
        return Fax.objects.get(pk=response.json()["id"])

    return send


@pytest.fixture
def release(django_capture_on_commit_callbacks):
    """The release, at `moment`, with its tasks sent once its transactions commit."""

    def run(moment: datetime) -> list[str]:
        with at(moment), django_capture_on_commit_callbacks(execute=True):
            return faxes_release_scheduled()

    return run


def send_url_fax(accepted_fax, send_at: datetime) -> Fax:
    return accepted_fax(document_url=URL, send_at=iso(send_at))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_hours(hours: float) -> datetime:
    return (timezone.now() + timedelta(hours=hours)).replace(microsecond=0)


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def tasks_for(pipeline: list, fax: Fax) -> list[str]:
    return [name for name, args, _ in pipeline if args == [fax.id]]


def test_it_accepts_a_send_at_and_answers_scheduled(post, pipeline) -> None:
    send_at = in_hours(3)

    response = post(to="+15551234567", document=documents.inline_pdf(), send_at=iso(send_at))

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["send_at"]) == ("scheduled", iso(send_at))


def test_a_scheduled_inline_fax_sends_no_task_before_its_time(accepted_fax, pipeline) -> None:
    accepted_fax(send_at=iso(in_hours(3)))
    accepted_fax()

    assert [name for name, _, _ in pipeline] == [SUBMIT]


def test_it_reads_send_at_in_any_zone(api_client: ApiClient, pipeline) -> None:
    send_at = in_hours(5)
    local = send_at.astimezone(timezone.get_fixed_timezone(-300)).isoformat()

    response = api_client.post_json(
        "/v1/faxes", {"to": "+15551234567", "document": documents.inline_pdf(), "send_at": local}
    )

    assert response.json()["send_at"] == iso(send_at)


@pytest.mark.parametrize(
    "send_at",
    [
        "2020-01-01T09:00:00Z",  # past
        "tomorrow",
        "2026-12-01T09:00:00",  # no zone
        "",
        12,
    ],
)
def test_it_refuses_a_bad_send_at_naming_it(api_client: ApiClient, pipeline, send_at) -> None:
    response = api_client.post_json(
        "/v1/faxes", {"to": "+15551234567", "document": documents.inline_pdf(), "send_at": send_at}
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("validation_error", "send_at")
    assert not Fax.objects.exists()


def test_it_refuses_a_send_at_more_than_30_days_ahead(api_client: ApiClient, pipeline) -> None:
    send_at = timezone.now() + timedelta(days=30, minutes=5)

    response = api_client.post_json(
        "/v1/faxes",
        {"to": "+15551234567", "document": documents.inline_pdf(), "send_at": iso(send_at)},
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "send_at"
    assert "30 days" in response.json()["error"]["message"]


def test_it_refuses_a_send_at_just_passed(api_client: ApiClient, pipeline) -> None:
    send_at = timezone.now() - timedelta(seconds=2)

    response = api_client.post_json(
        "/v1/faxes",
        {"to": "+15551234567", "document": documents.inline_pdf(), "send_at": iso(send_at)},
    )

    assert response.status_code == 400
    assert "past" in response.json()["error"]["message"]


def test_it_lists_scheduled_faxes_by_their_status(api_client: ApiClient, accepted_fax) -> None:
    scheduled = accepted_fax(send_at=iso(in_hours(1)))
    accepted_fax()

    body = api_client.get("/v1/faxes?status=scheduled").json()

    assert [fax["id"] for fax in body["data"]] == [scheduled.id]


def test_it_fetches_a_scheduled_url_document_at_once_and_keeps_it_scheduled(
    pipeline, served, accepted_fax, django_capture_on_commit_callbacks
) -> None:
    fax = send_url_fax(accepted_fax, in_hours(2))
    assert tasks_for(pipeline, fax) == [FETCH]

    with django_capture_on_commit_callbacks(execute=True):
        assert fax_pipeline.fax_fetch_document(fax_id=fax.id) is True

    fax.refresh_from_db()
    assert (fax.status, fax.page_count) == (FaxStatus.SCHEDULED, 2)
    assert tasks_for(pipeline, fax) == [FETCH]


def test_a_scheduled_url_document_that_cannot_be_fetched_fails_the_fax_at_once(
    api_client: ApiClient, pipeline, served, accepted_fax
) -> None:
    served["error"] = FetchError("The server answered 404.")
    fax = send_url_fax(accepted_fax, in_hours(24))

    fax_pipeline.fax_fetch_document(fax_id=fax.id)

    body = api_client.get(f"/v1/faxes/{fax.id}").json()
    assert (body["status"], body["failure_reason"]) == ("failed", "document_fetch_failed")


def test_nothing_is_released_before_send_at(accepted_fax, pipeline, release) -> None:
    send_at = in_hours(1)
    fax = accepted_fax(send_at=iso(send_at))

    released = release(send_at - timedelta(seconds=1))

    assert released == []
    fax.refresh_from_db()
    assert fax.status == FaxStatus.SCHEDULED


def test_at_send_at_the_fax_is_queued_and_its_submission_sent(
    accepted_fax, pipeline, release
) -> None:
    send_at = in_hours(1)
    fax = accepted_fax(send_at=iso(send_at))

    released = release(send_at)

    assert released == [fax.id]
    fax.refresh_from_db()
    assert fax.status == FaxStatus.QUEUED
    assert tasks_for(pipeline, fax) == [SUBMIT]


def test_a_second_release_sends_nothing_more(accepted_fax, pipeline, release) -> None:
    send_at = in_hours(1)
    fax = accepted_fax(send_at=iso(send_at))

    release(send_at + timedelta(seconds=5))
    again = release(send_at + timedelta(seconds=10))

    assert again == []
    assert tasks_for(pipeline, fax) == [SUBMIT]


def test_a_released_fax_whose_document_is_still_being_fetched_gets_the_fetch(
    api_client: ApiClient, pipeline, release, accepted_fax
) -> None:
    send_at = in_hours(1)
    fax = send_url_fax(accepted_fax, send_at)

    release(send_at)

    assert tasks_for(pipeline, fax) == [FETCH, FETCH]


def test_a_fetch_finishing_after_the_release_hands_the_fax_to_submission(
    pipeline, served, release, accepted_fax, django_capture_on_commit_callbacks
) -> None:
    send_at = in_hours(1)
    fax = send_url_fax(accepted_fax, send_at)
    release(send_at)

    with django_capture_on_commit_callbacks(execute=True):
        fax_pipeline.fax_fetch_document(fax_id=fax.id)

    assert tasks_for(pipeline, fax) == [FETCH, FETCH, SUBMIT]


def test_a_scheduled_fax_is_not_claimed_by_a_submission_before_its_time(
    accepted_fax, pipeline
) -> None:
    fax = accepted_fax(send_at=iso(in_hours(1)))

    assert fax_pipeline.fax_claim(fax_id=fax.id) is None


def test_the_sweeper_never_restarts_or_fails_a_scheduled_fax(accepted_fax, pipeline) -> None:
    send_at = in_hours(24 * 20)
    fax = accepted_fax(send_at=iso(send_at))

    with at(send_at - timedelta(minutes=1)):
        outcome = sweeper.faxes_restart_stalled()

    assert outcome.restarted == outcome.failed == []
    fax.refresh_from_db()
    assert fax.status == FaxStatus.SCHEDULED
    assert pipeline == []


def test_the_sweeper_restarts_a_lost_fetch_of_a_scheduled_fax(
    api_client: ApiClient, pipeline, accepted_fax
) -> None:
    fax = send_url_fax(accepted_fax, in_hours(48))

    with at(timezone.now() + timedelta(minutes=6)):
        outcome = sweeper.faxes_restart_stalled()

    assert outcome.restarted == [(fax.id, "fetch")]
    fax.refresh_from_db()
    assert fax.status == FaxStatus.SCHEDULED


def test_canceling_a_scheduled_fax_cancels_it_at_once(
    api_client: ApiClient, accepted_fax, pipeline, release
) -> None:
    send_at = in_hours(1)
    fax = accepted_fax(send_at=iso(send_at))

    response = api_client.post(f"/v1/faxes/{fax.id}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert release(send_at + timedelta(seconds=1)) == []
    assert tasks_for(pipeline, fax) == []


def test_canceling_a_scheduled_fax_sends_fax_canceled(
    api_client: ApiClient, account, accepted_fax, pipeline
) -> None:
    endpoint_for_every_event(account, url="https://hooks.example.com/fax")
    fax = accepted_fax(send_at=iso(in_hours(1)))

    api_client.post(f"/v1/faxes/{fax.id}/cancel")

    event = WebhookEvent.objects.get(object_id=fax.id)
    assert event.type == WebhookEventType.FAX_CANCELED
    assert event.body["data"]["object"]["status"] == "canceled"


def test_send_at_is_part_of_the_idempotency_fingerprint(api_client: ApiClient, pipeline) -> None:
    body = {"to": "+15551234567", "document": documents.inline_pdf(), "send_at": iso(in_hours(1))}
    first = api_client.post_json("/v1/faxes", body, HTTP_IDEMPOTENCY_KEY="sched-1")

    again = api_client.post_json(
        "/v1/faxes", {**body, "send_at": iso(in_hours(2))}, HTTP_IDEMPOTENCY_KEY="sched-1"
    )

    assert first.status_code == 201
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "idempotency_key_reused"


def test_it_replays_a_scheduled_send_retried_after_its_send_at(
    api_client: ApiClient, pipeline
) -> None:
    send_at = timezone.now() + timedelta(minutes=1)
    body = {"to": "+15551234567", "document": documents.inline_pdf(), "send_at": iso(send_at)}
    first = api_client.post_json("/v1/faxes", body, HTTP_IDEMPOTENCY_KEY="sched-retry")

    # The client lost the answer and retries the same request once send_at has passed.
    with time_machine.travel(send_at + timedelta(minutes=1)):
        again = api_client.post_json("/v1/faxes", body, HTTP_IDEMPOTENCY_KEY="sched-retry")

    assert first.status_code == 201, first.content
    assert again.status_code == 201, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Fax.objects.count() == 1


def test_a_scheduled_fax_is_stamped_with_the_time_it_leaves(telnyx, accepted_fax, release) -> None:
    send_at = in_hours(24 * 3)
    fax = accepted_fax(send_at=iso(send_at))
    telnyx.accepts_media()
    telnyx.accepts_fax()

    release(send_at + timedelta(seconds=2))
    with at(send_at + timedelta(seconds=3)):
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
        expected = fax_pipeline.fax_header_text(fax, sent_at=timezone.now())

    [upload] = telnyx.posts_to("/media")
    body = upload.request.body
    pdf = body[body.index(b"%PDF") : body.rindex(b"%%EOF") + 5]
    first_page = documents.page_texts(pdf)[0]
    assert expected.split("   ")[0] in first_page
    assert str(send_at.astimezone(UTC).date()) != str(timezone.now().date())


def test_a_sandbox_fax_scheduled_with_a_test_key_goes_to_the_simulator(
    account, pipeline, release
) -> None:
    _, secret = make_key(account, livemode=False)
    client = ApiClient(secret)
    send_at = in_hours(1)
    response = client.post_json(
        "/v1/faxes",
        {"to": "+15550000001", "document": documents.inline_pdf(), "send_at": iso(send_at)},
    )
    assert response.json()["status"] == "scheduled"

    release(send_at)
    with at(send_at):
        fax_pipeline.fax_submit_to_carrier(fax_id=response.json()["id"])

    fax = Fax.objects.get(pk=response.json()["id"])
    assert (fax.livemode, fax.status, fax.carrier) == (False, FaxStatus.SENDING, "simulator")


def test_the_release_is_recorded_in_the_history(accepted_fax, pipeline, release) -> None:
    send_at = in_hours(1)
    fax = accepted_fax(send_at=iso(send_at))

    release(send_at)

    assert [(event.source, event.type) for event in fax_history(fax=fax)] == [
        ("api", "fax.created"),
        ("schedule", "status.queued"),
    ]


def test_the_release_task_is_on_the_beat_every_5_seconds(settings) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["faxes-release-scheduled"]

    assert entry == {"task": "faxes.tasks.faxes_release_scheduled_task", "schedule": 5.0}


def test_the_release_query_uses_the_scheduled_index(accepted_fax, pipeline) -> None:
    from django.db import connection

    accepted_fax(send_at=iso(in_hours(1)))
    query = Fax.objects.filter(status=FaxStatus.SCHEDULED, send_at__lte=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = query.order_by("send_at").explain()

    assert "fax_scheduled_due" in plan


def test_a_scheduled_faxs_download_shows_the_header_it_will_leave_with(
    api_client: ApiClient, accepted_fax
) -> None:
    send_at = in_hours(24 * 3)
    fax = accepted_fax(send_at=iso(send_at))

    response = api_client.get(f"/v1/faxes/{fax.id}/document")

    with fax.document.open("rb") as stored:
        expected = stamp_header(stored.read(), text=fax_header_text(fax, sent_at=send_at))
    assert b"".join(response.streaming_content) == expected
