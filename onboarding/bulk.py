"""Two bulk writes of the tracking hot path, in one statement each where the database allows.

Django's ``bulk_create(ignore_conflicts=True)`` cannot say which rows it inserted, and
``bulk_update`` builds a ``CASE`` expression per field and row whose compilation costs
more than the rows themselves. On other databases both fall back to the ORM.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connections, models, router

M = TypeVar("M", bound=models.Model)


def _chunks(items: Sequence[M], size: int) -> list[Sequence[M]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


# Values psycopg adapts as they are: on PostgreSQL these skip the field's preparation,
# which costs more than the insert for a batch of plain rows.
_NATIVE = (
    models.UUIDField,
    models.IntegerField,
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.FloatField,
)


def _column(field: Any, values: Sequence[Any], connection: Any) -> list[Any]:
    """``values`` of ``field`` as the database takes them."""
    target = field.target_field if field.is_relation else field
    if connection.vendor == "postgresql":
        if isinstance(target, _NATIVE):
            return list(values)
        if isinstance(target, models.DateTimeField) and all(
            value is None or value.tzinfo is not None for value in values
        ):
            return list(values)
    return [field.get_db_prep_save(value, connection) for value in values]


def _db_value(field: Any, obj: models.Model, connection: Any) -> Any:
    return field.get_db_prep_save(getattr(obj, field.attname), connection)


def insert_new(objs: Sequence[M], *, batch_size: int) -> set[uuid.UUID] | None:
    """Insert the rows whose (UUID) primary key is not stored yet; return the keys inserted.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING pk`` per chunk: exact even against
    a concurrent insert of the same keys (it waits for that transaction's outcome).
    ``None`` where the database cannot return rows from an insert: nothing was done.
    Values are taken as they are (no ``pre_save``: fit for models without ``auto_now``).
    """
    if not objs:
        return set()
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    if not (
        connection.features.can_return_rows_from_bulk_insert
        and connection.features.supports_ignore_conflicts
    ):
        return None
    meta: Any = model._meta  # django-stubs types columns as optional; concrete ones have one
    fields = [field for field in meta.concrete_fields if not field.generated]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    pk = quote(meta.pk.column)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    insert = f"INSERT INTO {quote(meta.db_table)} ({columns}) "
    returning = f" ON CONFLICT ({pk}) DO NOTHING RETURNING {pk}"
    size = max(1, min(batch_size, connection.ops.bulk_batch_size(fields, objs)))
    inserted: set[uuid.UUID] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array per column: a handful of parameters for any number of rows, where
            # a VALUES list needs thousands, which cost more to convert than to run.
            arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
            unnest = (
                f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT * FROM UNNEST({arrays})"
            )
            for chunk in _chunks(objs, batch_size):
                params = [
                    _column(field, [getattr(obj, field.attname) for obj in chunk], connection)
                    for field in fields
                ]
                cursor.execute(unnest + returning, params)
                inserted.update(uuid.UUID(str(value)) for (value,) in cursor.fetchall())
            return inserted
        for chunk in _chunks(objs, size):
            params = [_db_value(field, obj, connection) for obj in chunk for field in fields]
            cursor.execute(f"{insert}VALUES {', '.join([row] * len(chunk))}{returning}", params)
            # UUIDs come back as UUID (PostgreSQL) or 32 hex digits (SQLite).
            inserted.update(uuid.UUID(str(value)) for (value,) in cursor.fetchall())
    return inserted


def update_rows(objs: Sequence[M], fields: Sequence[str], *, batch_size: int) -> None:
    """``bulk_update(objs, fields)``: on PostgreSQL one ``UPDATE ... FROM UNNEST(...)`` per
    chunk, elsewhere the ORM's."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, fields, batch_size=batch_size)
        return
    meta: Any = model._meta
    targets = [meta.get_field(name) for name in fields]
    columns = [meta.pk, *targets]
    quote = connection.ops.quote_name
    # One typed array per column: VALUES would give its columns no types of its own.
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in columns)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in targets)
    names = ", ".join(quote(field.column) for field in columns)
    pk = quote(meta.pk.column)
    with connection.cursor() as cursor:
        for chunk in _chunks(objs, batch_size):
            params = [
                _column(field, [getattr(obj, field.attname) for obj in chunk], connection)
                for field in columns
            ]
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
                f"FROM UNNEST({arrays}) AS v ({names}) WHERE t.{pk} = v.{pk}",
                params,
            )


def lock_or_create(objs: Sequence[M], unique_fields: Sequence[str]) -> list[tuple[M, bool]] | None:
    """Insert the rows of ``objs`` missing by ``unique_fields`` and lock the others, for the
    rest of the transaction, in one statement; each row as stored, and whether it is new.

    ``INSERT ... ON CONFLICT (...) DO UPDATE`` (a no-op update that takes the row lock)
    ``RETURNING``: rows are locked or inserted in the order of ``objs``, so callers that
    sort them alike cannot deadlock. ``None`` on databases other than PostgreSQL.
    """
    if not objs:
        return []
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return None
    meta: Any = model._meta
    every = [field for field in meta.concrete_fields if not field.generated]
    fields = [field for field in every if field is not meta.pk]  # the database makes keys
    unique = [meta.get_field(name).column for name in unique_fields]
    quote = connection.ops.quote_name
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        # WITH ORDINALITY ... ORDER BY: rows are taken in the order given.
        f"SELECT {', '.join(f'v{i}' for i in range(len(fields)))} FROM UNNEST({arrays}) "
        f"WITH ORDINALITY AS v ({', '.join(f'v{i}' for i in range(len(fields)))}, n) ORDER BY n "
        f"ON CONFLICT ({', '.join(quote(column) for column in unique)}) "
        f"DO UPDATE SET {quote(unique[0])} = EXCLUDED.{quote(unique[0])} "
        # xmax is 0 on a row this statement inserted (PostgreSQL's usual upsert idiom).
        f"RETURNING {', '.join(quote(f.column) for f in every)}, (xmax = 0)"
    )
    params = [
        _column(field, [field.pre_save(obj, add=True) for obj in objs], connection)
        for field in fields
    ]
    converters = [field.get_db_converters(connection) for field in every]
    names = [field.attname for field in every]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        stored = cursor.fetchall()
    result: list[tuple[M, bool]] = []
    for *values, inserted in stored:
        for index, field_converters in enumerate(converters):
            for convert in field_converters:
                values[index] = convert(values[index], None, connection)
        result.append((model.from_db(connection.alias, names, values), bool(inserted)))
    return result


def upsert_rows(
    objs: Sequence[M], unique_fields: Sequence[str], update_fields: Sequence[str]
) -> bool:
    """Insert ``objs`` (their keys left to the database) or, where a row with the same
    ``unique_fields`` exists, update its ``update_fields``: one statement per chunk on
    PostgreSQL. ``False`` elsewhere: nothing was done."""
    if not objs:
        return True
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return False
    meta: Any = model._meta
    fields = [f for f in meta.concrete_fields if not f.generated and f is not meta.pk]
    quote = connection.ops.quote_name
    unique = ", ".join(quote(meta.get_field(name).column) for name in unique_fields)
    updates = ", ".join(
        f"{quote(column)} = EXCLUDED.{quote(column)}"
        for column in (meta.get_field(name).column for name in update_fields)
    )
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"SELECT * FROM UNNEST({arrays}) ON CONFLICT ({unique}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        for chunk in _chunks(objs, 1000):
            cursor.execute(
                sql,
                [
                    _column(field, [getattr(obj, field.attname) for obj in chunk], connection)
                    for field in fields
                ],
            )
    return True
