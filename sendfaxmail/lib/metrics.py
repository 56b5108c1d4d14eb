"""Prometheus metrics: their definitions, the request-latency middleware, and GET /metrics.

Every metric is defined here, so the README's list has one source. Label values come from small
fixed sets (route names, status codes, queue names, failure reasons): never a path, a phone
number, an id or anything a customer typed.

Processes. gunicorn's workers and Celery's pool processes each count on their own. With
PROMETHEUS_MULTIPROC_DIR set (before Python starts, to an empty folder that every process of the
deployment shares), prometheus-client keeps each process's values in memory-mapped files there,
and /metrics adds them up, so a counter that a Celery worker moves shows in the web's /metrics.
Without it (`make run`, tests), /metrics shows the answering process's own values. Only counters
and histograms are kept per process; the gauges (queue lengths, waiting faxes) are read at
scrape time, so no process needs to be marked dead when it exits.

Access. /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; without METRICS_TOKEN
it does not exist (404), and a missing or wrong token is a 404 too, so the route does not
announce itself.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from redis import RedisError

from sendfaxmail.lib.redis import get_redis

logger = logging.getLogger(__name__)

# Request latency: from a millisecond health check to a 20 MB upload.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A fax's stages last from a second (the simulator) to many minutes (a busy line, retries).
STAGE_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 86400)

HTTP_REQUEST_DURATION = Histogram(
    "sfm_http_request_duration_seconds",
    "Time to answer an HTTP request, by route (URL pattern name), method and status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
FAXES_ACCEPTED = Counter(
    "sfm_faxes_accepted_total",
    "Faxes accepted by POST /v1/faxes (counted when the transaction commits).",
    ["mode", "source"],
)
FAXES_SUBMITTED = Counter(
    "sfm_faxes_submitted_total",
    "Faxes the carrier took (status sending).",
    ["mode"],
)
FAXES_DELIVERED = Counter(
    "sfm_faxes_delivered_total",
    "Faxes delivered.",
    ["mode"],
)
FAXES_FAILED = Counter(
    "sfm_faxes_failed_total",
    "Faxes failed, by failure_reason (the documented codes).",
    ["mode", "reason"],
)
FAX_STAGE_DURATION = Histogram(
    "sfm_fax_stage_duration_seconds",
    "Time a fax spent in a stage: queued (accepted to sending), sending (sending to finished), "
    "total (accepted to finished).",
    ["mode", "stage"],
    buckets=STAGE_BUCKETS,
)
WEBHOOK_DELIVERY_DURATION = Histogram(
    "sfm_webhook_delivery_duration_seconds",
    "Time a customer's endpoint took to answer one delivery attempt (no answer included).",
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_DELIVERY_LAG = Histogram(
    "sfm_webhook_delivery_lag_seconds",
    "Time from an event to its successful delivery (retries included).",
    buckets=STAGE_BUCKETS,
)
WEBHOOK_DELIVERY_ATTEMPTS = Counter(
    "sfm_webhook_delivery_attempts_total",
    "Customer webhook delivery attempts, by outcome: succeeded, retrying (failed, will be "
    "retried), failed (given up or endpoint disabled).",
    ["outcome"],
)
RATE_LIMIT_REJECTIONS = Counter(
    "sfm_rate_limit_rejections_total",
    "/v1 requests refused with 429, by budget (send or read).",
    ["bucket"],
)

MODES = {True: "live", False: "test"}
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# --- Recording ------------------------------------------------------------------------------


def fax_accepted(*, livemode: bool, source: str) -> None:
    FAXES_ACCEPTED.labels(mode=MODES[bool(livemode)], source=source).inc()


def fax_status_changed(
    *,
    status: str,
    livemode: bool,
    failure_reason: str,
    created_at: Any,
    sending_since: Any,
    now: Any,
) -> None:
    """Count a fax reaching `status` and the time it spent in the stage it left.

    `sending_since` is when the fax went to the carrier, if it did (None otherwise).
    """
    mode = MODES[bool(livemode)]
    stage = FAX_STAGE_DURATION
    if status == "sending":
        FAXES_SUBMITTED.labels(mode=mode).inc()
        if created_at is not None:
            stage.labels(mode=mode, stage="queued").observe(_seconds(now - created_at))
        return
    if status == "delivered":
        FAXES_DELIVERED.labels(mode=mode).inc()
    elif status == "failed":
        FAXES_FAILED.labels(mode=mode, reason=failure_reason or "unknown").inc()
    else:
        return
    if sending_since is not None:
        stage.labels(mode=mode, stage="sending").observe(_seconds(now - sending_since))
    if created_at is not None:
        stage.labels(mode=mode, stage="total").observe(_seconds(now - created_at))


# A delivery's status after an attempt -> the outcome label.
WEBHOOK_OUTCOMES = {"succeeded": "succeeded", "pending": "retrying", "failed": "failed"}


def webhook_answered(*, seconds: float) -> None:
    """A customer's endpoint answered a delivery attempt (any status) in `seconds`."""
    WEBHOOK_DELIVERY_DURATION.observe(max(0.0, seconds))


def webhook_attempt_recorded(*, status: str, event_created_at: Any) -> None:
    """A delivery attempt was recorded with the delivery's new `status`; on success, how long
    after its event it arrived."""
    WEBHOOK_DELIVERY_ATTEMPTS.labels(outcome=WEBHOOK_OUTCOMES.get(str(status), "failed")).inc()
    if str(status) == "succeeded" and event_created_at is not None:
        WEBHOOK_DELIVERY_LAG.observe(_seconds(timezone.now() - event_created_at))


def rate_limited(*, bucket: str) -> None:
    RATE_LIMIT_REJECTIONS.labels(bucket=bucket).inc()


def _seconds(delta: Any) -> float:
    return max(0.0, delta.total_seconds())


# --- Request latency --------------------------------------------------------------------------


class RequestMetricsMiddleware:
    """Time every request, labelled by the URL pattern's name (never the path). Place it first,
    so that the time covers the other middleware too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        began = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in STANDARD_METHODS else "other"
        HTTP_REQUEST_DURATION.labels(
            route=route_name(request), method=method, status=str(response.status_code)
        ).observe(time.perf_counter() - began)
        return response


def route_name(request: HttpRequest) -> str:
    """`v1:faxes`, `healthz`, `admin:index`…; `unnamed` for a pattern without a name (the /v1
    catch-all 404), `none` when no pattern matched (static files, unknown paths)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "none"
    if not match.url_name:
        return "unnamed"
    return match.view_name


# --- Gauges read at scrape time ---------------------------------------------------------------

# The Celery queues (settings.CELERY_TASK_ROUTES); Redis keeps each as a list of that name.
CELERY_QUEUES = ("celery", "carrier", "events", "webhooks", "fetch")


class QueueLengthCollector:
    """`sfm_celery_queue_length{queue}`: tasks waiting in each Celery queue, read from Redis in
    one round trip when /metrics is scraped."""

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "sfm_celery_queue_length",
            "Tasks waiting in each Celery queue (Redis broker), read at scrape time.",
            labels=["queue"],
        )
        if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
            return [family]
        try:
            pipe = _broker_redis().pipeline(transaction=False)
            for queue in CELERY_QUEUES:
                pipe.llen(queue)
            lengths = pipe.execute()
        except RedisError:
            logger.warning("Metrics: the Celery broker does not answer", exc_info=True)
            return [family]
        for queue, length in zip(CELERY_QUEUES, lengths, strict=True):
            family.add_metric([queue], float(length))
        return [family]


def _broker_redis() -> Any:
    if settings.CELERY_BROKER_URL == settings.REDIS_URL:
        return get_redis()
    return _other_redis(settings.CELERY_BROKER_URL)


_clients: dict[str, Any] = {}


def _other_redis(url: str) -> Any:
    import redis

    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    return _clients[url]


# Apps add collectors that read their own tables at scrape time (faxes: waiting faxes); this
# module imports no app.
_scrape_collectors: list[Any] = [QueueLengthCollector()]


def register_scrape_collector(collector: Any) -> None:
    """Add a collector whose `collect()` runs at each scrape, in the answering process."""
    if collector not in _scrape_collectors:
        _scrape_collectors.append(collector)


# --- GET /metrics -------------------------------------------------------------------------------


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    for collector in _scrape_collectors:
        registry.register(collector)
    return registry


class _Default:
    """The process's own registry (metrics defined above), when not in multiprocess mode."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


@csrf_exempt
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text format, for `Authorization: Bearer <METRICS_TOKEN>` only."""
    if not _authorized(request):
        raise Http404()
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
