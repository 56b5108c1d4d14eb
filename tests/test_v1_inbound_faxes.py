"""Received faxes in the API: the `direction` filter on GET /v1/faxes, tenant isolation, and the
sandbox's POST /v1/test_helpers/inbound_faxes."""

from __future__ import annotations

import pytest

from accounts.models import Account
from developers.models import Scope, WebhookEvent
from developers.services import webhook_endpoints
from faxes.models import Fax
from faxes.services import fax_email, inbound
from tests import documents
from tests.conftest import ApiClient, make_key
from tests.factories import FaxFactory

pytestmark = pytest.mark.django_db

HELPER = "/v1/test_helpers/inbound_faxes"


def receive(account: Account, *, livemode: bool = True, sender: str = "anonymous") -> Fax:
    return inbound.inbound_fax_simulate(
        number=account.fax_numbers.get().number,
        from_=sender,
        document=documents.pdf_bytes(pages=2),
        livemode=livemode,
    )


@pytest.fixture
def test_client(account: Account) -> ApiClient:
    return ApiClient(make_key(account, livemode=False)[1])


def test_it_lists_both_directions_newest_first(api_client, account, pipeline) -> None:
    sent = FaxFactory(account=account)
    received = receive(account)

    body = api_client.get("/v1/faxes").json()

    assert [(f["id"], f["direction"]) for f in body["data"]] == [
        (received.id, "inbound"),
        (sent.id, "outbound"),
    ]


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
def test_it_filters_by_direction(api_client, account, pipeline, direction: str) -> None:
    FaxFactory(account=account)
    receive(account)

    body = api_client.get(f"/v1/faxes?direction={direction}").json()

    assert [f["direction"] for f in body["data"]] == [direction]


def test_it_refuses_an_unknown_direction(api_client) -> None:
    response = api_client.get("/v1/faxes?direction=sideways")

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "direction"


def test_it_shows_a_received_fax_with_its_sender_as_given(api_client, account, pipeline) -> None:
    fax = receive(account, sender="anonymous")

    body = api_client.get(f"/v1/faxes/{fax.id}").json()

    assert (body["status"], body["from"], body["page_count"]) == ("received", "anonymous", 2)
    assert body["document"] == {
        "source": "carrier",
        "content_type": "application/pdf",
        "size_bytes": fax.document_size_bytes,
        "count": 1,
        "cover_page": False,
        "header": False,
        "purged_at": None,
    }


def test_it_hides_another_accounts_received_fax(api_client, other_account, pipeline) -> None:
    fax = receive(other_account)

    assert api_client.get(f"/v1/faxes/{fax.id}").status_code == 404
    assert api_client.get("/v1/faxes?direction=inbound").json()["data"] == []


def test_the_helper_receives_a_test_fax_with_webhook_and_email(
    test_client, account, receiver, pipeline, django_capture_on_commit_callbacks
) -> None:
    number = account.fax_numbers.get()
    number.email_recipients = ["front-desk@clinic.test"]
    number.save(update_fields=["email_recipients"])
    webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url(), description="")

    with django_capture_on_commit_callbacks(execute=True):
        response = test_client.post_json(HELPER, {"to": number.number, "from": ""})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["direction"], body["status"], body["livemode"]) == ("inbound", "received", False)
    assert (body["from"], body["page_count"]) == ("", 1)
    assert WebhookEvent.objects.get(type="fax.received").livemode is False
    assert (fax_email.EMAIL_TASK, [Fax.objects.get().emails.get().pk], {}) in pipeline


def test_the_helper_takes_the_document_given(test_client, account, pipeline) -> None:
    number = account.fax_numbers.get().number
    document = documents.inline_pdf(pages=3)

    response = test_client.post_json(HELPER, {"to": number, "document": document})

    assert response.json()["page_count"] == 3


def test_the_helper_refuses_a_live_key(api_client, account) -> None:
    response = api_client.post_json(HELPER, {"to": account.fax_numbers.get().number})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "test_mode_only"
    assert not Fax.objects.exists()


def test_the_helper_refuses_a_number_of_another_account(test_client, other_account) -> None:
    response = test_client.post_json(HELPER, {"to": other_account.fax_numbers.get().number})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "to"
    assert not Fax.objects.exists()


def test_the_helper_needs_the_send_scope(account) -> None:
    client = ApiClient(make_key(account, scopes=[Scope.FAXES_READ], livemode=False)[1])

    response = client.post_json(HELPER, {"to": account.fax_numbers.get().number})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_the_helper_refuses_a_document_that_is_not_one(test_client, account) -> None:
    response = test_client.post_json(
        HELPER,
        {
            "to": account.fax_numbers.get().number,
            "document": {"content": documents.b64(b"hello"), "content_type": "application/pdf"},
        },
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "document.content"


def test_the_helper_needs_a_key() -> None:
    assert ApiClient().post_json(HELPER, {}).status_code == 401


def test_the_helper_answers_405_to_get(test_client) -> None:
    assert test_client.get(HELPER).status_code == 405


def test_the_helper_needs_a_plan_with_the_api(starter_account) -> None:
    client = ApiClient(make_key(starter_account, livemode=False)[1])

    response = client.post_json(HELPER, {"to": starter_account.fax_numbers.get().number})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "plan_upgrade_required"
