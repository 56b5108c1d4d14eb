"""Seed the four plans. Prices are in cents; only Business and Enterprise include the API."""

from __future__ import annotations

from django.db import migrations

PLANS = [
    ("starter", "Starter", 1999, False, 1),
    ("professional", "Professional", 3999, False, 2),
    ("business", "Business", 7999, True, 3),
    ("enterprise", "Enterprise", 16999, True, 4),
]


def seed(apps, schema_editor) -> None:  # noqa: ANN001
    Plan = apps.get_model("accounts", "Plan")
    for slug, name, cents, api_access, order in PLANS:
        Plan.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "monthly_price_cents": cents,
                "api_access": api_access,
                "sort_order": order,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
