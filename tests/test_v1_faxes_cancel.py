"""POST /v1/faxes/{id}/cancel: at once before the carrier has the fax, at the carrier after."""

from __future__ import annotations

import json
import re

import pytest
import responses
from django.http import HttpResponse

from accounts.models import Account
from audit.models import Action, AuditEntry
from developers.models import Scope, WebhookEvent
from faxes import tasks
from faxes.carrier import decode_client_state
from faxes.models import Fax, FaxEvent, FaxStatus
from faxes.services import pipeline as fax_pipeline
from tests.conftest import ApiClient, make_key
from tests.factories import FaxFactory, endpoint_for_every_event
from tests.telnyx import API

pytestmark = pytest.mark.django_db

CANCEL_URL = re.compile(rf"{re.escape(API)}/faxes/[^/]+/actions/cancel")


def cancel(client: ApiClient, fax_id: str, **headers: str) -> HttpResponse:
    return client.post(f"/v1/faxes/{fax_id}/cancel", **headers)


@pytest.fixture
def sending_fax(telnyx, accepted_fax) -> tuple[Fax, str]:
    """A fax Telnyx accepted: status sending, with Telnyx's id stored."""
    fax = accepted_fax()
    telnyx.accepts_media()
    carrier_fax_id = telnyx.accepts_fax()
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    fax.refresh_from_db()
    assert fax.status == FaxStatus.SENDING
    return fax, carrier_fax_id


def telnyx_cancels(telnyx, status: int = 202, **kwargs: object) -> None:
    body = {"data": {"result": "ok"}} if status == 202 else {"errors": [{"title": "No"}]}
    telnyx.mock.add(responses.POST, CANCEL_URL, json=body, status=status, **kwargs)


@pytest.fixture
def subscribed(account: Account) -> None:
    """An endpoint of the account that wants every event (never delivered to: no commit)."""
    endpoint_for_every_event(account)


def cancel_calls(telnyx) -> list:
    return [c for c in telnyx.mock.calls if CANCEL_URL.fullmatch(c.request.url)]


# --- Before the carrier has the fax --------------------------------------------------------


def test_it_cancels_a_queued_fax_at_once(api_client: ApiClient, accepted_fax) -> None:
    fax = accepted_fax()

    response = cancel(api_client, fax.id)

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"]) == (fax.id, "canceled")
    assert body["completed_at"] is not None
    assert FaxEvent.objects.filter(fax=fax, type="status.canceled").exists()


def test_a_canceled_fax_is_never_submitted(api_client: ApiClient, telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.accepts_fax()
    cancel(api_client, fax.id)

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    assert telnyx.posts_to("/faxes") == []
    fax.refresh_from_db()
    assert fax.status == FaxStatus.CANCELED


def test_a_fax_claimed_by_a_worker_that_has_not_posted_is_canceled_at_once(
    api_client: ApiClient, telnyx, accepted_fax
) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.accepts_fax()
    token = fax_pipeline.fax_claim(fax_id=fax.id)

    response = cancel(api_client, fax.id)
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id, token=token)

    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert telnyx.posts_to("/faxes") == []


def test_it_emits_fax_canceled(api_client: ApiClient, accepted_fax, subscribed) -> None:
    fax = accepted_fax()

    cancel(api_client, fax.id)

    event = WebhookEvent.objects.get(object_id=fax.id)
    assert event.type == "fax.canceled"
    assert event.body["data"]["object"]["status"] == "canceled"


# --- With the carrier ---------------------------------------------------------------------


def test_it_asks_telnyx_to_cancel_a_sending_fax(api_client, telnyx, sending_fax) -> None:
    fax, carrier_fax_id = sending_fax
    telnyx_cancels(telnyx)

    response = cancel(api_client, fax.id)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "sending"
    assert body["cancel_requested_at"] is not None
    [call] = cancel_calls(telnyx)
    assert call.request.url == f"{API}/faxes/{carrier_fax_id}/actions/cancel"


def test_a_fax_telnyx_stops_after_the_cancel_becomes_canceled(
    api_client, telnyx, sending_fax, subscribed
) -> None:
    fax, carrier_fax_id = sending_fax
    telnyx_cancels(telnyx)
    cancel(api_client, fax.id)

    telnyx.deliver(
        telnyx.event(
            "fax.failed", fax=fax, carrier_fax_id=carrier_fax_id, failure_reason="user_canceled"
        )
    )

    body = api_client.get(f"/v1/faxes/{fax.id}").json()
    assert (body["status"], body["failure_reason"]) == ("canceled", None)
    types = WebhookEvent.objects.filter(object_id=fax.id).values_list("type", flat=True)
    assert "fax.canceled" in set(types)
    assert "fax.failed" not in set(types)


def test_a_fax_telnyx_delivers_despite_the_cancel_stays_delivered(
    api_client, telnyx, sending_fax
) -> None:
    fax, carrier_fax_id = sending_fax
    telnyx_cancels(telnyx)
    cancel(api_client, fax.id)

    telnyx.deliver(telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id))

    assert api_client.get(f"/v1/faxes/{fax.id}").json()["status"] == "delivered"


def test_a_cancel_telnyx_refuses_as_past_sending_is_409_and_changes_nothing(
    api_client, telnyx, sending_fax
) -> None:
    fax, carrier_fax_id = sending_fax
    telnyx_cancels(telnyx, status=422)

    response = cancel(api_client, fax.id)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "fax_not_cancelable"
    fax.refresh_from_db()
    assert (fax.status, fax.cancel_requested_at) == (FaxStatus.SENDING, None)
    # A failure reported afterwards is a failure, not a cancel.
    telnyx.deliver(telnyx.event("fax.failed", fax=fax, carrier_fax_id=carrier_fax_id))
    assert api_client.get(f"/v1/faxes/{fax.id}").json()["status"] == "failed"


def test_a_cancel_after_telnyx_delivered_is_409_and_the_fax_stays_delivered(
    api_client, telnyx, sending_fax
) -> None:
    fax, carrier_fax_id = sending_fax
    telnyx.deliver(telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id))

    response = cancel(api_client, fax.id)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "fax_not_cancelable"
    assert api_client.get(f"/v1/faxes/{fax.id}").json()["status"] == "delivered"
    assert cancel_calls(telnyx) == []


def test_telnyx_unreachable_is_503_with_retry_after_and_changes_nothing(
    api_client, telnyx, sending_fax
) -> None:
    fax, _ = sending_fax
    telnyx_cancels(telnyx, status=503, headers={"Retry-After": "7"})

    response = cancel(api_client, fax.id)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "carrier_unavailable"
    assert response["Retry-After"] == "7"
    fax.refresh_from_db()
    assert fax.cancel_requested_at is None


def test_a_cancel_while_the_post_outcome_is_unknown_reaches_telnyx_once_adopted(
    api_client, telnyx, accepted_fax
) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    # The POST may have reached Telnyx: a 502 leaves its outcome unknown.
    telnyx.mock.add(responses.POST, f"{API}/faxes", status=502)
    with pytest.raises(fax_pipeline.RetryLater) as later:
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)

    response = cancel(api_client, fax.id)
    assert response.status_code == 202
    # The retry finds the fax the POST created, adopts it, and passes the cancel on.
    telnyx.mock.add(
        responses.GET,
        f"{API}/faxes",
        json={
            "data": [{"id": "tx-1", "status": "queued", "client_state": post_state(telnyx)}],
            "meta": {"total_pages": 1},
        },
    )
    telnyx_cancels(telnyx)
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id, token=later.value.token)

    fax.refresh_from_db()
    assert fax.carrier_fax_id == "tx-1"
    assert [c.request.url for c in cancel_calls(telnyx)] == [f"{API}/faxes/tx-1/actions/cancel"]
    assert len(telnyx.posts_to("/faxes")) == 1


def post_state(telnyx) -> str:
    [post] = telnyx.posts_to("/faxes")
    return json.loads(post.request.body)["client_state"]


def test_a_cancel_while_the_post_outcome_is_unknown_ends_canceled_if_nothing_was_created(
    api_client, telnyx, accepted_fax
) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.mock.add(responses.POST, f"{API}/faxes", status=502)
    with pytest.raises(fax_pipeline.RetryLater) as later:
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    cancel(api_client, fax.id)
    telnyx.mock.add(responses.GET, f"{API}/faxes", json={"data": [], "meta": {"total_pages": 1}})

    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id, token=later.value.token)

    fax.refresh_from_db()
    assert fax.status == FaxStatus.CANCELED
    assert len(telnyx.posts_to("/faxes")) == 1


# --- The sandbox -----------------------------------------------------------------------------


def test_a_test_mode_fax_is_canceled_by_the_simulator(account: Account, pipeline) -> None:
    from tests import documents

    client = ApiClient(make_key(account, livemode=False)[1])
    # +15550000007 is delivered only after 60 seconds: time enough to cancel it.
    sent = client.post_json(
        "/v1/faxes", {"to": "+15550000007", "document": documents.inline_pdf(pages=1)}
    ).json()
    fax_pipeline.fax_submit_to_carrier(fax_id=sent["id"])

    response = cancel(client, sent["id"])
    [(_, _, kwargs)] = [p for p in pipeline if p[0] == "faxes.tasks.simulator_cancel_task"]
    tasks.simulator_cancel_task.run(**kwargs)

    assert response.status_code == 202
    assert decode_client_state(kwargs["client_state"]) == sent["id"]
    assert client.get(f"/v1/faxes/{sent['id']}").json()["status"] == "canceled"


def test_the_simulator_refuses_to_cancel_a_fax_past_sending(account: Account, pipeline) -> None:
    from datetime import timedelta

    from tests import documents

    client = ApiClient(make_key(account, livemode=False)[1])
    sent = client.post_json(
        "/v1/faxes", {"to": "+15551234567", "document": documents.inline_pdf(pages=1)}
    ).json()
    fax_pipeline.fax_submit_to_carrier(fax_id=sent["id"])
    fax = Fax.objects.get(pk=sent["id"])
    Fax.objects.filter(pk=fax.pk).update(submitted_at=fax.submitted_at - timedelta(minutes=5))

    response = cancel(client, sent["id"])

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "fax_not_cancelable"


# --- The audit log ------------------------------------------------------------------------


def test_a_cancel_is_in_the_audit_log_with_the_key_as_actor(
    account: Account, api_key, accepted_fax
) -> None:
    fax = accepted_fax()

    cancel(ApiClient(api_key[1]), fax.id, REMOTE_ADDR="203.0.113.9")

    [entry] = AuditEntry.objects.filter(action=Action.FAX_CANCELED)
    assert (entry.account_id, entry.target_type, entry.target_id) == (account.pk, "fax", fax.id)
    assert (entry.actor_type, entry.actor_id, entry.ip) == ("api_key", api_key[0].pk, "203.0.113.9")
    # Named as the dashboard names the key: its name and display prefix, never the secret.
    assert entry.actor_label == str(api_key[0])
    assert api_key[0].prefix in entry.actor_label
    assert entry.details == {"outcome": "canceled", "livemode": True}
    assert fax.to_number not in entry.target_label


def test_a_cancel_at_the_carrier_is_audited_as_requested(api_client, telnyx, sending_fax) -> None:
    fax, _ = sending_fax
    telnyx_cancels(telnyx)

    cancel(api_client, fax.id)

    [entry] = AuditEntry.objects.filter(action=Action.FAX_CANCELED, target_id=fax.id)
    assert entry.details["outcome"] == "requested"


def test_a_refused_or_replayed_cancel_is_not_audited_again(
    api_client: ApiClient, account: Account, accepted_fax
) -> None:
    fax = accepted_fax()
    finished = FaxFactory(account=account, status=FaxStatus.DELIVERED)

    cancel(api_client, fax.id, HTTP_IDEMPOTENCY_KEY="once")
    cancel(api_client, fax.id, HTTP_IDEMPOTENCY_KEY="once")
    cancel(api_client, finished.id)

    assert AuditEntry.objects.filter(action=Action.FAX_CANCELED).count() == 1


# --- Idempotency-Key ----------------------------------------------------------------------


def test_the_same_idempotency_key_replays_the_first_answer(
    api_client: ApiClient, accepted_fax
) -> None:
    fax = accepted_fax()

    first = cancel(api_client, fax.id, HTTP_IDEMPOTENCY_KEY="cancel-1")
    again = cancel(api_client, fax.id, HTTP_IDEMPOTENCY_KEY="cancel-1")
    without_key = cancel(api_client, fax.id)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert without_key.status_code == 409


def test_a_key_used_for_another_request_is_422(api_client: ApiClient, accepted_fax) -> None:
    fax = accepted_fax()
    other = accepted_fax()
    cancel(api_client, other.id, HTTP_IDEMPOTENCY_KEY="used")

    response = cancel(api_client, fax.id, HTTP_IDEMPOTENCY_KEY="used")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    fax.refresh_from_db()
    assert fax.status == FaxStatus.QUEUED


def test_a_malformed_idempotency_key_is_400(api_client: ApiClient, accepted_fax) -> None:
    fax = accepted_fax()

    response = cancel(api_client, fax.id, HTTP_IDEMPOTENCY_KEY="é")

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"


# --- The matrix ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [FaxStatus.DELIVERED, FaxStatus.FAILED, FaxStatus.CANCELED])
def test_a_finished_fax_is_409_fax_not_cancelable(
    api_client: ApiClient, account: Account, status: FaxStatus
) -> None:
    fax = FaxFactory(account=account, status=status)

    response = cancel(api_client, fax.id)

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "fax_not_cancelable",
        "message": f"This fax is {status} and can no longer be canceled.",
        "param": None,
        "request_id": response["Request-Id"],
    }


@pytest.mark.parametrize("secret", [None, "sfm_live_notakey"])
def test_a_missing_or_bad_key_is_401(account: Account, secret: str | None) -> None:
    fax = FaxFactory(account=account)

    response = cancel(ApiClient(secret), fax.id)

    assert response.status_code == 401
    assert Fax.objects.get(pk=fax.pk).status == FaxStatus.QUEUED


def test_a_plan_without_the_api_is_403(starter_account: Account) -> None:
    fax = FaxFactory(account=starter_account)

    response = cancel(ApiClient(make_key(starter_account)[1]), fax.id)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "plan_upgrade_required"


def test_canceling_needs_the_send_scope(account: Account) -> None:
    fax = FaxFactory(account=account)

    response = cancel(ApiClient(make_key(account, scopes=[Scope.FAXES_READ])[1]), fax.id)

    assert response.status_code == 403
    assert "faxes:send" in response.json()["error"]["message"]
    assert Fax.objects.get(pk=fax.pk).status == FaxStatus.QUEUED


def test_another_accounts_fax_is_404(api_client: ApiClient, other_account: Account) -> None:
    fax = FaxFactory(account=other_account)

    response = cancel(api_client, fax.id)

    assert response.status_code == 404
    assert Fax.objects.get(pk=fax.pk).status == FaxStatus.QUEUED


def test_a_test_keys_cancel_cannot_reach_a_live_fax(account: Account) -> None:
    fax = FaxFactory(account=account, livemode=True)

    response = cancel(ApiClient(make_key(account, livemode=False)[1]), fax.id)

    assert response.status_code == 404


def test_an_unknown_fax_is_404(api_client: ApiClient) -> None:
    response = cancel(api_client, "fax_doesnotexist")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_methods_are_405(api_client: ApiClient, account: Account, method: str) -> None:
    fax = FaxFactory(account=account)

    response = getattr(api_client, method)(f"/v1/faxes/{fax.id}/cancel")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_received_fax_is_409_fax_not_cancelable(api_client: ApiClient, account: Account) -> None:
    fax = FaxFactory(account=account, direction="inbound", status=FaxStatus.RECEIVING)

    response = cancel(api_client, fax.id)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "fax_not_cancelable"
    assert Fax.objects.get(pk=fax.pk).status == FaxStatus.RECEIVING
