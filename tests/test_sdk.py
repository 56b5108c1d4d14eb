"""The Python client (sdk/python) against the real server: pytest-django's live server on
PostgreSQL and Redis. No Celery worker: accepting, reading and listing faxes need none."""

from __future__ import annotations

import io
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command
from django.db import connection, transaction

from developers.models import RequestLogEntry, Scope
from developers.services import webhook_deliveries, webhook_endpoints
from developers.services.request_log import request_log_flush
from faxes.models import FaxStatus, IdempotencyKey
from faxes.services import status as fax_status
from faxes.services.documents import fax_document_purge
from sendfaxmail.lib.signing import sign_standard_webhook
from tests import documents
from tests.conftest import make_key
from tests.factories import AccountFactory, FaxFactory
from tests.sdk_fixtures import DroppingProxy, load_sdk

sdk = load_sdk()
errors = sdk.errors

TO = "+15551234567"


@pytest.fixture(scope="module")
def _committed_until_the_module_ends(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        # Never flush anything but a test database.
        assert connection.settings_dict["NAME"].startswith("test_"), connection.settings_dict
        try:
            yield
        finally:
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def transactional_db(_committed_until_the_module_ends) -> None:
    """This module's stand-in for pytest-django's `transactional_db`, which `live_server`
    requests. Rows are committed, as there, because the server's threads see only committed
    rows; but the database is flushed once after the module rather than after every test
    (0.2 to 0.8 s each: this file took 45 s instead of 15). So each test makes its own account
    and looks only at that account's rows."""


@pytest.fixture
def server(live_server, transactional_db: None):
    return live_server


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accepted faxes are handed to Celery by name after commit; nothing here needs a broker
    or a worker."""
    monkeypatch.setattr("celery.app.base.Celery.send_task", lambda *args, **kwargs: None)


@pytest.fixture
def business(server):
    return AccountFactory(plan_slug="business", with_number=True)


@pytest.fixture
def secret(business) -> str:
    return make_key(business)[1]


@pytest.fixture
def delays() -> list[float]:
    """The back-off delays the client asked to sleep (it does not actually sleep)."""
    return []


@pytest.fixture
def connect(server, delays: list[float]):
    """Make a client of the live server with a key; its back-off delays go to `delays` unless
    `sleep=` says otherwise. Closed after the test, so no connection outlives it."""
    made = []

    def connect(secret: str, **options):
        options = {"base_url": server.url, "timeout": 10, "sleep": delays.append, **options}
        made.append(sdk.SendFaxMail(secret, **options))
        return made[-1]

    yield connect
    for client in made:
        client.close()


@pytest.fixture
def sfm(connect, secret: str):
    """A client with a Business key holding every scope."""
    return connect(secret)


# --- Sending ------------------------------------------------------------------------------


@pytest.mark.parametrize("as_path", [str, Path])
def test_it_sends_a_file_given_by_its_path(sfm, business, tmp_path: Path, as_path) -> None:
    path = tmp_path / "referral.pdf"
    path.write_bytes(documents.pdf_bytes(pages=2))

    fax = sfm.faxes.send(to=TO, file=as_path(path), client_reference="ref-1")

    assert isinstance(fax, sdk.Fax)
    assert fax.id == business.faxes.get().id
    assert (fax.status, fax.to, fax.page_count) == ("queued", TO, 2)
    assert fax.document == sdk.FaxDocument("inline", "application/pdf", path.stat().st_size)
    assert fax.client_reference == "ref-1"
    assert fax.created_at.tzinfo is not None


def test_it_sends_bytes_and_reads_their_type_from_them(sfm) -> None:
    fax = sfm.faxes.send(to=TO, file=documents.png_bytes())

    assert fax.document.content_type == "image/png"
    assert fax.page_count == 1


def test_it_sends_several_files_with_a_cover_page_and_header_text(
    sfm, business, tmp_path: Path
) -> None:
    path = tmp_path / "labs.pdf"
    path.write_bytes(documents.text_pdf("labs 1", "labs 2"))

    fax = sfm.faxes.send(
        to=TO,
        files=[documents.text_pdf("referral"), path, documents.png_bytes()],
        cover_page={"to_name": "Dr. Rivera", "subject": "Referral"},
        header_text="Rivera Family Practice",
    )

    assert fax.page_count == 5
    assert (fax.document.count, fax.document.cover_page, fax.document.header) == (3, True, True)
    stored = business.faxes.get()
    assert stored.header_text == "Rivera Family Practice"
    with stored.document.open("rb") as document:
        pages = documents.page_texts(document.read())
    assert "To: Dr. Rivera" in pages[0]
    assert pages[1:4] == ["referral", "labs 1", "labs 2"]


def test_it_turns_the_header_off(sfm, business) -> None:
    fax = sfm.faxes.send(to=TO, file=documents.pdf_bytes(), header=False)

    assert fax.document.header is False
    assert business.faxes.get().header is False


def test_it_sends_a_url_for_the_server_to_fetch(sfm, business) -> None:
    fax = sfm.faxes.send(to=TO, url="https://docs.example.com/referral.pdf")

    assert fax.document.source == "url"
    assert fax.document.url == "https://docs.example.com/referral.pdf"
    assert fax.page_count is None
    assert business.faxes.get().document_url == "https://docs.example.com/referral.pdf"


def test_it_sends_from_one_of_the_accounts_numbers(sfm, business) -> None:
    number = business.fax_numbers.get().number

    fax = sfm.faxes.send(to=TO, url="https://docs.example.com/a.pdf", from_=number)

    assert fax.from_ == number


def test_it_refuses_both_a_file_and_a_url_before_asking_the_server() -> None:
    client = sdk.SendFaxMail("sfm_live_x", base_url="http://127.0.0.1:9")

    with pytest.raises(ValueError, match="exactly one"):
        client.faxes.send(to=TO, file=b"%PDF-1.4", url="https://docs.example.com/a.pdf")
    with pytest.raises(ValueError, match="exactly one"):
        client.faxes.send(to=TO, file=b"%PDF-1.4", files=[b"%PDF-1.4"])


def test_every_send_carries_a_new_idempotency_key(sfm, business) -> None:
    first = sfm.faxes.send(to=TO, url="https://docs.example.com/a.pdf")
    second = sfm.faxes.send(to=TO, url="https://docs.example.com/a.pdf")

    keys = {record.fax_id: record.key for record in IdempotencyKey.objects.filter(account=business)}
    assert set(keys) == {first.id, second.id}
    assert all(uuid.UUID(key).version == 4 for key in keys.values())


def test_a_send_with_the_same_idempotency_key_returns_the_first_fax(sfm, business) -> None:
    first = sfm.faxes.send(to=TO, url="https://docs.example.com/a.pdf", idempotency_key="o-1")
    again = sfm.faxes.send(to=TO, url="https://docs.example.com/a.pdf", idempotency_key="o-1")

    assert again == first
    assert business.faxes.count() == 1


def test_a_send_whose_connection_dropped_after_the_commit_is_replayed_not_sent_twice(
    server, connect, business, secret: str, delays: list[float]
) -> None:
    proxy = DroppingProxy(server.thread.port, drop=1)
    try:
        fax = connect(secret, base_url=proxy.url).faxes.send(to=TO, file=documents.pdf_bytes())
        keys = [proxy.request_headers(i)["idempotency-key"] for i in range(2)]
    finally:
        proxy.close()

    assert business.faxes.count() == 1
    assert fax.id == business.faxes.get().id
    # The server answered the first attempt 201 (the fax was committed); the client never saw
    # that answer, retried once with the same key, and got the same fax back.
    assert proxy.dropped_answers[0].startswith(b"HTTP/1.1 201")
    assert len(proxy.requests) == 2
    assert keys[0] == keys[1]
    assert len(delays) == 1


# --- Reading ------------------------------------------------------------------------------


def test_it_gets_a_fax_as_it_is_now(sfm, business) -> None:
    sent = sfm.faxes.send(to=TO, url="https://docs.example.com/a.pdf")
    fax_status.fax_advance(
        fax=business.faxes.get(), status=FaxStatus.DELIVERED, source="test", pages_delivered=3
    )

    fax = sfm.faxes.get(sent.id)

    assert (fax.id, fax.status, fax.pages_delivered, fax.finished) == (
        sent.id,
        "delivered",
        3,
        True,
    )
    assert isinstance(fax.completed_at, datetime)
    assert fax.completed_at.utcoffset() == timedelta(0)


def test_it_lists_every_fax_across_pages_newest_first(connect, secret: str, business) -> None:
    created = [FaxFactory(account=business).id for _ in range(7)]
    asked: list[httpx.QueryParams] = []

    http = httpx.Client(event_hooks={"request": [lambda request: asked.append(request.url.params)]})
    faxes = list(connect(secret, http_client=http).faxes.list(limit=3))
    http.close()

    assert [fax.id for fax in faxes] == created[::-1]
    # The first page by default, the next ones by the cursor each answer gives.
    assert ["cursor" in params for params in asked] == [False, True, True]
    assert all("page" not in params for params in asked)


def test_a_listing_skips_and_repeats_nothing_while_faxes_arrive(
    connect, secret: str, business
) -> None:
    created = [FaxFactory(account=business).id for _ in range(6)]
    listing = connect(secret).faxes.list(limit=2)

    first = [next(listing).id, next(listing).id]
    arrived = [FaxFactory(account=business).id for _ in range(3)]
    rest = [fax.id for fax in listing]

    assert first + rest == created[::-1]
    assert not set(arrived) & set(first + rest)


def test_it_fetches_a_page_only_when_the_iteration_reaches_it(
    connect, secret: str, business
) -> None:
    for _ in range(5):
        FaxFactory(account=business)
    requests: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [requests.append]})
    listing = connect(secret, http_client=http).faxes.list(limit=2)
    first_three = [next(listing), next(listing), next(listing)]
    http.close()

    assert len(first_three) == 3
    assert len(requests) == 2


def test_it_passes_filters_to_the_list(sfm, business) -> None:
    FaxFactory(account=business, status=FaxStatus.FAILED, failure_reason="busy")
    FaxFactory(account=business, status=FaxStatus.DELIVERED)

    failed = list(sfm.faxes.list(status="failed", created_after=datetime.now(UTC) - timedelta(1)))

    assert [fax.failure_reason for fax in failed] == ["busy"]
    assert list(sfm.faxes.list(created_after=datetime.now(UTC) + timedelta(1))) == []


def test_it_lists_the_accounts_numbers(sfm, business) -> None:
    [number] = sfm.numbers.list()

    assert isinstance(number, sdk.FaxNumber)
    assert number.number == business.fax_numbers.get().number
    assert number.created_at.tzinfo is not None


# --- Previewing ---------------------------------------------------------------------------


def test_it_previews_the_first_page_as_png(sfm, business) -> None:
    from PIL import Image

    sent = sfm.faxes.send(to=TO, file=documents.text_pdf("referral"), cover_page={})

    image = sfm.faxes.preview(sent.id)

    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(image)).size == (918, 1188)


def test_the_preview_is_the_first_page_as_faxed(sfm, business) -> None:
    from faxes.documents.render import render_page_png

    sent = sfm.faxes.send(to=TO, file=documents.text_pdf("one", "two"), header=False)

    with business.faxes.get().document.open("rb") as stored:
        expected = render_page_png(stored.read(), page_number=1, scale=1.5)
    assert sfm.faxes.preview(sent.id) == expected


def test_a_preview_before_the_url_is_fetched_raises_document_not_ready(sfm, business) -> None:
    sent = sfm.faxes.send(to=TO, url="https://docs.example.com/a.pdf")

    with pytest.raises(errors.DocumentNotReady) as raised:
        sfm.faxes.preview(sent.id)

    assert (raised.value.status, raised.value.code) == (409, "document_not_ready")
    assert isinstance(raised.value, errors.Conflict)


def test_a_preview_of_a_deleted_document_raises_document_gone(sfm, business) -> None:
    sent = sfm.faxes.send(to=TO, file=documents.pdf_bytes())
    fax = business.faxes.get()
    fax_status.fax_advance(fax=fax, status=FaxStatus.DELIVERED, source="test")
    fax_document_purge(fax=business.faxes.get(), reason="request")

    with pytest.raises(errors.DocumentGone) as raised:
        sfm.faxes.preview(sent.id)

    assert (raised.value.status, raised.value.code) == (410, "document_purged")


def test_a_preview_of_an_unknown_fax_is_not_found(sfm) -> None:
    with pytest.raises(errors.NotFound):
        sfm.faxes.preview("fax_doesnotexist")


# --- Canceling ----------------------------------------------------------------------------


def test_it_cancels_a_queued_fax(sfm, business) -> None:
    sent = sfm.faxes.send(to=TO, url="https://docs.example.com/a.pdf")

    fax = sfm.faxes.cancel(sent.id)

    assert (fax.id, fax.status, fax.finished) == (sent.id, "canceled", True)
    assert fax.cancel_requested_at is None
    assert sfm.faxes.get(sent.id).status == "canceled"


def test_canceling_a_finished_fax_raises_fax_not_cancelable(sfm, business) -> None:
    fax = FaxFactory(account=business, status=FaxStatus.DELIVERED)

    with pytest.raises(errors.FaxNotCancelable) as raised:
        sfm.faxes.cancel(fax.id)

    assert (raised.value.status, raised.value.code) == (409, "fax_not_cancelable")
    assert isinstance(raised.value, errors.Conflict)


def test_a_cancel_carries_an_idempotency_key(connect, secret: str, business) -> None:
    fax = FaxFactory(account=business)
    keys: list[str | None] = []
    http = httpx.Client(
        event_hooks={"request": [lambda r: keys.append(r.headers.get("Idempotency-Key"))]}
    )

    connect(secret, http_client=http).faxes.cancel(fax.id)
    http.close()

    [key] = keys
    assert key
    assert IdempotencyKey.objects.filter(account=business, key=key).exists()


# --- Errors -------------------------------------------------------------------------------


# --- Redial, scheduling, resending --------------------------------------------------------


def test_it_sends_with_retry_and_reads_it_back(sfm) -> None:
    fax = sfm.faxes.send(
        to=TO, url="https://docs.example.com/a.pdf", retry={"attempts": 3, "interval_seconds": 90}
    )

    assert fax.retry == sdk.FaxRetry(attempts=3, interval_seconds=90)
    assert (fax.attempts, fax.next_attempt_at) == ((), None)


def test_it_reads_the_attempts_of_a_redialed_fax(sfm, business) -> None:
    sent = sfm.faxes.send(to=TO, url="https://docs.example.com/a.pdf")
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    business.faxes.filter(pk=sent.id).update(
        next_attempt_at=due,
        attempts=[
            {
                "number": 1,
                "started_at": "2026-11-30T10:00:00Z",
                "completed_at": "2026-11-30T10:01:00Z",
                "status": "failed",
                "failure_reason": "busy",
                "pages_delivered": 0,
                "carrier_fax_id": "tx-1",
            }
        ],
    )

    fax = sfm.faxes.get(sent.id)

    [attempt] = fax.attempts
    assert (attempt.number, attempt.status, attempt.failure_reason) == (1, "failed", "busy")
    assert attempt.completed_at == datetime(2026, 11, 30, 10, 1, tzinfo=UTC)
    assert fax.next_attempt_at == due


def test_it_schedules_a_fax_with_an_aware_datetime(sfm) -> None:
    send_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)

    fax = sfm.faxes.send(to=TO, file=documents.pdf_bytes(), send_at=send_at)

    assert (fax.status, fax.send_at, fax.finished) == ("scheduled", send_at, False)


def test_it_refuses_a_naive_send_at_before_asking_the_server() -> None:
    client = sdk.SendFaxMail("sfm_test_x", base_url="http://127.0.0.1:9")

    with pytest.raises(ValueError, match="aware"):
        client.faxes.send(to=TO, file=documents.pdf_bytes(), send_at=datetime(2030, 1, 1, 9))


def test_a_send_at_in_the_past_is_invalid_request_on_send_at(sfm) -> None:
    with pytest.raises(errors.InvalidRequest) as raised:
        sfm.faxes.send(to=TO, file=documents.pdf_bytes(), send_at="2020-01-01T09:00:00Z")

    assert raised.value.param == "send_at"


def test_it_cancels_a_scheduled_fax(sfm) -> None:
    send_at = datetime.now(UTC) + timedelta(days=1)
    sent = sfm.faxes.send(to=TO, file=documents.pdf_bytes(), send_at=send_at)

    assert sfm.faxes.cancel(sent.id).status == "canceled"


def test_it_resends_a_fax_to_another_number(sfm, business) -> None:
    sent = sfm.faxes.send(to=TO, file=documents.pdf_bytes(), client_reference="order-7")

    fax = sfm.faxes.resend(sent.id, to="+15550108888")

    assert fax.id != sent.id
    assert (fax.resent_from, fax.to, fax.status) == (sent.id, "+15550108888", "queued")
    assert (fax.client_reference, fax.document.source) == ("order-7", "copy")
    assert sfm.faxes.get(sent.id).resent_from is None


def test_a_resend_carries_an_idempotency_key_and_is_replayed(sfm, business) -> None:
    sent = sfm.faxes.send(to=TO, file=documents.pdf_bytes())

    first = sfm.faxes.resend(sent.id, idempotency_key="resend-order-7")
    again = sfm.faxes.resend(sent.id, idempotency_key="resend-order-7")

    assert again.id == first.id
    assert business.faxes.filter(resent_from_id=sent.id).count() == 1


def test_resending_a_purged_document_raises_document_purged(sfm, business) -> None:
    fax = FaxFactory(
        account=business,
        status=FaxStatus.DELIVERED,
        document_purged_at=datetime.now(UTC),
    )

    with pytest.raises(errors.DocumentPurged) as raised:
        sfm.faxes.resend(fax.id)

    assert (raised.value.status, raised.value.code) == (410, "document_purged")
    assert isinstance(raised.value, errors.DocumentGone)


def test_resending_before_the_url_is_fetched_raises_document_not_ready(sfm) -> None:
    sent = sfm.faxes.send(to=TO, url="https://docs.example.com/a.pdf")

    with pytest.raises(errors.DocumentNotReady) as raised:
        sfm.faxes.resend(sent.id)

    assert isinstance(raised.value, errors.Conflict)


def test_a_bad_key_is_invalid_api_key(connect) -> None:
    client = connect("sfm_live_not-a-real-key")

    with pytest.raises(errors.InvalidApiKey) as raised:
        client.numbers.list()

    assert isinstance(raised.value, errors.AuthenticationError)
    assert (raised.value.status, raised.value.code) == (401, "invalid_api_key")


def test_a_key_of_a_starter_account_is_plan_upgrade_required(connect) -> None:
    starter = AccountFactory(plan_slug="starter", with_number=True)
    client = connect(make_key(starter)[1])

    with pytest.raises(errors.PlanUpgradeRequired) as raised:
        client.faxes.send(to=TO, url="https://docs.example.com/a.pdf")

    assert isinstance(raised.value, errors.PermissionDenied)
    assert (raised.value.status, raised.value.code) == (403, "plan_upgrade_required")


def test_a_key_without_the_scope_is_insufficient_scope(connect, business) -> None:
    client = connect(make_key(business, [Scope.FAXES_SEND])[1])

    with pytest.raises(errors.InsufficientScope) as raised:
        client.numbers.list()

    assert raised.value.status == 403
    assert "numbers:read" in raised.value.message


def test_an_unknown_fax_is_not_found(sfm) -> None:
    with pytest.raises(errors.NotFound) as raised:
        sfm.faxes.get("fax_doesnotexist")

    assert (raised.value.status, raised.value.code, raised.value.param) == (404, "not_found", "id")


def test_a_bad_field_is_invalid_request_naming_the_param(
    sfm, business, delays: list[float]
) -> None:
    with pytest.raises(errors.InvalidRequest) as raised:
        sfm.faxes.send(to="not a number", url="https://docs.example.com/a.pdf")

    assert (raised.value.status, raised.value.code, raised.value.param) == (
        400,
        "validation_error",
        "to",
    )
    assert delays == []
    assert not business.faxes.exists()


def test_a_bad_filter_raises_where_the_list_is_asked_for(sfm) -> None:
    with pytest.raises(errors.InvalidRequest) as raised:
        sfm.faxes.list(status="lost")

    assert raised.value.param == "status"


def test_an_idempotency_key_reused_with_another_request_is_422(sfm, business) -> None:
    sfm.faxes.send(to=TO, url="https://docs.example.com/a.pdf", idempotency_key="o-1")

    with pytest.raises(errors.IdempotencyKeyReused) as raised:
        sfm.faxes.send(to=TO, url="https://docs.example.com/b.pdf", idempotency_key="o-1")

    assert (raised.value.status, raised.value.code) == (422, "idempotency_key_reused")
    assert business.faxes.count() == 1


class HeldKey:
    """Another request's transaction holding Idempotency-Key `key` (inserted, not committed)
    until `release()`, which rolls it back."""

    def __init__(self, account, key: str) -> None:
        self._claimed, self._release = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold, args=(account, key))
        self._thread.start()
        assert self._claimed.wait(10)

    def _hold(self, account, key: str) -> None:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                account=account, key=key, fingerprint="x", response_status=0, response_body={}
            )
            self._claimed.set()
            self._release.wait(10)
            transaction.set_rollback(True)
        connection.close()

    def release(self) -> None:
        self._release.set()
        self._thread.join()


def test_a_key_still_in_progress_is_a_conflict_with_retry_after(connect, business, secret) -> None:
    held = HeldKey(business, "o-1")
    try:
        with pytest.raises(errors.IdempotencyKeyInProgress) as raised:
            connect(secret, max_retries=0).faxes.send(
                to=TO, url="https://docs.example.com/a.pdf", idempotency_key="o-1"
            )
    finally:
        held.release()

    assert isinstance(raised.value, errors.Conflict)
    assert (raised.value.status, raised.value.retry_after) == (409, 1)


def test_a_key_in_progress_is_retried_after_retry_after(connect, business, secret) -> None:
    held = HeldKey(business, "o-1")
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        held.release()

    try:
        fax = connect(secret, sleep=sleep).faxes.send(
            to=TO, url="https://docs.example.com/a.pdf", idempotency_key="o-1"
        )
    finally:
        held.release()

    assert fax.id == business.faxes.get().id
    assert len(waited) == 1
    assert waited[0] >= 1


def test_a_spent_budget_is_rate_limited_with_retry_after(connect, secret, settings) -> None:
    settings.API_READ_RATE = "1/m"
    client = connect(secret, max_retries=0)
    # Windows are fixed minutes: both requests below must fall in the same one.
    if time.time() % 60 > 50:
        time.sleep(60.5 - time.time() % 60)
    client.numbers.list()

    with pytest.raises(errors.RateLimited) as raised:
        client.numbers.list()

    assert (raised.value.status, raised.value.code) == (429, "rate_limited")
    assert 1 <= raised.value.retry_after <= 60


def test_a_429_is_retried_no_sooner_than_retry_after(connect, secret, settings) -> None:
    settings.API_READ_RATE = "1/s"
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        time.sleep(seconds)

    client = connect(secret, sleep=sleep)
    # Start early in a one-second window so that both requests below fall in it.
    deadline = time.monotonic() + 2
    while time.time() % 1 > 0.2 and time.monotonic() < deadline:
        time.sleep(0.01)
    client.numbers.list()
    started = time.monotonic()

    numbers = client.numbers.list()

    assert len(numbers) == 1
    assert len(waited) == 1
    assert waited[0] >= 1
    assert time.monotonic() - started >= 1


def test_a_retry_after_longer_than_the_maximum_is_raised_at_once(connect, secret, settings) -> None:
    settings.API_READ_RATE = "1/m"
    waited: list[float] = []
    client = connect(secret, sleep=waited.append, max_retry_after=0.5)
    client.numbers.list()

    with pytest.raises(errors.RateLimited):
        client.numbers.list()

    assert waited == []


def test_a_5xx_is_retried_with_growing_delays_then_raised(
    sfm, delays: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def crash(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("a bug")

    monkeypatch.setattr("fax_numbers.api.NumberListView.get", crash)

    with pytest.raises(errors.APIError) as raised:
        sfm.numbers.list()

    assert (raised.value.status, raised.value.code) == (500, "internal_error")
    assert len(calls) == 3
    assert len(delays) == 2
    assert 0.25 <= delays[0] <= 0.5 <= delays[1] <= 1


def test_no_answer_is_a_connection_error_after_the_retries(delays: list[float]) -> None:
    with socket_on_a_closed_port() as url:
        client = sdk.SendFaxMail("sfm_live_x", base_url=url, sleep=delays.append, max_retries=2)
        with pytest.raises(errors.APIConnectionError) as raised:
            client.numbers.list()

    assert raised.value.status is None
    assert len(delays) == 2


def test_a_silent_server_is_a_timeout(delays: list[float]) -> None:
    import socket

    silent = socket.create_server(("127.0.0.1", 0))
    try:
        client = sdk.SendFaxMail(
            "sfm_live_x",
            base_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
            timeout=0.3,
            max_retries=0,
        )
        started = time.monotonic()
        with pytest.raises(errors.APITimeoutError):
            client.numbers.list()
    finally:
        silent.close()

    assert time.monotonic() - started < 5


class socket_on_a_closed_port:
    """A URL on which nothing listens."""

    def __enter__(self) -> str:
        import socket

        probe = socket.create_server(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc_info: object) -> None:
        return None


# The server sends the id in both places (test below); these two answers come from an httpx stub
# transport so that each place is read on its own.


def stub_client(handler, **options):
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return sdk.SendFaxMail("sfm_live_x", base_url="https://api.test", http_client=http, **options)


def test_an_error_carries_the_request_id_from_the_header_or_the_envelope() -> None:
    envelope = {"code": "not_found", "message": "No fax.", "param": "id"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("by-header"):
            return httpx.Response(404, json={"error": envelope}, headers={"Request-Id": "req_h"})
        return httpx.Response(404, json={"error": {**envelope, "request_id": "req_b"}})

    client = stub_client(answer)
    ids = []
    for fax_id in ("by-header", "by-body"):
        with pytest.raises(errors.NotFound) as raised:
            client.faxes.get(fax_id)
        ids.append(raised.value.request_id)

    assert ids == ["req_h", "req_b"]


def test_a_server_error_carries_the_request_id_the_request_log_shows(sfm, business) -> None:
    with pytest.raises(errors.NotFound) as raised:
        sfm.faxes.get("fax_doesnotexist")

    request_id = raised.value.request_id
    assert request_id.startswith("req_")
    # The server buffers the entry once it has sent the answer: give its thread a moment.
    deadline = time.monotonic() + 5
    while request_log_flush() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    entry = RequestLogEntry.objects.get(request_id=request_id)
    assert (entry.account_id, entry.status, entry.error_code) == (business.pk, 404, "not_found")


def test_the_list_follows_next_cursor_when_the_api_answers_with_one() -> None:
    seen: list[dict[str, str]] = []
    fax = {
        "id": "fax_1",
        "object": "fax",
        "livemode": True,
        "status": "queued",
        "to": TO,
        "from": "+15550100001",
        "page_count": 1,
        "pages_delivered": None,
        "document": {"source": "inline", "content_type": "application/pdf", "size_bytes": 9},
        "client_reference": None,
        "failure_reason": None,
        "failure_message": None,
        "created_at": "2026-11-26T23:00:00Z",
        "updated_at": "2026-11-26T23:00:00Z",
        "completed_at": None,
    }
    pages = {
        None: ([{**fax, "id": "fax_1"}], "c2"),
        "c2": ([{**fax, "id": "fax_2"}], "c3"),
        "c3": ([{**fax, "id": "fax_3"}], None),
    }

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        data, cursor = pages[request.url.params.get("cursor")]
        return httpx.Response(200, json={"object": "list", "data": data, "next_cursor": cursor})

    faxes = list(stub_client(answer).faxes.list(limit=1))

    assert [f.id for f in faxes] == ["fax_1", "fax_2", "fax_3"]
    assert [params.get("cursor") for params in seen] == [None, "c2", "c3"]


# --- Webhooks -----------------------------------------------------------------------------


@pytest.fixture
def delivered(db: None, account, receiver):
    """A real `fax.delivered` delivery as the customer's endpoint received it, and the
    endpoint's secret."""
    endpoint = webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url())
    fax = FaxFactory(account=account, status=FaxStatus.SENDING)
    fax_status.fax_advance(fax=fax, status=FaxStatus.DELIVERED, source="test", pages_delivered=1)
    for delivery_id in webhook_deliveries.webhook_deliveries_claim():
        webhook_deliveries.webhook_delivery_attempt(delivery_id=delivery_id)
    [received] = receiver.received
    return received, endpoint.secret, fax


def test_a_signed_webhook_verifies_into_a_typed_event(delivered) -> None:
    received, secret, fax = delivered

    event = sdk.webhooks.verify(received.body, received.headers, secret)

    assert isinstance(event, sdk.WebhookEvent)
    assert (event.id, event.type) == (received.headers["webhook-id"], "fax.delivered")
    assert event.created_at.tzinfo is not None
    assert (event.fax.id, event.fax.status, event.fax.pages_delivered) == (fax.id, "delivered", 1)


def test_it_verifies_with_headers_in_any_case(delivered) -> None:
    received, secret, _ = delivered
    headers = {name.title(): value for name, value in received.headers.items()}

    assert sdk.webhooks.verify(received.body, headers, secret).type == "fax.delivered"


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda body, headers, secret: (body + b" ", headers, secret), id="tampered"),
        pytest.param(
            lambda body, headers, secret: (body, headers, "whsec_" + "A" * 44), id="wrong-secret"
        ),
        pytest.param(
            lambda body, headers, secret: (
                body,
                {**headers, "webhook-signature": "not-a-signature"},
                secret,
            ),
            id="malformed-signature",
        ),
        pytest.param(
            lambda body, headers, secret: (
                body,
                {k: v for k, v in headers.items() if k != "webhook-signature"},
                secret,
            ),
            id="unsigned",
        ),
    ],
)
def test_a_webhook_that_does_not_match_is_refused(delivered, spoil) -> None:
    received, secret, _ = delivered

    with pytest.raises(sdk.WebhookVerificationError):
        sdk.webhooks.verify(*spoil(received.body, received.headers, secret))


def test_a_webhook_signed_more_than_5_minutes_ago_is_refused(delivered) -> None:
    received, secret, _ = delivered
    old = int(time.time()) - 6 * 60
    headers = {
        **received.headers,
        "webhook-timestamp": str(old),
        "webhook-signature": sign_standard_webhook(
            msg_id=received.headers["webhook-id"],
            timestamp=old,
            body=received.body,
            secrets=[secret],
        ),
    }

    with pytest.raises(sdk.WebhookVerificationError, match="too old"):
        sdk.webhooks.verify(received.body, headers, secret)
