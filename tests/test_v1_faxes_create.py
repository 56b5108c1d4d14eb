"""POST /v1/faxes: what is accepted, stored and queued, and every way a request is refused."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from accounts.services import account_sign_up
from developers.models import Scope
from faxes.models import Fax
from tests import attack_documents, documents, factories
from tests.attack_documents import record_decoders
from tests.conftest import ApiClient, make_key

pytestmark = pytest.mark.django_db

URL = "/v1/faxes"


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fax ids handed to the pipeline, recorded instead of reaching a broker."""
    calls: list[str] = []
    monkeypatch.setattr(
        "faxes.services.intake.fax_pipeline_start", lambda *, fax: calls.append(fax.id)
    )
    return calls


def send(client: ApiClient, body: dict, **extra):
    return client.post_json(URL, body, **extra)


def assert_invalid(
    response, param: str | None, code: str = "validation_error", status: int = 400
) -> str:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["param"] == param
    assert not Fax.objects.exists()
    return error["message"]


def test_it_sends_the_product_page_example(
    api_client: ApiClient, account: Account, queued: list[str], django_capture_on_commit_callbacks
) -> None:
    pdf = documents.pdf_bytes(pages=3)
    body = {
        "to": "+15551234567",
        "document": {"content": documents.b64(pdf), "content_type": "application/pdf"},
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = send(api_client, body, HTTP_IDEMPOTENCY_KEY="order-4815-attempt-1")

    assert response.status_code == 201
    fax = response.json()
    assert response["Location"] == f"/v1/faxes/{fax['id']}"
    assert fax["id"].startswith("fax_")
    assert fax["object"] == "fax"
    assert fax["status"] == "queued"
    assert fax["to"] == "+15551234567"
    assert fax["from"] == account.fax_numbers.get().number
    assert fax["page_count"] == 3
    assert fax["pages_delivered"] is None
    assert fax["document"] == {
        "source": "inline",
        "content_type": "application/pdf",
        "size_bytes": len(pdf),
        "purged_at": None,
        "count": 1,
        "cover_page": False,
        "header": True,
    }
    assert fax["client_reference"] is None
    assert fax["failure_reason"] is None
    assert fax["completed_at"] is None
    assert fax["created_at"].endswith("Z")
    assert queued == [fax["id"]]


def test_it_queues_nothing_before_the_transaction_commits(
    api_client: ApiClient, queued: list[str]
) -> None:
    # Without running on-commit callbacks, the test transaction never commits.
    send(api_client, {"to": "+15551234567", "document": documents.inline_pdf()})

    assert queued == []


def test_it_stores_the_document_privately_with_its_hash(
    api_client: ApiClient, queued: list[str]
) -> None:
    pdf = documents.pdf_bytes()

    fax_id = send(
        api_client,
        {
            "to": "+15551234567",
            "document": {"content": documents.b64(pdf), "content_type": "application/pdf"},
        },
    ).json()["id"]

    fax = Fax.objects.get(pk=fax_id)
    path = Path(fax.document.path)
    with fax.document.open("rb") as document:
        assert document.read() == pdf
    assert b"%PDF" not in path.read_bytes()  # encrypted at rest
    assert path.is_relative_to(Path(settings.MEDIA_ROOT))
    assert not path.is_relative_to(Path(settings.STATIC_ROOT))
    assert fax.document_sha256 == hashlib.sha256(pdf).hexdigest()
    assert fax.document_size_bytes == len(pdf)


def test_it_converts_an_image_to_a_pdf(api_client: ApiClient, queued: list[str]) -> None:
    png = documents.png_bytes()

    response = send(
        api_client,
        {
            "to": "+15551234567",
            "document": {"content": documents.b64(png), "content_type": "image/png"},
        },
    )

    assert response.status_code == 201
    assert response.json()["page_count"] == 1
    assert response.json()["document"]["content_type"] == "image/png"
    fax = Fax.objects.get()
    with fax.document.open("rb") as document:
        assert document.read().startswith(b"%PDF-")


def test_it_accepts_a_document_url_with_the_page_count_unknown(
    api_client: ApiClient, queued: list[str]
) -> None:
    url = "https://docs.example.com/referral.pdf"

    response = send(
        api_client, {"to": "+15551234567", "document_url": url, "client_reference": "ref-42"}
    )

    assert response.status_code == 201
    fax = response.json()
    assert fax["page_count"] is None
    assert fax["document"] == {
        "source": "url",
        "content_type": None,
        "size_bytes": None,
        "count": 1,
        "cover_page": False,
        "header": True,
        "url": url,
        "purged_at": None,
    }
    assert fax["client_reference"] == "ref-42"


def test_it_sends_from_a_chosen_number(
    api_client: ApiClient, account: Account, queued: list[str]
) -> None:
    from tests.factories import FaxNumberFactory

    second = FaxNumberFactory(account=account)

    response = send(
        api_client,
        {"to": "+15551234567", "from": second.number, "document": documents.inline_pdf()},
    )

    assert response.json()["from"] == second.number


def test_without_from_it_sends_from_the_first_number_the_account_has_now(
    api_client: ApiClient, account: Account, queued: list[str]
) -> None:
    """The default sender is the account's oldest number at the time of the request, so a
    number given up since is never used."""
    from tests.factories import FaxNumberFactory

    first = account.fax_numbers.get()
    second = FaxNumberFactory(account=account)
    body = {"to": "+15551234567", "document": documents.inline_pdf()}

    assert send(api_client, body).json()["from"] == first.number
    first.delete()
    assert send(api_client, body).json()["from"] == second.number


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"document": documents.inline_pdf()}, "to"),
        ({"to": "5551234567", "document": documents.inline_pdf()}, "to"),
        ({"to": "+1 555 123 4567", "document": documents.inline_pdf()}, "to"),
        ({"to": "+1555", "document": documents.inline_pdf()}, "to"),
        ({"to": "+9991234567", "document": documents.inline_pdf()}, "to"),
        ({"to": 15551234567, "document": documents.inline_pdf()}, "to"),
        ({"to": "+15551234567"}, "document"),
        (
            {
                "to": "+15551234567",
                "document": documents.inline_pdf(),
                "document_url": "https://a.example/x.pdf",
            },
            "document",
        ),
        ({"to": "+15551234567", "document": "JVBERi0x"}, "document"),
        (
            {"to": "+15551234567", "document": {"content_type": "application/pdf"}},
            "document.content",
        ),
        (
            {
                "to": "+15551234567",
                "document": {"content": "%%%not base64%%%", "content_type": "application/pdf"},
            },
            "document.content",
        ),
        (
            {
                "to": "+15551234567",
                "document": {
                    "content": documents.b64(b"<html>hi</html>"),
                    "content_type": "application/pdf",
                },
            },
            "document.content",
        ),
        (
            {
                "to": "+15551234567",
                "document": {
                    "content": documents.b64(documents.png_bytes()),
                    "content_type": "application/pdf",
                },
            },
            "document.content",
        ),
        (
            {
                "to": "+15551234567",
                "document": {
                    "content": documents.b64(documents.encrypted_pdf_bytes()),
                    "content_type": "application/pdf",
                },
            },
            "document.content",
        ),
        (
            {
                "to": "+15551234567",
                "document": {
                    "content": documents.b64(documents.pdf_bytes()),
                    "content_type": "text/plain",
                },
            },
            "document.content_type",
        ),
        (
            {"to": "+15551234567", "document": {"content": documents.b64(documents.pdf_bytes())}},
            "document.content_type",
        ),
        ({"to": "+15551234567", "document_url": "http://docs.example.com/a.pdf"}, "document_url"),
        ({"to": "+15551234567", "document_url": "file:///etc/passwd"}, "document_url"),
        (
            {"to": "+15551234567", "document_url": "https://user:pw@docs.example.com/a.pdf"},
            "document_url",
        ),
        ({"to": "+15551234567", "document_url": "https://127.0.0.1/a.pdf"}, "document_url"),
        ({"to": "+15551234567", "document_url": "https://10.0.0.8/a.pdf"}, "document_url"),
        ({"to": "+15551234567", "document_url": "https://[::1]/a.pdf"}, "document_url"),
        ({"to": "+15551234567", "document_url": "https://169.254.169.254/latest"}, "document_url"),
        (
            {"to": "+15551234567", "document_url": "https://docs.example.com/" + "a" * 2048},
            "document_url",
        ),
        (
            {
                "to": "+15551234567",
                "document_url": "https://docs.example.com/a.pdf",
                "client_reference": "x" * 129,
            },
            "client_reference",
        ),
        (
            {
                "to": "+15551234567",
                "document_url": "https://docs.example.com/a.pdf",
                "from": "+15559999999",
            },
            "from",
        ),
        (
            {
                "to": "+15551234567",
                "document_url": "https://docs.example.com/a.pdf",
                "callback": "x",
            },
            "callback",
        ),
    ],
)
def test_it_refuses_bad_input_naming_the_field(
    api_client: ApiClient, queued: list[str], body: dict, param: str
) -> None:
    message = assert_invalid(send(api_client, body), param)

    assert len(message) > 15
    assert queued == []


def test_it_names_from_when_the_account_has_no_number(account: Account) -> None:
    account.fax_numbers.all().delete()
    client = ApiClient(make_key(account)[1])

    message = assert_invalid(
        send(client, {"to": "+15551234567", "document": documents.inline_pdf()}), "from"
    )

    assert "no fax number" in message


@pytest.mark.parametrize(
    ("make", "content_type"),
    [
        (lambda: attack_documents.multi_frame_tiff((7000, 7000), 350), "image/tiff"),
        (lambda: attack_documents.transparent_png((7000, 7000)), "image/png"),
    ],
    ids=["group-4-tiff-of-350-frames-of-7000x7000", "transparent-png-of-7000x7000"],
)
def test_it_refuses_a_decompression_bomb_at_once_naming_the_document(
    account: Account, queued: list[str], make: Callable[[], bytes], content_type: str
) -> None:
    client = ApiClient(make_key(account, livemode=False)[1])
    body = {
        "to": "+15551234567",
        "document": {"content": documents.b64(make()), "content_type": content_type},
    }

    began = time.perf_counter()
    response = send(client, body)
    elapsed = time.perf_counter() - began

    message = assert_invalid(response, "document")
    assert "a page may have at most 16 million pixels" in message
    assert elapsed < 2


def test_it_refuses_an_image_over_the_decoding_budget_naming_the_document(
    api_client: ApiClient, queued: list[str]
) -> None:
    tiff = attack_documents.multi_frame_tiff((4000, 4000), 350, compression="tiff_lzw")
    body = {
        "to": "+15551234567",
        "document": {"content": documents.b64(tiff), "content_type": "image/tiff"},
    }

    message = assert_invalid(send(api_client, body), "document")

    assert "an image may need at most 20 million" in message


def test_a_trial_account_without_a_number_is_refused_before_its_document_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoders = record_decoders(monkeypatch)
    trial = account_sign_up(email="new@example.com", password=factories.PASSWORD)
    client = ApiClient(make_key(trial, livemode=False)[1])
    png = attack_documents.transparent_png((4000, 4000))
    body = {
        "to": "+15551234567",
        "document": {"content": documents.b64(png), "content_type": "image/png"},
    }

    message = assert_invalid(send(client, body), "from")

    assert "no fax number" in message
    assert decoders == []


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"null"])
def test_a_body_that_is_not_an_object_is_refused(api_client: ApiClient, body: bytes) -> None:
    response = api_client.post(URL, data=body, content_type="application/json")

    assert_invalid(response, None)


@pytest.mark.parametrize("body", [b"{", b"{'to': 1}", b"\xff\xfe", b'{"to": }'])
def test_a_body_that_is_not_json_is_invalid_json(api_client: ApiClient, body: bytes) -> None:
    assert_invalid(
        api_client.post(URL, data=body, content_type="application/json"), None, "invalid_json"
    )


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_declared_json_is_415(api_client: ApiClient, content_type: str) -> None:
    response = api_client.post(URL, data=b'{"to": "+15551234567"}', content_type=content_type)

    assert_invalid(response, None, "unsupported_media_type", 415)


def test_a_body_over_the_limit_is_413(api_client: ApiClient, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps(
        {
            "to": "+15551234567",
            "document": {"content": "A" * 2000, "content_type": "application/pdf"},
        }
    )

    assert_invalid(
        api_client.post(URL, data=body, content_type="application/json"),
        None,
        "request_too_large",
        413,
    )


def test_the_real_limit_admits_a_20_mb_document_in_base64() -> None:
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE > 4 * 20 * 1024 * 1024 / 3 + 10_000


def test_it_needs_the_send_scope(account: Account) -> None:
    client = ApiClient(make_key(account, scopes=[Scope.FAXES_READ, Scope.NUMBERS_READ])[1])

    response = send(client, {"to": "+15551234567", "document": documents.inline_pdf()})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert "faxes:send" in response.json()["error"]["message"]


def test_a_lower_plan_cannot_send(starter_account: Account) -> None:
    client = ApiClient(make_key(starter_account)[1])

    response = send(client, {"to": "+15551234567", "document": documents.inline_pdf()})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "plan_upgrade_required"


def test_it_needs_a_key() -> None:
    response = ApiClient().post_json(URL, {"to": "+15551234567"})

    assert response.status_code == 401


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_405(api_client: ApiClient, method: str) -> None:
    response = getattr(api_client, method)(URL, data="{}", content_type="application/json")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_sends_spend_the_send_budget_not_the_read_budget(
    api_client: ApiClient, settings, queued: list[str]
) -> None:
    settings.API_SEND_RATE = "1/m"
    body = {"to": "+15551234567", "document_url": "https://docs.example.com/a.pdf"}

    assert send(api_client, body).status_code == 201
    limited = send(api_client, body)

    assert limited.status_code == 429
    assert api_client.get(URL).status_code == 200


def test_a_down_broker_does_not_turn_an_accepted_fax_into_a_500(
    api_client: ApiClient, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    from kombu.exceptions import OperationalError

    def broker_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("celery.app.base.Celery.send_task", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        response = send(api_client, {"to": "+15551234567", "document": documents.inline_pdf()})

    assert response.status_code == 201
    assert Fax.objects.get().status == "queued"  # the sweeper starts it later


def test_a_send_takes_three_queries(
    api_client: ApiClient, account: Account, queued: list[str]
) -> None:
    """The key (with the account's redial setting), the account's numbers and the fax, in
    autocommit: no query of its own for the redial setting, no event row for the creation, and
    so no BEGIN and COMMIT either (inside the test's own transaction, an atomic block would
    show as a SAVEPOINT)."""
    Account.objects.filter(pk=account.pk).update(
        fax_retry_attempts=2, fax_retry_interval_seconds=600
    )
    body = {
        "to": "+15551234567",
        "document": {
            "content": documents.b64(documents.pdf_bytes()),
            "content_type": "application/pdf",
        },
    }
    send(api_client, body)  # the key's first use also records it

    with CaptureQueriesContext(connection) as captured:
        response = send(api_client, body)

    assert response.status_code == 201
    assert response.json()["retry"] == {"attempts": 2, "interval_seconds": 600}
    statements = [" ".join(query["sql"].split()[:3]) for query in captured.captured_queries]
    assert statements == [
        "SELECT k.id, k.scopes,",
        "SELECT id, number,",
        'INSERT INTO "faxes_fax"',
    ]
