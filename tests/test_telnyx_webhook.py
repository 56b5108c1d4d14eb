"""POST /webhooks/telnyx, fed saved payloads signed with a key pair made here."""

from __future__ import annotations

import time

import pytest

from faxes.models import Fax, FaxEvent, FaxStatus
from faxes.services import pipeline as fax_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def sending_fax(telnyx, accepted_fax) -> tuple[Fax, str]:
    """A fax Telnyx accepted: status sending, with Telnyx's id stored."""
    fax = accepted_fax()
    telnyx.accepts_media()
    carrier_fax_id = telnyx.accepts_fax()
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    fax.refresh_from_db()
    return fax, carrier_fax_id


def status_of(fax: Fax) -> dict:
    from tests.conftest import ApiClient, make_key

    return ApiClient(make_key(fax.account)[1]).get(f"/v1/faxes/{fax.id}").json()


def test_a_delivered_event_shows_in_the_api(telnyx, sending_fax) -> None:
    fax, carrier_fax_id = sending_fax

    response = telnyx.deliver(telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id))

    assert response.status_code == 200
    body = status_of(fax)
    assert body["status"] == "delivered"
    assert body["pages_delivered"] == 3
    assert body["completed_at"] is not None


def test_a_failed_event_gives_a_code_and_telnyx_reason(telnyx, sending_fax) -> None:
    fax, carrier_fax_id = sending_fax

    telnyx.deliver(telnyx.event("fax.failed", fax=fax, carrier_fax_id=carrier_fax_id))

    body = status_of(fax)
    assert body["status"] == "failed"
    assert body["failure_reason"] == "busy"
    assert "user_busy" in body["failure_message"]


@pytest.mark.parametrize(
    ("telnyx_reason", "code"),
    [
        ("receiver_no_answer", "no_answer"),
        ("receiver_unallocated_number", "invalid_number"),
        ("destination_invalid", "invalid_number"),
        ("fax_signaling_error", "transmission_error"),
        ("file_format_invalid", "document_invalid"),
        ("something_new_from_telnyx", "carrier_error"),
    ],
)
def test_failure_reasons_map_to_documented_codes(
    telnyx, sending_fax, telnyx_reason: str, code: str
) -> None:
    fax, carrier_fax_id = sending_fax

    telnyx.deliver(
        telnyx.event(
            "fax.failed", fax=fax, carrier_fax_id=carrier_fax_id, failure_reason=telnyx_reason
        )
    )

    fax.refresh_from_db()
    assert fax.failure_reason == code
    assert telnyx_reason in fax.failure_message


def test_every_event_is_kept_in_the_history(telnyx, sending_fax) -> None:
    fax, carrier_fax_id = sending_fax

    for name in ("fax.queued", "fax.sending.started", "fax.delivered"):
        telnyx.deliver(telnyx.event(name, fax=fax, carrier_fax_id=carrier_fax_id))

    carrier_events = list(
        fax.events.filter(carrier_event_id__isnull=False).values_list("type", flat=True)
    )
    assert carrier_events == ["fax.queued", "fax.sending.started", "fax.delivered"]


def test_a_duplicate_event_answers_200_and_changes_nothing(telnyx, sending_fax) -> None:
    fax, carrier_fax_id = sending_fax
    body = telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id)
    telnyx.deliver(body)
    fax.refresh_from_db()
    first_completed = fax.completed_at

    again = telnyx.deliver(body)

    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    fax.refresh_from_db()
    assert fax.completed_at == first_completed
    assert FaxEvent.objects.filter(fax=fax, type="fax.delivered").count() == 1


def test_a_late_sending_event_after_delivery_changes_nothing(telnyx, sending_fax) -> None:
    fax, carrier_fax_id = sending_fax
    telnyx.deliver(telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id))

    telnyx.deliver(telnyx.event("fax.sending.started", fax=fax, carrier_fax_id=carrier_fax_id))

    fax.refresh_from_db()
    assert fax.status == FaxStatus.DELIVERED


def test_a_failure_after_delivery_does_not_undo_it(telnyx, sending_fax) -> None:
    fax, carrier_fax_id = sending_fax
    telnyx.deliver(telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id))

    telnyx.deliver(telnyx.event("fax.failed", fax=fax, carrier_fax_id=carrier_fax_id))

    fax.refresh_from_db()
    assert fax.status == FaxStatus.DELIVERED
    assert fax.failure_reason == ""


def test_an_event_that_beats_our_stored_id_is_matched_by_client_state(telnyx, accepted_fax) -> None:
    fax = accepted_fax()
    fax_pipeline.fax_claim(fax_id=fax.id)  # submitting; Telnyx's answer has not arrived yet

    response = telnyx.deliver(
        telnyx.event("fax.sending.started", fax=fax, carrier_fax_id="early-1")
    )

    assert response.json() == {"status": "applied"}
    fax.refresh_from_db()
    assert fax.carrier_fax_id == "early-1"
    assert fax.status == FaxStatus.SENDING


def test_our_answer_arriving_after_an_early_event_keeps_the_fax_consistent(
    telnyx, accepted_fax
) -> None:
    fax = accepted_fax()
    telnyx.accepts_media()
    telnyx.accepts_fax("late-answer-1")
    fax_pipeline.fax_claim(fax_id=fax.id)
    telnyx.deliver(telnyx.event("fax.delivered", fax=fax, carrier_fax_id="late-answer-1"))

    token = Fax.objects.get(pk=fax.pk).submit_token
    fax_pipeline.fax_submit_to_carrier(fax_id=fax.id, token=token)

    fax.refresh_from_db()
    assert fax.status == FaxStatus.DELIVERED
    assert fax.carrier_fax_id == "late-answer-1"


def test_an_event_for_an_unknown_fax_answers_200(telnyx, accepted_fax, caplog) -> None:
    fax = accepted_fax()
    body = telnyx.event(
        "fax.delivered", fax=fax, carrier_fax_id="nobody-knows", client_state="ZmF4X25vbmU="
    )

    response = telnyx.deliver(body)

    assert response.status_code == 200
    assert response.json() == {"status": "unknown_fax"}
    assert "unknown fax" in caplog.text


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers: (body.replace(b'"page_count": 3', b'"page_count": 9'), headers),
        lambda body, headers: (body, {**headers, "HTTP_TELNYX_SIGNATURE_ED25519": "AAAA"}),
        lambda body, headers: (body, {"HTTP_TELNYX_TIMESTAMP": headers["HTTP_TELNYX_TIMESTAMP"]}),
        lambda body, headers: (
            body,
            {"HTTP_TELNYX_SIGNATURE_ED25519": headers["HTTP_TELNYX_SIGNATURE_ED25519"]},
        ),
        lambda body, headers: (
            body,
            {**headers, "HTTP_TELNYX_TIMESTAMP": str(int(headers["HTTP_TELNYX_TIMESTAMP"]) + 1)},
        ),
    ],
    ids=["body changed", "junk signature", "no signature", "no timestamp", "other timestamp"],
)
def test_a_bad_signature_is_refused_and_changes_nothing(telnyx, sending_fax, tamper) -> None:
    fax, carrier_fax_id = sending_fax
    body = telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id)
    body, headers = tamper(body, telnyx.sign(body))

    response = telnyx.deliver(body, **headers)

    assert response.status_code == 401
    fax.refresh_from_db()
    assert fax.status == FaxStatus.SENDING


@pytest.mark.parametrize("skew", [-330, 330])  # the exact edges: test_signing.py
def test_a_stale_or_future_timestamp_is_refused(telnyx, sending_fax, skew: int) -> None:
    fax, carrier_fax_id = sending_fax
    body = telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id)

    response = telnyx.deliver(body, **telnyx.sign(body, timestamp=int(time.time()) + skew))

    assert response.status_code == 401


def test_a_key_pair_other_than_the_configured_one_is_refused(telnyx, sending_fax) -> None:
    from tests.telnyx import FakeTelnyx

    fax, carrier_fax_id = sending_fax
    impostor = FakeTelnyx(telnyx.mock)
    body = telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id)

    assert telnyx.deliver(body, **impostor.sign(body)).status_code == 401


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"data": {"id": "x"}}', b"[]"])
def test_an_unreadable_body_is_400_never_500(telnyx, body: bytes) -> None:
    assert telnyx.deliver(body).status_code == 400


def test_without_a_public_key_every_webhook_is_refused(telnyx, sending_fax, settings) -> None:
    fax, carrier_fax_id = sending_fax
    body = telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id)
    settings.TELNYX_PUBLIC_KEY = ""

    assert telnyx.deliver(body).status_code == 403
    fax.refresh_from_db()
    assert fax.status == FaxStatus.SENDING


def test_it_needs_no_csrf_token_and_only_takes_post(telnyx, sending_fax) -> None:
    from django.test import Client

    fax, carrier_fax_id = sending_fax
    body = telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id)
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(
        "/webhooks/telnyx", data=body, content_type="application/json", **telnyx.sign(body)
    )

    assert response.status_code == 200
    assert strict.get("/webhooks/telnyx").status_code == 405


def test_nul_bytes_in_a_signed_event_do_not_break_it(telnyx, sending_fax) -> None:
    fax, carrier_fax_id = sending_fax
    body = telnyx.event(
        "fax.failed",
        fax=fax,
        carrier_fax_id=carrier_fax_id,
        failure_reason="user_\u0000busy",
        note="a\u0000b",
    )

    response = telnyx.deliver(body)

    assert response.status_code == 200
    fax.refresh_from_db()
    assert fax.failure_reason == "busy"


def test_an_absurd_page_count_is_ignored(telnyx, sending_fax) -> None:
    fax, carrier_fax_id = sending_fax

    telnyx.deliver(
        telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id, page_count=70000)
    )

    fax.refresh_from_db()
    assert fax.status == FaxStatus.DELIVERED
    assert fax.pages_delivered is None


@pytest.mark.parametrize(
    "change",
    [
        lambda body: body["data"]["payload"].update(fax_id="x" * 65),
        lambda body: body["data"].update(occurred_at="9999-12-31T23:59:59-23:59"),
        lambda body: body["data"].update(id="e" * 65),
    ],
)
def test_an_event_out_of_range_is_a_400(telnyx, sending_fax, change) -> None:
    import json

    fax, carrier_fax_id = sending_fax
    body = json.loads(telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id))
    change(body)

    assert telnyx.deliver(json.dumps(body).encode()).status_code == 400


def test_it_answers_400_to_a_5000_digit_timestamp(telnyx, sending_fax) -> None:
    fax, carrier_fax_id = sending_fax
    body = telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id)
    headers = {**telnyx.sign(body), "HTTP_TELNYX_TIMESTAMP": "9" * 5000}

    response = telnyx.deliver(body, **headers)

    assert response.status_code == 400
    fax.refresh_from_db()
    assert fax.status == FaxStatus.SENDING


def test_it_answers_400_to_signed_deeply_nested_json(telnyx) -> None:
    body = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    assert telnyx.deliver(body).status_code == 400


def test_it_answers_400_to_a_signed_numeric_fax_id(telnyx, sending_fax) -> None:
    fax, _ = sending_fax
    body = telnyx.event("fax.delivered", fax=fax, carrier_fax_id=12345)

    response = telnyx.deliver(body)

    assert response.status_code == 400
    fax.refresh_from_db()
    assert fax.status == FaxStatus.SENDING


def test_it_answers_400_to_a_signed_payload_nested_just_under_the_json_limit(
    telnyx, sending_fax
) -> None:
    fax, carrier_fax_id = sending_fax
    body = telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id)
    nested = b"[" * 900 + b"]" * 900
    body = body.replace(b'"payload": {', b'"payload": {"deep": ' + nested + b", ", 1)

    response = telnyx.deliver(body)

    assert response.status_code == 400
    fax.refresh_from_db()
    assert fax.status == FaxStatus.SENDING


def test_it_answers_400_to_nan_in_a_signed_event(telnyx, sending_fax) -> None:
    fax, carrier_fax_id = sending_fax
    body = telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id)
    body = body.replace(b'"payload": {', b'"payload": {"cost": NaN, ', 1)

    assert telnyx.deliver(body).status_code == 400


def test_it_answers_400_to_a_timestamp_that_is_not_a_number(telnyx, sending_fax) -> None:
    fax, carrier_fax_id = sending_fax
    body = telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id)

    response = telnyx.deliver(body, **{**telnyx.sign(body), "HTTP_TELNYX_TIMESTAMP": "soon"})

    assert response.status_code == 400


def test_an_unusable_public_key_answers_503_not_500(telnyx, sending_fax, settings) -> None:
    fax, carrier_fax_id = sending_fax
    body = telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id)
    settings.TELNYX_PUBLIC_KEY = "not-a-key"

    assert telnyx.deliver(body).status_code == 503
