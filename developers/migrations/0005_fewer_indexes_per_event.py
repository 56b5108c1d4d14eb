"""Fewer indexes written by every customer event and by every change of its deliveries: the
`varchar_pattern_ops` copies Django adds beside varchar keys and indexed text, which only
prefix LIKE queries use (none does: the admin's searches are `icontains`, which no index
serves), and the delivery's own index of its endpoint, which the (endpoint, -created_at) index
serves. A delivery's row is updated at each claim and attempt, and those updates change indexed
columns (the lease, the status), so each rewrites every index: 9 of them, now 5. An event
writes 3 index entries instead of 5."""

import django.db.models.deletion
from django.db import migrations, models

# Django's indexes for LIKE: no option of the fields leaves them out.
LIKE_INDEXES = {
    "developers_webhookevent_id_5c28f980_like": ("developers_webhookevent", "id"),
    "developers_webhookevent_object_id_07a96699_like": ("developers_webhookevent", "object_id"),
    "developers_webhookdelivery_id_1734a452_like": ("developers_webhookdelivery", "id"),
    "developers_webhookdelivery_event_id_9b4c46a0_like": ("developers_webhookdelivery", "event_id"),
}


def drop_like_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for name in LIKE_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def create_like_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for name, (table, column) in LIKE_INDEXES.items():
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column} varchar_pattern_ops)"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("developers", "0004_request_log"),
    ]

    operations = [
        migrations.RunPython(drop_like_indexes, create_like_indexes),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="endpoint",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="developers.webhookendpoint",
            ),
        ),
    ]
