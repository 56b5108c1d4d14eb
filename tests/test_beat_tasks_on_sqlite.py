"""`make run` serves from SQLite: every periodic task of the beat schedule runs there as it does
on PostgreSQL, and does its work (a query SQLite cannot compile would fail the task every
minute, and the documents it purges would stay, or the webhooks it claims would wait). The
check runs in a process of its own, on a new SQLite database made by the migrations."""

from __future__ import annotations

from pathlib import Path

from tests.processes import run_script

SCRIPT = """
import json
from datetime import timedelta

import django

django.setup()
from celery.app.base import Celery
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

call_command("migrate", verbosity=0)

sent = []
Celery.send_task = lambda self, name, *args, **kwargs: sent.append(name)

from faxes.models import Fax, FaxStatus
from tests.factories import AccountFactory, FaxFactory

now = timezone.now()
account = AccountFactory(plan_slug="business", with_number=True, document_retention_days=1)
expired = FaxFactory(
    account=account, status=FaxStatus.DELIVERED, completed_at=now - timedelta(days=2)
)
kept = FaxFactory(account=account, status=FaxStatus.DELIVERED, completed_at=now)
due = FaxFactory(
    account=account,
    status=FaxStatus.SCHEDULED,
    send_at=now - timedelta(seconds=1),
    document="faxes/stored.pdf",
)

from developers.models import WebhookDelivery, WebhookEndpoint
from developers.services.webhook_deliveries import DISPATCH_MARK, webhook_event_emit
from sendfaxmail.lib.redis import get_redis

if settings.REDIS_URL:
    get_redis().delete(DISPATCH_MARK)  # an earlier test's dispatch, still marked as queued

WebhookEndpoint.objects.create(
    account=account,
    url="https://hooks.example.com/x",
    secret="whsec_x",
    event_types=["fax.sending"],
)
webhook_event_emit(
    account_id=account.id, livemode=True, type="fax.sending", object_id="fax_x", data={}
)

import importlib

failed = {}
for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
    module, _, task = entry["task"].rpartition(".")
    try:
        getattr(importlib.import_module(module), task)()
    except Exception as error:
        failed[name] = repr(error)

delivery_claimed = WebhookDelivery.objects.get().leased_until is not None
# The attempt succeeds; its task takes the endpoint's next delivery.
from developers.services.webhook_deliveries import webhook_delivery_claim_next

WebhookDelivery.objects.update(status="succeeded", leased_until=None)
webhook_event_emit(
    account_id=account.id, livemode=True, type="fax.sending", object_id="fax_y", data={}
)
following = WebhookDelivery.objects.get(status="pending")
claimed_next = webhook_delivery_claim_next(endpoint_id=following.endpoint_id)
following.refresh_from_db()

print(json.dumps({
    "vendor": connection.vendor,
    "failed": failed,
    "expired_purged": Fax.objects.get(pk=expired.pk).document_purged_at is not None,
    "kept_purged": Fax.objects.get(pk=kept.pk).document_purged_at is not None,
    "scheduled_now": Fax.objects.get(pk=due.pk).status,
    "submit_sent": "faxes.tasks.fax_submit_task" in sent,
    "dispatch_sent_on_the_event": "developers.tasks.webhook_deliveries_dispatch_task" in sent,
    "delivery_claimed": delivery_claimed,
    "next_claimed": claimed_next == following.id and following.leased_until is not None,
    "attempt_sent": "developers.tasks.webhook_delivery_attempt_task" in sent,
}))
"""


def test_every_beat_task_runs_and_does_its_work_on_sqlite(tmp_path: Path) -> None:
    found = run_script(
        SCRIPT,
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
    )

    assert found == {
        "vendor": "sqlite",
        "failed": {},
        "expired_purged": True,
        "kept_purged": False,
        "scheduled_now": "queued",
        "submit_sent": True,
        "dispatch_sent_on_the_event": True,
        "delivery_claimed": True,
        "next_claimed": True,
        "attempt_sent": True,
    }
