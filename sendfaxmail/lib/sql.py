"""Written-out SQL for the reads every /v1 request makes, and a prepared INSERT for the row
every send writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from django.db.models.signals import post_save, pre_save


def fetch_all(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of `sql`, prepared on PostgreSQL (parsed and planned once per connection, see
    sendfaxmail/lib/postgresql/base.py), as a plain cursor elsewhere (SQLite). A raw cursor:
    values come as the driver gives them, without Django's field converters."""
    with _prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _prepared_cursor() -> Any:
    prepared = getattr(connection, "prepared_cursor", None)
    return prepared() if prepared is not None else connection.cursor()


_INSERTS: dict[type[Model], tuple[str, list[Any]]] = {}


def insert_prepared(instance: Model) -> None:
    """Insert a new `instance` as `instance.save(force_insert=True)` does (each field's
    `pre_save`, so `auto_now` fields are set on the instance; its value prepared by the field;
    the `pre_save` and `post_save` signals), as one statement prepared on PostgreSQL.

    The ORM writes the INSERT out anew on every save, and sends it with its 40-odd values
    written into the text, which PostgreSQL then parses and plans: for a fax that was a fifth of
    a send's time in Django, and half of it here. Only for a model whose every value is made in
    Python: an auto-increment key or a database default would need the row read back.
    """
    model = type(instance)
    statement = _INSERTS.get(model)
    if statement is None:
        statement = _INSERTS[model] = _insert_statement(model)
    sql, fields = statement
    pre_save.send(sender=model, instance=instance, raw=False, using="default", update_fields=None)
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    prepared = getattr(connection, "prepared_cursor", None)
    with prepared() if prepared is not None else connection.cursor() as cursor:
        cursor.execute(sql, values)
    instance._state.adding = False
    instance._state.db = "default"
    post_save.send(
        sender=model,
        instance=instance,
        created=True,
        update_fields=None,
        raw=False,
        using="default",
    )


def _insert_statement(model: type[Model]) -> tuple[str, list[Any]]:
    fields = list(model._meta.local_concrete_fields)
    made_by_the_database = [
        field.name
        for field in fields
        if field.db_returning or field.generated or field.has_db_default()
    ]
    if made_by_the_database:
        raise TypeError(f"{model.__name__} has values the database makes: {made_by_the_database}")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Names from the model, quoted; every value is a parameter.
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    return sql, fields
