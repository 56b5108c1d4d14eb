"""POST /v1/faxes/{id}/resend: a new fax with the same stored document, `resent_from` set."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Account
from developers.models import Scope
from faxes.models import DocumentSource, Fax, FaxStatus
from faxes.services import pipeline as fax_pipeline
from faxes.services.inbound import inbound_fax_simulate
from tests import documents
from tests.conftest import ApiClient, make_key
from tests.factories import FaxFactory, FaxNumberFactory

pytestmark = pytest.mark.django_db

FETCH = "faxes.tasks.fax_fetch_task"
SUBMIT = "faxes.tasks.fax_submit_task"
FORWARD_TO = "+15550107777"


@pytest.fixture
def resend(api_client: ApiClient, pipeline, django_capture_on_commit_callbacks):
    """POST /v1/faxes/{id}/resend (no body unless given), running what commits start."""

    def post(fax_id: str, body: dict | None = None, *, client: ApiClient | None = None, **extra):
        client = client or api_client
        with django_capture_on_commit_callbacks(execute=True):
            if body is None:
                # As `curl -X POST` sends it: no body, no Content-Type.
                return client.generic("POST", f"/v1/faxes/{fax_id}/resend", **extra)
            return client.post_json(f"/v1/faxes/{fax_id}/resend", body, **extra)

    return post


@pytest.fixture
def original(accepted_fax) -> Fax:
    """A delivered fax with a cover page, its header text, redial and a reference."""
    fax = accepted_fax(
        cover_page={"subject": "Referral"},
        header_text="North Clinic",
        retry={"attempts": 2, "interval_seconds": 120},
        client_reference="ref-42",
    )
    Fax.objects.filter(pk=fax.pk).update(status=FaxStatus.DELIVERED, completed_at=timezone.now())
    fax.refresh_from_db()
    return fax


def copied(fax_id: str, django_capture_on_commit_callbacks) -> Fax:
    """Run the worker's copy of the resent document."""
    with django_capture_on_commit_callbacks(execute=True):
        assert fax_pipeline.fax_fetch_document(fax_id=fax_id) is True
    return Fax.objects.get(pk=fax_id)


def test_it_creates_a_new_fax_resent_from_the_original(resend, original: Fax) -> None:
    response = resend(original.id)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] != original.id
    assert response["Location"] == f"/v1/faxes/{body['id']}"
    assert body["resent_from"] == original.id
    assert (body["status"], body["to"], body["from"]) == (
        "queued",
        original.to_number,
        original.from_number,
    )


def test_it_keeps_the_originals_options(resend, original: Fax) -> None:
    body = resend(original.id).json()

    assert body["retry"] == {"attempts": 2, "interval_seconds": 120}
    assert body["client_reference"] == "ref-42"
    assert body["document"]["cover_page"] is True
    assert body["document"]["header"] is True
    assert body["document"]["source"] == "copy"
    assert body["page_count"] == original.page_count
    assert Fax.objects.get(pk=body["id"]).header_text == "North Clinic"


def test_it_sends_to_a_new_number(resend, original: Fax) -> None:
    body = resend(original.id, {"to": "+15550108888"}).json()

    assert body["to"] == "+15550108888"


def test_it_leaves_the_original_unchanged(api_client: ApiClient, resend, original: Fax) -> None:
    before = api_client.get(f"/v1/faxes/{original.id}").json()

    resend(original.id, {"to": FORWARD_TO})

    assert api_client.get(f"/v1/faxes/{original.id}").json() == before


def test_the_worker_copies_the_document_into_the_new_faxs_own_object(
    resend, accepted_fax, pipeline, django_capture_on_commit_callbacks
) -> None:
    original = accepted_fax()
    new_id = resend(original.id).json()["id"]
    assert [name for name, args, _ in pipeline if args == [new_id]] == [FETCH]

    new = copied(new_id, django_capture_on_commit_callbacks)

    assert new.document.name != original.document.name
    assert new.document.open("rb").read() == original.document.open("rb").read()
    assert [name for name, args, _ in pipeline if args == [new_id]] == [FETCH, SUBMIT]


def test_a_resend_to_another_number_gets_a_cover_page_naming_that_number(
    resend, original: Fax, django_capture_on_commit_callbacks
) -> None:
    new = copied(
        resend(original.id, {"to": FORWARD_TO}).json()["id"], django_capture_on_commit_callbacks
    )

    cover, *rest = documents.page_texts(new.document.open("rb").read())
    assert FORWARD_TO in cover
    assert original.to_number not in cover
    assert "Referral" in cover
    assert f"Pages: {original.page_count} (including this cover page)" in cover
    assert rest == documents.page_texts(original.document.open("rb").read())[1:]


def test_deleting_the_originals_document_leaves_the_copy(
    api_client: ApiClient, resend, original: Fax, django_capture_on_commit_callbacks
) -> None:
    new = copied(resend(original.id).json()["id"], django_capture_on_commit_callbacks)

    assert api_client.delete(f"/v1/faxes/{original.id}/document").status_code == 200

    assert new.document.open("rb").read().startswith(b"%PDF")


def test_a_resend_gets_its_own_header_with_its_own_send_time(
    telnyx, resend, original: Fax, django_capture_on_commit_callbacks
) -> None:
    new = copied(resend(original.id).json()["id"], django_capture_on_commit_callbacks)
    telnyx.accepts_media()
    telnyx.accepts_fax()
    later = timezone.now() + timedelta(days=2)

    with time_machine.travel(later, tick=False):
        fax_pipeline.fax_submit_to_carrier(fax_id=new.id)
        expected = fax_pipeline.fax_header_text(new, sent_at=timezone.now())

    [upload] = telnyx.posts_to("/media")
    body = upload.request.body
    first_page = documents.page_texts(body[body.index(b"%PDF") : body.rindex(b"%%EOF") + 5])[0]
    assert expected.split("   ")[0] in first_page
    assert "North Clinic" in first_page


def test_a_document_deleted_before_the_copy_fails_the_resend(
    api_client: ApiClient, resend, original: Fax, django_capture_on_commit_callbacks
) -> None:
    new_id = resend(original.id).json()["id"]
    api_client.delete(f"/v1/faxes/{original.id}/document")

    assert fax_pipeline.fax_fetch_document(fax_id=new_id) is False

    body = api_client.get(f"/v1/faxes/{new_id}").json()
    assert (body["status"], body["failure_reason"]) == ("failed", "document_invalid")
    assert original.id in body["failure_message"]


def test_a_purged_document_is_410(api_client: ApiClient, resend, original: Fax) -> None:
    api_client.delete(f"/v1/faxes/{original.id}/document")

    response = resend(original.id)

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "document_purged"
    assert Fax.objects.count() == 1


def test_a_url_document_not_fetched_yet_is_409(api_client: ApiClient, resend) -> None:
    sent = api_client.post_json(
        "/v1/faxes", {"to": "+15551234567", "document_url": "https://docs.example.com/a.pdf"}
    ).json()

    response = resend(sent["id"])

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "document_not_ready"


def test_a_fax_that_finished_without_a_document_is_409_document_missing(
    account: Account, resend
) -> None:
    fax = FaxFactory(account=account, status=FaxStatus.FAILED, document_source="url")

    response = resend(fax.id)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "document_missing"


def test_another_accounts_fax_is_404(resend, other_account: Account) -> None:
    fax = FaxFactory(account=other_account, document="faxes/x.pdf")

    response = resend(fax.id)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_unknown_fax_is_404(resend) -> None:
    assert resend("fax_doesnotexist").status_code == 404


def test_a_missing_key_is_401(original: Fax, resend) -> None:
    assert resend(original.id, client=ApiClient()).status_code == 401


def test_a_key_without_faxes_send_is_403(account: Account, original: Fax, resend) -> None:
    client = ApiClient(make_key(account, scopes=[Scope.FAXES_READ])[1])

    response = resend(original.id, client=client)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_a_plan_without_the_api_is_403(starter_account: Account, resend) -> None:
    FaxNumberFactory(account=starter_account)
    fax = FaxFactory(account=starter_account, document="faxes/x.pdf")

    response = resend(fax.id, client=ApiClient(make_key(starter_account)[1]))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "plan_upgrade_required"


@pytest.mark.parametrize(
    ("body", "param"),
    [({"to": "12"}, "to"), ({"cc": "+15550107777"}, "cc"), ({"from": "+15550109999"}, "from")],
)
def test_bad_input_is_400_naming_the_param(resend, original: Fax, body: dict, param: str) -> None:
    response = resend(original.id, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("validation_error", param)


def test_a_sender_no_longer_the_accounts_is_400_on_from(resend, original: Fax) -> None:
    Fax.objects.filter(pk=original.pk).update(from_number="+15550109999")

    response = resend(original.id)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "from"


def test_get_is_405(api_client: ApiClient, original: Fax) -> None:
    assert api_client.get(f"/v1/faxes/{original.id}/resend").status_code == 405


def test_the_same_idempotency_key_answers_the_same_fax_once(resend, original: Fax) -> None:
    first = resend(original.id, {"to": FORWARD_TO}, HTTP_IDEMPOTENCY_KEY="resend-1")
    again = resend(original.id, {"to": FORWARD_TO}, HTTP_IDEMPOTENCY_KEY="resend-1")

    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Fax.objects.filter(resent_from=original).count() == 1


def test_the_key_with_another_number_is_422(resend, original: Fax) -> None:
    resend(original.id, {"to": FORWARD_TO}, HTTP_IDEMPOTENCY_KEY="resend-2")

    response = resend(original.id, {"to": "+15550108888"}, HTTP_IDEMPOTENCY_KEY="resend-2")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def received(account: Account) -> Fax:
    return inbound_fax_simulate(
        number=account.fax_numbers.first().number,
        from_="+15550106666",
        document=documents.pdf_bytes(pages=2),
        livemode=True,
        account=account,
    )


def test_forwarding_a_received_fax_needs_to(account: Account, resend) -> None:
    fax = received(account)

    response = resend(fax.id)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "to"


def test_a_received_fax_is_forwarded_from_the_number_it_came_in_on(
    account: Account, resend
) -> None:
    fax = received(account)

    body = resend(fax.id, {"to": FORWARD_TO}).json()

    assert (body["direction"], body["status"]) == ("outbound", "queued")
    assert (body["to"], body["from"], body["resent_from"]) == (FORWARD_TO, fax.to_number, fax.id)
    assert body["document"]["header"] is True
    assert body["page_count"] == 2


def test_a_fax_still_being_received_is_409(account: Account, resend) -> None:
    fax = FaxFactory(
        account=account,
        direction="inbound",
        status=FaxStatus.RECEIVING,
        document_source=DocumentSource.CARRIER,
    )

    response = resend(fax.id, {"to": FORWARD_TO})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "document_not_ready"


def test_a_test_key_resends_in_the_sandbox(account: Account, resend) -> None:
    client = ApiClient(make_key(account, livemode=False)[1])
    sent = client.post_json(
        "/v1/faxes", {"to": "+15550000001", "document": documents.inline_pdf()}
    ).json()

    body = resend(sent["id"], client=client).json()

    assert (body["livemode"], body["resent_from"]) == (False, sent["id"])


def test_a_test_key_cannot_resend_a_live_fax(account: Account, resend, original: Fax) -> None:
    client = ApiClient(make_key(account, livemode=False)[1])

    response = resend(original.id, client=client)

    assert response.status_code == 404
    assert not Fax.objects.filter(resent_from=original).exists()


def test_a_live_key_cannot_resend_a_test_fax(account: Account, resend) -> None:
    client = ApiClient(make_key(account, livemode=False)[1])
    sent = client.post_json(
        "/v1/faxes", {"to": "+15550000001", "document": documents.inline_pdf()}
    ).json()

    response = resend(sent["id"])

    assert response.status_code == 404
    assert not Fax.objects.filter(resent_from_id=sent["id"]).exists()


def test_a_malformed_idempotency_key_is_400(resend, original: Fax) -> None:
    response = resend(original.id, {}, HTTP_IDEMPOTENCY_KEY="ünïcode")

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"


def test_a_body_that_is_not_json_is_415(api_client: ApiClient, original: Fax) -> None:
    response = api_client.post(
        f"/v1/faxes/{original.id}/resend", data="to=+15550108888", content_type="text/plain"
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
