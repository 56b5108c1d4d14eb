"""`make run` serves from SQLite: the hand-written authentication query (developers/selectors.py)
reads a real row there as it does on PostgreSQL. The check runs in a process of its own, on a
new SQLite database made by the migrations."""

from __future__ import annotations

from pathlib import Path

from tests.processes import run_script

SCRIPT = """
import json
from datetime import UTC, datetime

import django

django.setup()
from django.core.management import call_command
from django.db import connection

call_command("migrate", verbosity=0)

from accounts.services import account_create, plan_get
from developers.models import ApiKey
from developers.selectors import api_key_for_secret
from developers.services.api_keys import api_key_create

account = account_create(
    email="parity@example.com", password=None, plan=plan_get(slug="business"), trial=True
)
key, secret = api_key_create(
    account=account, name="k", scopes=["faxes:send"], created_by=account.owner, livemode=False
)
used = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
ApiKey.objects.filter(pk=key.pk).update(last_used_at=used)
account.fax_retry_attempts, account.fax_retry_interval_seconds = 2, 300
account.save(update_fields=["fax_retry_attempts", "fax_retry_interval_seconds"])

found = api_key_for_secret(secret)
print(json.dumps({
    "vendor": connection.vendor,
    "id": found.id == key.id,
    "scopes": found.scopes,
    "livemode": repr(found.livemode),
    "last_used_at": found.last_used_at.isoformat(),
    "trial_ends_at": found.account.trial_ends_at == account.trial_ends_at,
    "account_id": found.account_id == account.id,
    "plan": found.account.plan.slug,
    "has_api_access": found.account.has_api_access,
    "redial": [found.account.fax_retry_attempts, found.account.fax_retry_interval_seconds],
}))
"""


def test_the_auth_query_reads_a_real_sqlite_row(tmp_path: Path) -> None:
    found = run_script(
        SCRIPT,
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
    )

    assert found == {
        "vendor": "sqlite",
        "id": True,
        "scopes": ["faxes:send"],
        "livemode": "False",
        "last_used_at": "2026-11-26T23:00:00+00:00",
        "trial_ends_at": True,
        "account_id": True,
        "plan": "business",
        "has_api_access": True,
        "redial": [2, 300],
    }
