"""The request log: one entry per authenticated /v1 request, without body or query, buffered in
Redis and flushed to the table in batches; kept 30 days."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Account
from developers.models import ApiKey, RequestLogEntry
from developers.services.request_log import (
    REQUEST_LOG_BUFFER,
    request_log_flush,
    request_log_purge,
)
from developers.tasks import request_log_flush_task, request_log_purge_task
from sendfaxmail.lib.redis import get_redis, wait_for_unanswered
from tests import documents
from tests.conftest import ApiClient, make_key

pytestmark = pytest.mark.django_db

TO = "+15557654321"


def recorded() -> list[RequestLogEntry]:
    """Every entry, oldest first, once the buffer has been flushed."""
    request_log_flush()
    return list(RequestLogEntry.objects.order_by("id"))


def buffered() -> list[bytes]:
    """The entries waiting in Redis, once this thread's sends (never awaited) have landed."""
    wait_for_unanswered()
    return get_redis().lrange(REQUEST_LOG_BUFFER, 0, -1)


def only_entry() -> RequestLogEntry:
    [entry] = recorded()
    return entry


def test_a_send_is_recorded_with_every_field(
    api_key: tuple[ApiKey, str], api_client: ApiClient, pipeline: list
) -> None:
    before = timezone.now()
    response = api_client.post_json(
        "/v1/faxes",
        {"to": TO, "document": documents.inline_pdf(), "client_reference": "chart-77"},
        HTTP_IDEMPOTENCY_KEY="order-4815",
        REMOTE_ADDR="203.0.113.9",
    )

    assert response.status_code == 201
    entry = only_entry()
    key, _ = api_key
    assert entry.account_id == key.account_id
    assert entry.api_key_id == key.pk
    assert entry.livemode is True
    assert entry.request_id == response["Request-Id"]
    assert entry.method == "POST"
    assert entry.path == "/v1/faxes"
    assert entry.status == 201
    assert entry.error_code == ""
    assert entry.idempotency_key == "order-4815"
    assert entry.replayed is False
    assert entry.client_ip == "203.0.113.9"
    assert entry.object_id == response.json()["id"]
    assert entry.sent_fax_id == response.json()["id"]
    assert before <= entry.created_at <= timezone.now()
    assert 0 < entry.duration_ms < 60_000


def test_it_keeps_neither_body_nor_query_values(api_client: ApiClient, pipeline: list) -> None:
    api_client.post_json("/v1/faxes", {"to": TO, "document": documents.inline_pdf()})
    api_client.get("/v1/faxes?to=%2B15557654321&created_after=2026-01-01T00:00:00Z")

    waiting = b" ".join(buffered()).decode()
    assert len(recorded()) == 2
    stored = waiting + " ".join(
        str(value) for row in RequestLogEntry.objects.values_list() for value in row
    )
    assert "5557654321" not in stored
    assert "2026-01-01" not in stored
    assert documents.inline_pdf()["content"][:40] not in stored
    assert set(RequestLogEntry.objects.values_list("path", flat=True)) == {"/v1/faxes"}


def test_a_read_keeps_the_ids_in_its_path(api_client: ApiClient) -> None:
    api_client.get("/v1/faxes/fax_doesnotexist")

    entry = only_entry()
    assert entry.path == "/v1/faxes/fax_doesnotexist"
    assert (entry.status, entry.error_code) == (404, "not_found")
    assert entry.sent_fax_id is None


def test_an_error_is_recorded_with_its_envelope_code(api_client: ApiClient) -> None:
    api_client.post_json("/v1/faxes", {"to": "not a number"})

    entry = only_entry()
    assert (entry.status, entry.error_code) == (400, "validation_error")


def test_a_plan_refusal_is_recorded_for_the_keys_account(starter_account: Account) -> None:
    _, secret = make_key(starter_account)

    ApiClient(secret).get("/v1/numbers")

    entry = only_entry()
    assert entry.account_id == starter_account.pk
    assert (entry.status, entry.error_code) == (403, "plan_upgrade_required")


def test_a_request_without_a_valid_key_belongs_to_no_account_and_is_not_recorded() -> None:
    ApiClient().get("/v1/numbers")
    ApiClient("sfm_live_notakey").get("/v1/numbers")

    assert recorded() == []


def test_dashboard_pages_are_not_recorded(owner_client) -> None:
    owner_client.get("/dashboard/developers")

    assert recorded() == []


def test_a_request_stopped_by_the_timeout_is_recorded_as_such(
    api_client: ApiClient, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    import time

    from fax_numbers.api import NumberListView

    def dawdle(self: object, request: object) -> None:
        time.sleep(10)

    monkeypatch.setattr(NumberListView, "get", dawdle)
    settings.API_REQUEST_TIMEOUT = 0.5

    response = api_client.get("/v1/numbers")

    entry = only_entry()
    assert (entry.status, entry.error_code) == (503, "timeout")
    assert entry.request_id == response["Request-Id"]


def test_a_replayed_send_is_marked_replayed(api_client: ApiClient, pipeline: list) -> None:
    body = {"to": TO, "document": documents.inline_pdf()}
    api_client.post_json("/v1/faxes", body, HTTP_IDEMPOTENCY_KEY="k-1")

    again = api_client.post_json("/v1/faxes", body, HTTP_IDEMPOTENCY_KEY="k-1")

    first, second = recorded()
    assert again["Idempotent-Replayed"] == "true"
    assert (first.replayed, second.replayed) == (False, True)
    assert second.sent_fax_id == first.sent_fax_id == again.json()["id"]


def test_a_malformed_idempotency_key_is_not_stored(api_client: ApiClient) -> None:
    api_client.post_json("/v1/faxes", {"to": TO}, HTTP_IDEMPOTENCY_KEY="x" * 300)

    entry = only_entry()
    assert (entry.status, entry.idempotency_key) == (400, "")


def test_a_test_key_is_recorded_as_test_mode(account: Account) -> None:
    _, secret = make_key(account, livemode=False)

    ApiClient(secret).get("/v1/numbers")

    assert only_entry().livemode is False


def test_the_client_ip_follows_trusted_proxy_count(api_client: ApiClient, settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1

    api_client.get(
        "/v1/numbers", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7"
    )

    assert only_entry().client_ip == "198.51.100.7"


def test_it_is_buffered_after_the_answer_has_been_sent(api_client: ApiClient) -> None:
    """As a WSGI server does: take the answer, send its body, then close it. The entry is
    buffered at close, so even that one Redis command is not part of the client's wait."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections
    from django.test import RequestFactory

    # As the test client does: the test's transaction must survive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        environ = (
            RequestFactory()
            .get("/v1/numbers", HTTP_AUTHORIZATION=f"Bearer {api_client.secret}")
            .environ
        )
        response = WSGIHandler()(environ, lambda status, headers: None)
        body = b"".join(response)
        assert body.startswith(b'{"object":"list"')
        assert buffered() == []

        response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)

    assert len(buffered()) == 1
    assert only_entry().request_id == response["Request-Id"]


def test_a_request_writes_no_row_itself(api_client: ApiClient) -> None:
    api_client.get("/v1/numbers")

    assert RequestLogEntry.objects.count() == 0
    assert len(buffered()) == 1


def test_a_failure_is_logged_and_the_answer_stands(
    api_client: ApiClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*command: object) -> None:
        raise RuntimeError("something unexpected")

    monkeypatch.setattr("developers.services.request_log.send_without_reply", broken)

    with caplog.at_level(logging.ERROR, logger="developers.services.request_log"):
        response = api_client.get("/v1/numbers")

    assert response.status_code == 200
    assert any(response["Request-Id"] in r.getMessage() for r in caplog.records)


def test_without_redis_the_entry_is_inserted_at_once(api_client: ApiClient, settings) -> None:
    settings.REDIS_URL = ""

    response = api_client.get("/v1/numbers")

    [entry] = RequestLogEntry.objects.all()
    assert entry.request_id == response["Request-Id"]


def test_when_redis_refuses_the_entry_is_inserted_at_once(api_client: ApiClient, settings) -> None:
    get_redis.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    try:
        response = api_client.get("/v1/numbers")
    finally:
        get_redis.cache_clear()

    assert response.status_code == 200  # the rate limiter fails open too
    [entry] = RequestLogEntry.objects.all()
    assert entry.request_id == response["Request-Id"]


# --- The flush ---------------------------------------------------------------------------------


def test_the_flush_moves_the_buffer_in_batches(
    api_client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("developers.services.request_log.REQUEST_LOG_FLUSH_BATCH", 2)
    ids = [api_client.get("/v1/numbers")["Request-Id"] for _ in range(5)]

    assert request_log_flush() == 5
    assert [entry.request_id for entry in RequestLogEntry.objects.order_by("id")] == ids
    assert buffered() == []
    assert request_log_flush() == 0


def test_a_batch_that_cannot_be_inserted_goes_back_to_the_buffer(
    api_client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    api_client.get("/v1/numbers")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(RequestLogEntry.objects, "bulk_create", broken)
        with pytest.raises(RuntimeError):
            request_log_flush()
    assert len(buffered()) == 1

    assert request_log_flush() == 1


def rewrite_buffered(**changes: object) -> None:
    """Change the fields of the one buffered entry, as if its rows changed since it was made."""
    wait_for_unanswered()
    redis = get_redis()
    values = json.loads(redis.lpop(REQUEST_LOG_BUFFER))
    redis.rpush(REQUEST_LOG_BUFFER, json.dumps({**values, **changes}))


def test_an_entry_of_an_account_deleted_since_is_dropped(api_client: ApiClient) -> None:
    api_client.get("/v1/numbers")
    rewrite_buffered(account_id=2_000_000_000)
    api_client.get("/v1/faxes")

    assert request_log_flush() == 1
    assert RequestLogEntry.objects.get().path == "/v1/faxes"


def test_an_entry_of_a_key_deleted_since_keeps_its_row_without_the_key(
    api_client: ApiClient, account: Account
) -> None:
    api_client.get("/v1/numbers")
    rewrite_buffered(api_key_id="key_deletedSinceThen00000")

    assert request_log_flush() == 1
    entry = RequestLogEntry.objects.get()
    assert (entry.account_id, entry.api_key_id) == (account.pk, None)


def test_an_unreadable_buffered_entry_is_dropped(
    api_client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    get_redis().rpush(REQUEST_LOG_BUFFER, b"{not json")
    api_client.get("/v1/numbers")

    assert request_log_flush() == 1
    assert "unreadable" in caplog.text


def test_a_buffered_record_carries_every_column_of_an_entry() -> None:
    from dataclasses import fields

    from developers.services.request_log import RequestRecord

    columns = {f.attname for f in RequestLogEntry._meta.concrete_fields if not f.primary_key}
    assert {field.name for field in fields(RequestRecord)} == columns


def test_the_flush_task_runs_every_5_seconds(api_client: ApiClient, settings) -> None:
    api_client.get("/v1/numbers")

    request_log_flush_task.apply()

    assert RequestLogEntry.objects.count() == 1
    schedule = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["developers.tasks.request_log_flush_task"] == 5.0


# --- Retention ---------------------------------------------------------------------------------


def test_entries_are_purged_after_30_days(api_client: ApiClient) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=30, minutes=1)):
        api_client.get("/v1/numbers")
    with time_machine.travel(timezone.now() - timedelta(days=29, hours=23)):
        api_client.get("/v1/faxes")
    request_log_flush()

    assert request_log_purge() == 1
    assert list(RequestLogEntry.objects.values_list("path", flat=True)) == ["/v1/faxes"]


def test_the_purge_deletes_in_batches(api_client: ApiClient) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=31)):
        for _ in range(5):
            api_client.get("/v1/numbers")
    request_log_flush()

    assert request_log_purge(batch_size=2) == 5
    assert RequestLogEntry.objects.count() == 0


def test_the_periodic_task_purges(api_client: ApiClient) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=40)):
        api_client.get("/v1/numbers")
    request_log_flush()

    request_log_purge_task.apply()

    assert RequestLogEntry.objects.count() == 0


def test_the_purge_is_scheduled_hourly(settings) -> None:
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }

    assert schedule["developers.tasks.request_log_purge_task"] == 3600.0
