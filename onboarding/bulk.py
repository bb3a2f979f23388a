"""Two bulk writes of the tracking hot path, in one statement each where the database allows.

Django's ``bulk_create(ignore_conflicts=True)`` cannot say which rows it inserted, and
``bulk_update`` builds a ``CASE`` expression per field and row whose compilation costs
more than the rows themselves. On other databases both fall back to the ORM.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connections, models, router

M = TypeVar("M", bound=models.Model)
T = TypeVar("T")


@dataclass(frozen=True)
class Statement:
    """One SQL statement to run with others; ``rows``: whether it returns rows."""

    sql: str
    params: Sequence[Any]
    rows: bool = False


@contextmanager
def pipelined(connection: Any) -> Iterator[None]:
    """Statements executed inside share one round trip where the driver pipelines
    (psycopg 3): sent at once, their answers awaited on leaving (errors raised then, as
    Django's). Each statement still sees the effects and locks of those before it."""
    if not _psycopg3(connection):
        yield
        return
    import psycopg

    if not psycopg.Pipeline.is_supported():  # libpq older than 14
        yield
        return
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def _psycopg3(connection: Any) -> bool:
    connection.ensure_connection()
    return connection.vendor == "postgresql" and hasattr(connection.connection, "pipeline")


def array(connection: Any) -> str:
    """The placeholder of an array parameter in :class:`Statement`: binary with psycopg 3
    (converting an array to text costs several times as much, and more to parse)."""
    return "%b" if _psycopg3(connection) else "%s"


def typed_arrays(fields: Sequence[Any], connection: Any) -> str:
    """One array placeholder per field, cast to the field's column type (``UNNEST`` of
    untyped parameters, or ``VALUES``, would give the columns no types of their own)."""
    return ", ".join(f"{array(connection)}::{field.db_type(connection)}[]" for field in fields)


def _cursor(connection: Any) -> Any:
    """A cursor for :class:`Statement`: with psycopg 3 one that binds parameters on the
    server (Django's binds them in the query text, and cannot send binary), wrapped as
    Django's own so that queries are logged and errors translated alike."""
    if not _psycopg3(connection):
        return connection.cursor()
    import psycopg

    connection.validate_thread_sharing()
    raw = psycopg.Cursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


def send(connection: Any, statements: Sequence[Statement]) -> None:
    """Execute ``statements`` in order, reading no rows (inside :func:`pipelined`: not
    waiting for them)."""
    for statement in statements:
        with _cursor(connection) as cursor:
            cursor.execute(statement.sql, statement.params)


def run_together(connection: Any, statements: Sequence[Statement]) -> list[list[Any]]:
    """Run ``statements`` in order in one round trip (see :func:`pipelined`); the rows of
    each (``[]`` for those that return none)."""
    cursors = [_cursor(connection) for _statement in statements]
    try:
        with pipelined(connection):
            for cursor, statement in zip(cursors, statements, strict=True):
                cursor.execute(statement.sql, statement.params)
            return [
                cursor.fetchall() if statement.rows else []
                for cursor, statement in zip(cursors, statements, strict=True)
            ]
    finally:
        for cursor in cursors:
            cursor.close()


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
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


@dataclass(frozen=True)
class CopyFrom:
    """Columns an insert takes from the row of ``model`` whose ``on`` columns match."""

    model: type[models.Model]
    on: Sequence[str]
    columns: Sequence[str]


def insert_new_statement(
    model: type[models.Model],
    values: Mapping[str, Sequence[Any]],
    connection: Any,
    *,
    copy_from: CopyFrom | None = None,
) -> Statement:
    """:func:`insert_new` on PostgreSQL, of rows given by column (attribute name: values)
    plus the columns of ``copy_from``; returns the keys inserted.

    Rows go in by key, so that batches inserting some of the same keys at once wait on
    each other in one order instead of deadlocking.
    """
    meta: Any = model._meta
    quote = connection.ops.quote_name
    given = [meta.get_field(name) for name in values]
    # A column of one value (the flow, the time of receipt...) goes as one parameter:
    # converting arrays costs more than the insert itself.
    same = [
        field is not meta.pk and _one_value(column)  # keys: the rows' count and order
        for field, column in zip(given, values.values(), strict=True)
    ]
    varying = [field for field, one in zip(given, same, strict=True) if not one]
    names = [quote(field.column) for field in given]
    arrays = typed_arrays(varying, connection)
    selected = [
        f"%s::{field.db_type(connection)}" if one else f"v.{quote(field.column)}"
        for field, one in zip(given, same, strict=True)
    ]
    join = ""
    if copy_from is not None:
        other: Any = copy_from.model._meta
        copied = [meta.get_field(name) for name in copy_from.columns]
        names += [quote(field.column) for field in copied]
        selected += [f"j.{quote(other.get_field(name).column)}" for name in copy_from.columns]
        matches = " AND ".join(
            f"j.{quote(other.get_field(name).column)} = "
            + (
                f"%s::{meta.get_field(name).db_type(connection)}"
                if _one_value(values[name])
                else f"v.{quote(meta.get_field(name).column)}"
            )
            for name in copy_from.on
        )
        join = f" JOIN {quote(other.db_table)} AS j ON {matches}"
    pk = quote(meta.pk.column)
    unnest = f"UNNEST({arrays}) AS v ({', '.join(quote(field.column) for field in varying)})"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(names)}) "
        f"SELECT {', '.join(selected)} FROM {unnest}{join} "
        f"ORDER BY v.{pk} ON CONFLICT ({pk}) DO NOTHING RETURNING {pk}"
    )
    columns = dict(zip(values, zip(given, values.values(), same, strict=True), strict=True))
    scalars = [
        _column(field, column[:1], connection)[0] for field, column, one in columns.values() if one
    ]
    joined = [
        _column(columns[name][0], values[name][:1], connection)[0]
        for name in (copy_from.on if copy_from else ())
        if columns[name][2]
    ]
    params = [
        *scalars,
        *[_column(field, column, connection) for field, column, one in columns.values() if not one],
        *joined,
    ]
    return Statement(sql, params, rows=True)


def _one_value(column: Sequence[Any]) -> bool:
    """Whether every value is the same, as stored: ``{"n": 1}`` and ``{"n": True}`` are
    equal in Python but not in a JSON column, so containers compare as JSON text."""
    first = column[0]
    if isinstance(first, dict | list):
        text = json.dumps(first, sort_keys=True)
        return all(
            isinstance(value, dict | list) and json.dumps(value, sort_keys=True) == text
            for value in column
        )
    return all(type(value) is type(first) and value == first for value in column)


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
    run_together(connection, update_statements(objs, fields, connection, batch_size=batch_size))


def update_statements(
    objs: Sequence[M], fields: Sequence[str], connection: Any, *, batch_size: int
) -> list[Statement]:
    """The statements of :func:`update_rows` on PostgreSQL."""
    if not objs:
        return []
    meta: Any = type(objs[0])._meta
    targets = [meta.get_field(name) for name in fields]
    columns = [meta.pk, *targets]
    quote = connection.ops.quote_name
    arrays = typed_arrays(columns, connection)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in targets)
    names = ", ".join(quote(field.column) for field in columns)
    pk = quote(meta.pk.column)
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
        f"FROM UNNEST({arrays}) AS v ({names}) WHERE t.{pk} = v.{pk}"
    )
    return _by_chunk(sql, columns, objs, batch_size, connection)


def lock_or_create(objs: Sequence[M], unique_fields: Sequence[str]) -> list[tuple[M, bool]] | None:
    """Insert the rows of ``objs`` missing by ``unique_fields`` and lock the others, for the
    rest of the transaction, in one statement; each row as stored, and whether it is new.

    ``INSERT ... ON CONFLICT (...) DO UPDATE`` (a no-op update that takes the row lock)
    ``RETURNING``: rows are locked or inserted in the order of ``objs``, so callers that
    sort them alike cannot deadlock. ``None`` on databases other than PostgreSQL.
    """
    if not objs:
        return []
    connection = connections[router.db_for_write(type(objs[0]))]
    if connection.vendor != "postgresql":
        return None
    statement, read = lock_or_create_statement(objs, unique_fields, connection)
    return read(run_together(connection, [statement])[0])


def lock_or_create_statement(
    objs: Sequence[M], unique_fields: Sequence[str], connection: Any
) -> tuple[Statement, Callable[[list[Any]], list[tuple[M, bool]]]]:
    """The statement of :func:`lock_or_create` (PostgreSQL, ``objs`` not empty) and the
    function that reads its rows."""
    model = type(objs[0])
    meta: Any = model._meta
    every = [field for field in meta.concrete_fields if not field.generated]
    fields = [field for field in every if field is not meta.pk]  # the database makes keys
    unique = [meta.get_field(name).column for name in unique_fields]
    quote = connection.ops.quote_name
    arrays = typed_arrays(fields, connection)
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

    def read(stored: list[Any]) -> list[tuple[M, bool]]:
        result: list[tuple[M, bool]] = []
        for *values, inserted in stored:
            for index, field_converters in enumerate(converters):
                for convert in field_converters:
                    values[index] = convert(values[index], None, connection)
            result.append((model.from_db(connection.alias, names, values), bool(inserted)))
        return result

    return Statement(sql, params, rows=True), read


def upsert_statements(
    model: type[models.Model],
    objs: Sequence[Any],
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    connection: Any,
) -> list[Statement]:
    """Insert ``objs`` (their keys left to the database) or, where a row with the same
    ``unique_fields`` exists, update its ``update_fields``: one statement per chunk
    (PostgreSQL). ``objs`` may be any objects with the model's field attributes
    (``progress_id``, not ``progress``)."""
    meta: Any = model._meta
    fields = [f for f in meta.concrete_fields if not f.generated and f is not meta.pk]
    quote = connection.ops.quote_name
    unique = ", ".join(quote(meta.get_field(name).column) for name in unique_fields)
    updates = ", ".join(
        f"{quote(column)} = EXCLUDED.{quote(column)}"
        for column in (meta.get_field(name).column for name in update_fields)
    )
    arrays = typed_arrays(fields, connection)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"SELECT * FROM UNNEST({arrays}) ON CONFLICT ({unique}) DO UPDATE SET {updates}"
    )
    return _by_chunk(sql, fields, objs, 1000, connection)


def _by_chunk(
    sql: str, fields: Sequence[Any], objs: Sequence[Any], size: int, connection: Any
) -> list[Statement]:
    """``sql`` once per chunk of ``objs``, with one array parameter per field."""
    return [
        Statement(
            sql,
            [_column(f, [getattr(obj, f.attname) for obj in chunk], connection) for f in fields],
        )
        for chunk in _chunks(objs, size)
    ]
