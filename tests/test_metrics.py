"""GET /metrics: Prometheus text behind METRICS_TOKEN, and the counters that move with faxes,
requests, rate limits, queues and webhook deliveries.

Counters live for the whole test process, so each test compares values before and after.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import Account
from developers.services import webhook_deliveries, webhook_endpoints
from faxes.models import Fax, FaxStatus
from faxes.services import pipeline as fax_pipeline
from faxes.services import status as fax_status
from sendfaxmail.lib.redis import get_redis
from tests.conftest import ApiClient, make_key
from tests.factories import FaxFactory
from tests.processes import run_script

pytestmark = pytest.mark.django_db

TOKEN = "metrics-test-token-0123456789"


@pytest.fixture(autouse=True)
def _token(settings) -> None:
    settings.METRICS_TOKEN = TOKEN


def scrape() -> dict[tuple[str, frozenset], float]:
    """Every sample /metrics shows, by name and labels."""
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- Access -------------------------------------------------------------------------------------


def test_it_refuses_a_request_without_the_token() -> None:
    assert Client().get("/metrics").status_code == 404


def test_it_refuses_a_wrong_token() -> None:
    response = Client().get("/metrics", headers={"Authorization": "Bearer not-the-token"})

    assert response.status_code == 404


def test_it_does_not_exist_without_a_configured_token(settings) -> None:
    settings.METRICS_TOKEN = ""

    response = Client().get("/metrics", headers={"Authorization": "Bearer "})

    assert response.status_code == 404


def test_it_serves_the_prometheus_text_format_with_the_token() -> None:
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE sfm_http_request_duration_seconds histogram" in response.content


# --- Requests -----------------------------------------------------------------------------------


def test_a_request_shows_in_the_latency_histogram_by_route_name(api_client: ApiClient) -> None:
    labels = {"route": "v1:numbers", "method": "GET", "status": "200"}
    before = value(scrape(), "sfm_http_request_duration_seconds_count", **labels)

    api_client.get("/v1/numbers")
    api_client.get("/v1/numbers")

    after = value(scrape(), "sfm_http_request_duration_seconds_count", **labels)
    assert after - before == 2


def test_a_rate_limited_request_is_counted(account: Account, settings) -> None:
    settings.API_READ_RATE = "1/m"
    client = ApiClient(make_key(account)[1])
    before = value(scrape(), "sfm_rate_limit_rejections_total", bucket="read")

    client.get("/v1/numbers")
    refused = client.get("/v1/numbers")

    assert refused.status_code == 429
    assert value(scrape(), "sfm_rate_limit_rejections_total", bucket="read") - before == 1


# --- Faxes --------------------------------------------------------------------------------------


def test_an_accepted_fax_is_counted_once_committed(
    accepted_fax, django_capture_on_commit_callbacks
) -> None:
    labels = {"mode": "live", "source": "inline"}
    before = value(scrape(), "sfm_faxes_accepted_total", **labels)

    with django_capture_on_commit_callbacks(execute=True):
        accepted_fax()

    assert value(scrape(), "sfm_faxes_accepted_total", **labels) - before == 1


def test_a_refused_send_counts_nothing(api_client: ApiClient, django_capture_on_commit_callbacks):
    before = value(scrape(), "sfm_faxes_accepted_total", mode="live", source="inline")

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post_json("/v1/faxes", {"to": "+15551234567"})

    assert response.status_code == 400
    assert value(scrape(), "sfm_faxes_accepted_total", mode="live", source="inline") == before


@pytest.fixture
def sending_fax(telnyx, accepted_fax, django_capture_on_commit_callbacks) -> tuple[Fax, str]:
    """A fax Telnyx accepted: status sending, with Telnyx's id stored."""
    fax = accepted_fax()
    telnyx.accepts_media()
    carrier_fax_id = telnyx.accepts_fax()
    with django_capture_on_commit_callbacks(execute=True):
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    fax.refresh_from_db()
    return fax, carrier_fax_id


def test_a_submitted_then_delivered_fax_is_counted_with_its_stage_times(
    telnyx, accepted_fax, django_capture_on_commit_callbacks
) -> None:
    before = scrape()
    fax = accepted_fax()
    telnyx.accepts_media()
    carrier_fax_id = telnyx.accepts_fax()
    with django_capture_on_commit_callbacks(execute=True):
        fax_pipeline.fax_submit_to_carrier(fax_id=fax.id)
    with django_capture_on_commit_callbacks(execute=True):
        telnyx.deliver(telnyx.event("fax.delivered", fax=fax, carrier_fax_id=carrier_fax_id))

    after = scrape()
    assert (
        value(after, "sfm_faxes_submitted_total", mode="live")
        - value(before, "sfm_faxes_submitted_total", mode="live")
        == 1
    )
    assert (
        value(after, "sfm_faxes_delivered_total", mode="live")
        - value(before, "sfm_faxes_delivered_total", mode="live")
        == 1
    )
    for stage in ("queued", "sending", "total"):
        name = "sfm_fax_stage_duration_seconds_count"
        assert (
            value(after, name, mode="live", stage=stage)
            - value(before, name, mode="live", stage=stage)
            == 1
        )


def test_a_failed_fax_is_counted_by_its_reason(
    telnyx, sending_fax, django_capture_on_commit_callbacks
) -> None:
    fax, carrier_fax_id = sending_fax
    before = value(scrape(), "sfm_faxes_failed_total", mode="live", reason="busy")

    with django_capture_on_commit_callbacks(execute=True):
        telnyx.deliver(telnyx.event("fax.failed", fax=fax, carrier_fax_id=carrier_fax_id))

    assert value(scrape(), "sfm_faxes_failed_total", mode="live", reason="busy") - before == 1


def test_faxes_waiting_more_than_ten_minutes_are_shown(account: Account) -> None:
    stale = FaxFactory(account=account, status=FaxStatus.QUEUED)
    Fax.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    FaxFactory(account=account, status=FaxStatus.QUEUED)
    FaxFactory(account=account, status=FaxStatus.SENDING)

    samples = scrape()

    assert value(samples, "sfm_faxes_waiting", status="queued") == 2
    assert value(samples, "sfm_faxes_waiting_stale", status="queued") == 1
    assert value(samples, "sfm_faxes_waiting_oldest_seconds") >= 660


def test_a_scheduled_fax_released_days_after_it_was_accepted_is_not_stale(
    account: Account,
) -> None:
    now = timezone.now()
    released = FaxFactory(account=account, status=FaxStatus.QUEUED, send_at=now)
    Fax.objects.filter(pk=released.pk).update(created_at=now - timedelta(days=2))

    samples = scrape()

    assert value(samples, "sfm_faxes_waiting_stale", status="queued") == 0
    assert value(samples, "sfm_faxes_waiting_oldest_seconds") < 600


def test_a_fax_waiting_for_its_redial_is_not_stale(account: Account) -> None:
    now = timezone.now()
    redial = FaxFactory(
        account=account, status=FaxStatus.QUEUED, next_attempt_at=now + timedelta(minutes=30)
    )
    Fax.objects.filter(pk=redial.pk).update(created_at=now - timedelta(minutes=20))

    samples = scrape()

    assert value(samples, "sfm_faxes_waiting", status="queued") == 1
    assert value(samples, "sfm_faxes_waiting_stale", status="queued") == 0
    assert value(samples, "sfm_faxes_waiting_oldest_seconds") == 0


def test_queue_lengths_are_read_from_the_broker(settings) -> None:
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    get_redis().rpush("carrier", "task-1", "task-2", "task-3")

    samples = scrape()

    assert value(samples, "sfm_celery_queue_length", queue="carrier") == 3
    assert value(samples, "sfm_celery_queue_length", queue="fetch") == 0


def test_a_webhook_delivery_is_counted_with_its_response_time(account: Account, receiver) -> None:
    webhook_endpoints.webhook_endpoint_create(account=account, url=receiver.url())
    fax_status.fax_advance(
        fax=FaxFactory(account=account, status=FaxStatus.SENDING),
        status=FaxStatus.DELIVERED,
        source="test",
    )
    before = scrape()

    for delivery_id in webhook_deliveries.webhook_deliveries_claim():
        webhook_deliveries.webhook_delivery_attempt(delivery_id=delivery_id)

    after = scrape()
    attempts = "sfm_webhook_delivery_attempts_total"
    assert (
        value(after, attempts, outcome="succeeded") - value(before, attempts, outcome="succeeded")
        == 1
    )
    for name in (
        "sfm_webhook_delivery_duration_seconds_count",
        "sfm_webhook_delivery_lag_seconds_count",
    ):
        assert value(after, name) - value(before, name) == 1


# --- Labels -------------------------------------------------------------------------------------


def test_no_label_carries_a_phone_number_an_id_or_a_path(
    api_client: ApiClient, accepted_fax, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        fax = accepted_fax(to="+15557654321")
    api_client.get(f"/v1/faxes/{fax.id}")
    api_client.get("/v1/faxes/fax_doesnotexist")
    api_client.get("/v1/no/such/route")

    label_values = {v for _, labels in scrape() for _, v in labels}

    # Route names (`admin:faxes_fax_change`) are fine; ids, numbers and paths are not.
    leaks = [
        v
        for v in label_values
        if fax.id in v
        or "doesnotexist" in v
        or "/" in v
        or re.search(r"\d{7,}|[a-z]+_[A-Za-z0-9]{16,}", v)
    ]
    assert leaks == []


# --- Worker processes ---------------------------------------------------------------------------

_WORKER = """
import django
django.setup()
from sendfaxmail.lib import metrics
metrics.fax_accepted(livemode=True, source="url")
metrics.fax_accepted(livemode=True, source="url")
print("null")
"""

_WEB = """
import json
import django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="localhost")
print(json.dumps(client.get("/metrics", headers={"Authorization": "Bearer %s"}).content.decode()))
"""


def test_it_adds_up_every_process_sharing_the_multiprocess_folder(tmp_path: Path) -> None:
    from django.db import connection

    database = connection.settings_dict
    env: dict[str, str | None] = {
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
        f"/{database['NAME']}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "METRICS_TOKEN": TOKEN,
    }

    def run(source: str) -> str | None:
        return run_script(source, env=env, timeout=120)

    run(_WORKER)
    run(_WORKER)
    text = run(_WEB % TOKEN)

    assert 'sfm_faxes_accepted_total{mode="live",source="url"} 4.0' in text
