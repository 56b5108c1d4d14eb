"""Scheduled faxes: a send with `send_at` waits as `scheduled` until that time, then is queued.

The wait lives in the database (`send_at`, under the partial index `fax_scheduled_due`), never
as a broker ETA, so that a fax scheduled days ahead survives restarts. A periodic task
(`faxes_release_scheduled_task`, every few seconds) releases the faxes that are due, each
claimed by one conditional update (`scheduled` -> `queued`): however many beat or worker
processes run it at once, a fax is released, and so submitted, once.

The header line's date and time is stamped at each submission (`_upload_and_send`), so a
scheduled fax shows when it really left, not when it was accepted.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from faxes.models import Fax, FaxStatus
from faxes.services.pipeline import pipeline_step_send
from faxes.services.status import fax_advance

# Faxes released per run at most; a run every few seconds.
RELEASE_BATCH = 500


def faxes_release_scheduled(*, now: datetime | None = None) -> list[str]:
    """Queue every scheduled fax whose `send_at` has come, and send its next step's task: the
    submission, or the fetch of a document still being fetched (a fetch already running holds
    its lease, and the new task then does nothing). Returns the ids this call released."""
    now = now or timezone.now()
    due = (
        Fax.objects.filter(status=FaxStatus.SCHEDULED, send_at__lte=now)
        .select_related("account")
        .order_by("send_at")[:RELEASE_BATCH]
    )
    released = []
    for fax in due:
        if fax_scheduled_release(fax=fax, now=now):
            released.append(fax.id)
    return released


def fax_scheduled_release(*, fax: Fax, now: datetime) -> bool:
    """Move `fax` from `scheduled` to `queued` if it still is scheduled and due at `now`, then
    send its step's task once that is committed. False if another run released it first, or it
    was canceled (or failed) meanwhile."""
    with transaction.atomic():
        released = fax_advance(
            fax=fax,
            status=FaxStatus.QUEUED,
            source="schedule",
            only_if=Q(status=FaxStatus.SCHEDULED, send_at__lte=now),
            enqueued_at=now,
            pipeline_restarts=0,
        )
        if not released:
            return False
        # Read after the update, which waited for any fetch storing the document meanwhile.
        stored = Fax.objects.filter(pk=fax.pk).values_list("document", flat=True).get()
        step = "submit" if stored else "fetch"
        transaction.on_commit(
            lambda: pipeline_step_send(fax.id, step, stamp=now, undo={"enqueued_at": None}),
            robust=True,
        )
    return True
