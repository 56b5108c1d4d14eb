"""Idempotency-Key: a retry never sends twice."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account
from faxes.models import Fax, IdempotencyKey
from faxes.services import intake
from faxes.services.intake import idempotency_keys_purge
from tests import documents
from tests.conftest import ApiClient, make_key
from tests.factories import AccountFactory

URL = "/v1/faxes"
BODY = {
    "to": "+15551234567",
    "document_url": "https://docs.example.com/a.pdf",
    "client_reference": "r1",
}


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    lock = threading.Lock()

    def record(*, fax) -> None:
        with lock:
            calls.append(fax.id)

    monkeypatch.setattr("faxes.services.intake.fax_pipeline_start", record)
    return calls


def send(client: ApiClient, body: dict, key: str | None = "key-1"):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post_json(URL, body, **extra)


@pytest.mark.django_db
def test_a_retry_returns_the_original_answer_without_a_second_fax(
    api_client: ApiClient, queued: list[str]
) -> None:
    first = send(api_client, BODY)
    second = send(api_client, BODY)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert second["Location"] == first["Location"]
    assert Fax.objects.count() == 1


@pytest.mark.django_db
def test_key_order_in_the_body_does_not_matter(api_client: ApiClient, queued: list[str]) -> None:
    send(api_client, BODY)
    reordered = dict(reversed(list(BODY.items())))

    assert send(api_client, reordered)["Idempotent-Replayed"] == "true"
    assert Fax.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_request_is_422(api_client: ApiClient, queued: list[str]) -> None:
    send(api_client, BODY)

    response = send(api_client, {**BODY, "to": "+15557654321"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Fax.objects.count() == 1


@pytest.mark.django_db
def test_without_a_key_each_request_sends(api_client: ApiClient, queued: list[str]) -> None:
    send(api_client, BODY, key=None)
    send(api_client, BODY, key=None)

    assert Fax.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there", "new\nline"])
def test_a_malformed_key_is_400_naming_the_header(api_client: ApiClient, key: str) -> None:
    response = send(api_client, BODY, key=key)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"
    assert not Fax.objects.exists()


@pytest.mark.django_db
def test_a_255_character_key_is_accepted(api_client: ApiClient, queued: list[str]) -> None:
    assert send(api_client, BODY, key="k" * 255).status_code == 201


@pytest.mark.django_db
def test_a_refused_request_does_not_use_up_its_key(
    api_client: ApiClient, queued: list[str]
) -> None:
    assert send(api_client, {**BODY, "to": "nonsense"}).status_code == 400

    response = send(api_client, BODY)

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response


@pytest.mark.django_db
def test_a_request_that_crashed_does_not_lock_its_key(
    api_client: ApiClient, queued: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = intake.fax_create
    monkeypatch.setattr(intake, "fax_create", lambda **kw: 1 / 0)
    assert send(api_client, BODY).status_code == 500
    monkeypatch.setattr(intake, "fax_create", real)

    response = send(api_client, BODY)

    assert response.status_code == 201
    assert Fax.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_scoped_per_account(
    api_client: ApiClient, other_account: Account, queued: list[str]
) -> None:
    other = ApiClient(make_key(other_account)[1])

    first = send(api_client, BODY)
    second = send(other, BODY)

    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]


@pytest.mark.django_db
def test_keys_are_kept_24_hours_then_purged(api_client: ApiClient, queued: list[str]) -> None:
    send(api_client, BODY)

    with time_machine.travel(timezone.now() + timedelta(hours=23)):
        assert idempotency_keys_purge() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        assert idempotency_keys_purge() == 1
    assert not IdempotencyKey.objects.exists()
    assert Fax.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_key_held_by_a_running_request_is_409_with_retry_after(queued: list[str]) -> None:
    account = AccountFactory(plan_slug="business", with_number=True)
    client = ApiClient(make_key(account)[1])
    claimed, release = threading.Event(), threading.Event()

    def hold_the_key() -> None:
        # Another request's transaction: the key row is inserted but not yet committed.
        with transaction.atomic():
            IdempotencyKey.objects.create(
                account=account, key="key-1", fingerprint="x", response_status=0, response_body={}
            )
            claimed.set()
            release.wait(10)
            transaction.set_rollback(True)
        connection.close()

    holder = threading.Thread(target=hold_the_key)
    holder.start()
    claimed.wait(10)
    try:
        response = send(client, BODY)
    finally:
        release.set()
        holder.join()

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_progress"
    assert int(response["Retry-After"]) >= 1
    assert not Fax.objects.exists()


def test_simultaneous_identical_requests_create_one_fax_and_one_task(
    live_server, transactional_db: None, queued: list[str]
) -> None:
    account = AccountFactory(plan_slug="business", with_number=True)
    _, secret = make_key(account)
    body = {"to": "+15551234567", "document": documents.inline_pdf(pages=2)}

    def call(_: int) -> tuple[int, str]:
        response = requests.post(
            f"{live_server.url}{URL}",
            json=body,
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "burst-1"},
            timeout=30,
        )
        return response.status_code, response.json().get("id", response.text)

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(call, range(12)))

    assert Fax.objects.count() == 1
    fax_id = Fax.objects.get().id
    created = [r for r in results if r[0] == 201]
    assert all(r[1] == fax_id for r in created)
    assert all(status in (201, 409) for status, _ in results)
    assert len(created) >= 1
    assert queued == [fax_id]


@pytest.mark.django_db
def test_the_same_key_with_another_document_is_422(
    api_client: ApiClient, queued: list[str]
) -> None:
    first = {"to": "+15551234567", "document": documents.inline_pdf(pages=1)}
    second = {"to": "+15551234567", "document": documents.inline_pdf(pages=2)}
    assert send(api_client, first).status_code == 201

    assert send(api_client, second).status_code == 422
    assert send(api_client, first)["Idempotent-Replayed"] == "true"
