"""Written-out SQL for the reads every /v1 request makes, and prepared INSERTs: the row every
send writes, and a row stored once whatever the number of times it is reported (a carrier's
event)."""

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


_INSERTS: dict[tuple[type[Model], str], tuple[str, list[Any]]] = {}


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
    signal = {"sender": model, "instance": instance, "raw": False, "using": connection.alias}
    pre_save.send(**signal, update_fields=None)
    _insert(instance, unless_duplicate="")
    instance._state.adding = False
    instance._state.db = connection.alias
    post_save.send(**signal, created=True, update_fields=None)


def insert_unless_duplicate(instance: Model, *, unique: str) -> bool:
    """Insert `instance` unless a row with the same value of its field `unique` exists: True
    when inserted, False (nothing written) for a duplicate. The field's unique constraint must
    be on it alone, without a condition or with `unique IS NOT NULL`.

    One prepared statement (INSERT … ON CONFLICT DO NOTHING), where `save()` in a savepoint
    catching IntegrityError took three round trips. A row that stores a fact once (a carrier's
    event id) needs nothing more; so no signals are sent, and a key the database makes (an
    auto-increment id) is not read back: the instance stays unsaved.
    """
    return _insert(instance, unless_duplicate=unique) == 1


def _insert(instance: Model, *, unless_duplicate: str) -> int:
    model = type(instance)
    statement = _INSERTS.get((model, unless_duplicate))
    if statement is None:
        statement = _INSERTS[(model, unless_duplicate)] = _insert_statement(
            model, unless_duplicate=unless_duplicate
        )
    sql, fields = statement
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    with _prepared_cursor() as cursor:
        cursor.execute(sql, values)
        return cursor.rowcount


def _insert_statement(model: type[Model], *, unless_duplicate: str) -> tuple[str, list[Any]]:
    fields = list(model._meta.local_concrete_fields)
    if unless_duplicate:
        # The key the database makes is left to it; the row is not read back.
        fields = [field for field in fields if not field.db_returning]
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
    if unless_duplicate:
        column = quote(model._meta.get_field(unless_duplicate).column)
        # Matches the field's unique constraint, partial on NOT NULL or not (a value given here
        # is never NULL, so both are the arbiter).
        sql += f" ON CONFLICT ({column}) WHERE {column} IS NOT NULL DO NOTHING"
    return sql, fields
