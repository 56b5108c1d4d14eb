"""Fax metrics (definitions in sendfaxmail/lib/metrics.py), counted once the change commits, so a
rolled-back transaction counts nothing. Two hooks: a new Fax row (post_save, connected in
FaxesConfig.ready) and `on_status_change`, the one function every status change goes through."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from faxes.models import Fax, FaxStatus
from sendfaxmail.lib import metrics

logger = logging.getLogger(__name__)


def fax_saved(sender: type[Fax], instance: Fax, created: bool, **kwargs: Any) -> None:
    """post_save receiver: a new fax was accepted."""
    if not created:
        return
    livemode, source = instance.livemode, instance.document_source
    transaction.on_commit(
        lambda: metrics.fax_accepted(livemode=livemode, source=source), robust=True
    )


def fax_status_changed(fax: Fax) -> None:
    """Called by `on_status_change`, inside the transaction that changed the status."""
    # A scheduled fax's wait counts from its `send_at`: the days it was meant to wait are not
    # time spent queued.
    due = max(fax.created_at, fax.send_at) if fax.send_at and fax.created_at else fax.created_at
    values = {
        "status": str(fax.status),
        "livemode": fax.livemode,
        "failure_reason": fax.failure_reason,
        "created_at": due,
        "sending_since": fax.submitted_at,
        "now": timezone.now(),
    }
    transaction.on_commit(lambda: metrics.fax_status_changed(**values), robust=True)


# Faxes not yet with the carrier: what the "stuck in queued" alert watches.
WAITING = (FaxStatus.QUEUED, FaxStatus.SUBMITTING)
STALE_AFTER = timedelta(minutes=10)


class WaitingFaxesCollector:
    """`sfm_faxes_waiting{status}` and `sfm_faxes_waiting_stale{status}` (waiting more than 10
    minutes since due): one query on the partial index of unfinished faxes, at scrape time."""

    def collect(self) -> Iterable[Metric]:
        waiting = GaugeMetricFamily(
            "sfm_faxes_waiting",
            "Faxes accepted but not yet with the carrier (queued, submitting), live and test.",
            labels=["status"],
        )
        stale = GaugeMetricFamily(
            "sfm_faxes_waiting_stale",
            "Of those, faxes due (accepted, or at their send_at) more than 10 minutes ago, "
            "a redial's wait aside.",
            labels=["status"],
        )
        oldest = GaugeMetricFamily(
            "sfm_faxes_waiting_oldest_seconds",
            "Age of the oldest fax not yet with the carrier (0 when there is none).",
        )
        cutoff = timezone.now() - STALE_AFTER
        # Waiting since it was accepted, or since its `send_at` (a scheduled fax released days
        # after it was accepted is not late); a fax waiting for its redial is not late either.
        since = Greatest("created_at", Coalesce("send_at", "created_at"))
        due = Q(next_attempt_at__isnull=True)
        due_long_ago = Q(send_at__isnull=True) | Q(send_at__lt=cutoff)
        try:
            rows = list(
                Fax.objects.filter(status__in=WAITING)
                .values("status")
                .annotate(
                    total=Count("id"),
                    stale=Count("id", filter=due & Q(created_at__lt=cutoff) & due_long_ago),
                    first=Min(since, filter=due),
                )
            )
        except DatabaseError:
            # The other metrics are still worth a scrape while the database is down.
            logger.warning("Metrics: the database does not answer", exc_info=True)
            return []
        counts = {status: (0, 0) for status in WAITING}
        firsts = []
        for row in rows:
            counts[row["status"]] = (row["total"], row["stale"])
            if row["first"] is not None:
                firsts.append(row["first"])
        for status, (total, old) in counts.items():
            waiting.add_metric([str(status)], total)
            stale.add_metric([str(status)], old)
        age = (timezone.now() - min(firsts)).total_seconds() if firsts else 0.0
        oldest.add_metric([], max(0.0, age))
        return [waiting, stale, oldest]
