"""Written-out SQL for the reads every /v1 request makes and the rows the pipeline reads by key,
prepared INSERTs (the row every send writes, and a row stored once whatever the number of times
it is reported: a carrier's event), and an UPDATE that hands back the rows it changed."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import DEFERRED, Model, QuerySet
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import UpdateQuery

M = TypeVar("M", bound=Model)


def fetch_all(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of `sql`, prepared on PostgreSQL (parsed and planned once per connection, see
    sendfaxmail/lib/postgresql/base.py), as a plain cursor elsewhere (SQLite). A raw cursor:
    values come as the driver gives them, without Django's field converters."""
    with _prepared_cursor(sql) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _prepared_cursor(statement: str) -> AbstractContextManager[Any]:
    """PostgreSQL's prepared cursor for `statement`, kept open for its next run; a plain cursor
    elsewhere (SQLite), closed after use."""
    prepared = getattr(connection, "prepared_cursor", None)
    return nullcontext(prepared(statement)) if prepared is not None else connection.cursor()


_INSERTS: dict[tuple[type[Model], str, bool], tuple[str, list[Any]]] = {}


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


def insert_row(instance: Model) -> None:
    """Insert `instance` as one prepared statement and read nothing back: a key the database
    makes (an auto-increment id) stays unknown and the instance unsaved, and no signals are
    sent. For a row nobody reads back through the instance: a line of history."""
    _insert(instance, unless_duplicate="", key_from_database=True)


def _insert(instance: Model, *, unless_duplicate: str, key_from_database: bool = False) -> int:
    model = type(instance)
    shape = (model, unless_duplicate, key_from_database)
    statement = _INSERTS.get(shape)
    if statement is None:
        statement = _INSERTS[shape] = _insert_statement(
            model,
            unless_duplicate=unless_duplicate,
            key_from_database=key_from_database or bool(unless_duplicate),
        )
    sql, fields = statement
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    with _prepared_cursor(sql) as cursor:
        cursor.execute(sql, values)
        return cursor.rowcount


def _insert_statement(
    model: type[Model], *, unless_duplicate: str, key_from_database: bool
) -> tuple[str, list[Any]]:
    fields = list(model._meta.local_concrete_fields)
    if key_from_database:
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


def select_prepared(
    model: type[M], where: str, params: Sequence[Any], *, lock: bool = False
) -> list[M]:
    """The rows of `model` that match `where` (written-out SQL over its table's columns, every
    value a parameter), every field read as the ORM reads it (through its converters), in one
    statement prepared on PostgreSQL; locked (FOR UPDATE) with `lock`, where the database can.

    For a row the hot paths read by key: the ORM writes its 40-odd columns out anew on every
    query, which cost more than running it."""
    database = connections[DEFAULT_DB_ALIAS]
    columns, attnames, converters, compiler = _columns(model, database)
    statements = database.__dict__.setdefault("sfm_select_statements", {})
    sql = statements.get((model, where, lock))
    if sql is None:
        table = database.ops.quote_name(model._meta.db_table)
        # Names from the model, quoted; `where` is the caller's SQL, every value a parameter.
        sql = f"SELECT {columns} FROM {table} WHERE {where}"  # noqa: S608
        if lock and database.features.has_select_for_update:
            sql += " FOR UPDATE"
        # The same text each time: psycopg keeps a cursor's loaders for the same query object.
        statements[(model, where, lock)] = sql
    rows = fetch_all(sql, params)
    if converters:
        rows = list(compiler.apply_converters(rows, converters))
    return [model.from_db(DEFAULT_DB_ALIAS, attnames, row) for row in rows]


def update_returning(queryset: QuerySet[M], **values: Any) -> list[M]:
    """`queryset.update(**values)`, handing back the rows it changed as they are now: one
    statement (UPDATE … RETURNING every column), where reading a row back after its update took
    another query. The row stays locked by the update until the transaction ends, so what comes
    back is what a reader sees once it commits. Values come through the fields' converters, as
    a query's would."""
    model = queryset.model
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    # As QuerySet.update: annotations are not wanted in an UPDATE.
    query.annotations = {}
    sql, params = query.get_compiler(queryset.db).as_sql()
    database = connections[queryset.db]
    columns, attnames, converters, compiler = _columns(model, database)
    with database.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {columns}", params)
        rows = cursor.fetchall()
    if converters:
        rows = list(compiler.apply_converters(rows, converters))
    return [model.from_db(queryset.db, attnames, row) for row in rows]


def _columns(model: type[Model], database: Any) -> tuple[str, list[str], dict[int, Any], Any]:
    """Every column of `model`'s table, quoted and joined; their fields' attribute names; the
    converters of their values; and a compiler to apply them. Kept on the connection object
    (each thread has its own), since the backend's converters are bound to it, and dropped
    with it."""
    of_connection = database.__dict__.setdefault("sfm_model_columns", {})
    cached = of_connection.get(model)
    if cached is None:
        fields = list(model._meta.concrete_fields)
        quote = database.ops.quote_name
        compiler = model._base_manager.all().query.get_compiler(connection=database)
        converters = compiler.get_converters(
            [field.get_col(model._meta.db_table) for field in fields]
        )
        cached = of_connection[model] = (
            ", ".join(quote(field.column) for field in fields),
            [field.attname for field in fields],
            converters,
            compiler,
        )
    return cached


def model_from_values(model: type[M], attnames: Sequence[str], values: Sequence[Any]) -> M:
    """An instance of `model` read from the database (`from_db`) with `values` for the fields
    named by `attnames`, in that order, and every other field deferred: reading one runs a
    query rather than answering a default. For a row a written-out query read from several
    tables."""
    positions = _positions(model, tuple(attnames))
    row: list[Any] = [DEFERRED] * len(model._meta.concrete_fields)
    for position, value in zip(positions, values, strict=True):
        row[position] = value
    return model.from_db(DEFAULT_DB_ALIAS, None, row)


@functools.cache
def _positions(model: type[Model], attnames: tuple[str, ...]) -> list[int]:
    order = [field.attname for field in model._meta.concrete_fields]
    return [order.index(attname) for attname in attnames]


def refresh_from(instance: Model, current: Model) -> None:
    """Give `instance` the field values of `current`, the same row read later (from
    `update_returning`), as `refresh_from_db()` would without its query: a related object
    cached under a key that changed is dropped."""
    for field in type(instance)._meta.concrete_fields:
        value = getattr(current, field.attname)
        if (
            field.is_relation
            and field.is_cached(instance)
            and getattr(instance, field.attname) != value
        ):
            field.delete_cached_value(instance)
        setattr(instance, field.attname, value)
