"""A presigned `document_url`: its token is kept for the fetch and shown in no answer or webhook."""

from __future__ import annotations

import json

import pytest

from developers.models import WebhookDelivery
from developers.services import webhook_deliveries, webhook_endpoints
from faxes.models import Fax, FaxStatus
from faxes.services import status as fax_status
from tests.conftest import ApiClient
from tests.factories import FaxFactory

pytestmark = pytest.mark.django_db

PRESIGNED = (
    "https://bucket.s3.amazonaws.com/referral.pdf"
    "?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=5ecr3t&X-Amz-Expires=300#page=2"
)
SHOWN = "https://bucket.s3.amazonaws.com/referral.pdf"


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("faxes.services.intake.fax_pipeline_start", lambda *, fax: None)


def test_the_answer_to_a_send_shows_the_url_without_its_query_but_keeps_it_for_the_fetch(
    api_client: ApiClient, queued: None
) -> None:
    response = api_client.post_json("/v1/faxes", {"to": "+15551234567", "document_url": PRESIGNED})

    assert response.status_code == 201
    assert response.json()["document"]["url"] == SHOWN
    assert "5ecr3t" not in response.content.decode()
    assert Fax.objects.get().document_url == PRESIGNED


def test_reading_a_fax_shows_the_url_without_its_query(account, api_client: ApiClient) -> None:
    fax = FaxFactory(account=account, document_source="url", document_url=PRESIGNED)

    one = api_client.get(f"/v1/faxes/{fax.id}")
    listed = api_client.get("/v1/faxes")

    assert one.json()["document"]["url"] == SHOWN
    assert listed.json()["data"][0]["document"]["url"] == SHOWN


def test_a_webhook_shows_the_url_without_its_query(account, receiver) -> None:
    webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url())
    fax = FaxFactory(
        account=account, document_source="url", document_url=PRESIGNED, status=FaxStatus.SENDING
    )

    fax_status.fax_advance(fax=fax, status=FaxStatus.DELIVERED, source="test", pages_delivered=1)
    for delivery_id in webhook_deliveries.webhook_deliveries_claim():
        webhook_deliveries.webhook_delivery_attempt(delivery_id=delivery_id)

    assert WebhookDelivery.objects.get().status == "succeeded"
    [got] = receiver.received
    assert json.loads(got.body)["data"]["object"]["document"]["url"] == SHOWN
    assert b"5ecr3t" not in got.body


def test_the_dashboard_shows_the_url_without_its_query(account, owner_client) -> None:
    fax = FaxFactory(account=account, document_source="url", document_url=PRESIGNED)

    page = owner_client.get(f"/dashboard/faxes/{fax.id}").content.decode()

    assert SHOWN in page
    assert "5ecr3t" not in page
