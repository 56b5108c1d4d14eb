"""Seed the four plans. Prices are in cents; only Business and Enterprise include the API."""

from __future__ import annotations

from django.db import migrations

from accounts.services import plans_ensure_defaults


def seed(apps, schema_editor) -> None:  # noqa: ANN001
    plans_ensure_defaults(plan_model=apps.get_model("accounts", "Plan"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
