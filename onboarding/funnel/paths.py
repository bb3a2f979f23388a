"""Keep :class:`~onboarding.funnel.pathmodel.FunnelPath` rows exact.

``track_many`` calls :func:`save_paths` with the rows and step states it just folded,
in its transaction and under its progress locks: one more statement per batch.
:func:`rebuild_paths` derives the rows from Progress and StepState again (upgrades,
``manage.py onboarding_funnel_paths``); both give the same row for the same state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.db import connections, router, transaction

from onboarding.bulk import Statement, send, typed_arrays
from onboarding.funnel.pathmodel import MAX_STEPS, FunnelPath, time_field
from onboarding.funnel.timeutil import to_us
from onboarding.models import FlowRecord, FlowVersion, Outcome, Progress, StepState

# Columns before the step times, in the order rows are built.
HEAD = ("progress_id", "flow_id", "version_id", "variant", "entered", "defaulted")


def _us(value: datetime) -> int:
    # A naive datetime (USE_TZ = False) is stored as it is and read as UTC, as SQL does.
    return to_us(value if value.tzinfo else value.replace(tzinfo=dt_timezone.utc))


def path_row(progress: Progress, states: Mapping[str, StepState]) -> list[Any]:
    """The values of ``progress``'s path row (``HEAD``, then one time per version step)."""
    keys = progress.version.step_keys[:MAX_STEPS]
    times: list[int | None] = []
    mask = 0
    for position, key in enumerate(keys):
        state = states.get(key)
        completed = None if state is None else state.completed_at
        times.append(None if completed is None else _us(completed))
        if state is not None and state.outcome == Outcome.DEFAULTED:
            mask |= 1 << position
    if progress.entered_at is None:  # only nudges: not entered, so no path row
        raise ValueError(f"Progress {progress.pk} has no entry and so no funnel path row.")
    head = [progress.pk, progress.flow_id, progress.version_id, progress.variant]
    return [*head, _us(progress.entered_at), mask, *times]


def save_paths(
    rows: Sequence[Progress], states: Mapping[tuple[int, str], StepState], using: str | None = None
) -> None:
    """Insert or update the path rows of ``rows`` from their step states.

    ``states`` holds every state of these rows, keyed by ``(progress id, step key)``
    (as ``track_many`` has them); each row's version must be loaded.
    """
    # A subject with only the app's own events has not entered: no path row.
    rows = [row for row in rows if row.entered_at is not None]
    if not rows:
        return
    by_progress: dict[int, dict[str, StepState]] = {row.pk: {} for row in rows}
    for (progress_id, key), state in states.items():
        if progress_id in by_progress:
            by_progress[progress_id][key] = state
    values = [path_row(row, by_progress[row.pk]) for row in rows]
    width = max(len(row) for row in values)
    for row in values:
        row.extend([None] * (width - len(row)))
    connection = connections[using or router.db_for_write(FunnelPath)]
    meta: Any = FunnelPath._meta
    names = [*HEAD, *(time_field(p) for p in range(width - len(HEAD)))]
    fields = [meta.get_field(name.removesuffix("_id")) for name in names]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    table = quote(meta.db_table)
    updates = ", ".join(f"{quote(f.column)} = EXCLUDED.{quote(f.column)}" for f in fields[1:])
    upsert = f" ON CONFLICT ({quote('progress_id')}) DO UPDATE SET {updates}"
    if connection.vendor == "postgresql":
        # One array per column: one statement for the whole batch, sent as the write
        # path's others are (binary arrays, inside track_many's pipeline).
        arrays = typed_arrays(fields, connection)
        sql = f"INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({arrays}){upsert}"
        send(connection, [Statement(sql, [list(column) for column in zip(*values, strict=True)])])
        return
    with connection.cursor() as cursor:
        marks = ", ".join(["%s"] * len(fields))
        insert = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
        if connection.features.supports_update_conflicts_with_target:
            cursor.executemany(insert + upsert, values)
            return
        keys = [row[0] for row in values]
        FunnelPath.objects.using(connection.alias).filter(progress_id__in=keys).delete()
        cursor.executemany(insert, values)


def rebuild_paths(flows: Iterable[str] | None = None, using: str | None = None) -> int:
    """Derive the path rows of ``flows`` (keys; default every flow) from progress and step
    states again, in one transaction; the number of rows written."""
    using = using or router.db_for_write(FunnelPath)
    versions = FlowVersion.objects.using(using)
    if flows is not None:
        records = FlowRecord.objects.using(using).filter(key__in=list(flows))
        versions = versions.filter(flow__in=records)
    wanted = [
        (pk, [step["key"] for step in steps]) for pk, steps in versions.values_list("pk", "steps")
    ]
    return rebuild_versions(wanted, using)


def rebuild_versions(versions: Sequence[tuple[int, list[str]]], using: str) -> int:
    """Rebuild the path rows of the subjects of ``versions`` (``(id, step keys)``) with one
    ``INSERT ... SELECT`` each. Tables are named, not modelled: migrations call it too."""
    from onboarding.funnel.dialects import DIALECTS

    connection = connections[using]
    if connection.vendor not in DIALECTS:
        return _rebuild_with_models([version_id for version_id, _keys in versions], using)
    dialect = DIALECTS[connection.vendor]
    quote = connection.ops.quote_name
    progress, state = (quote(m._meta.db_table) for m in (Progress, StepState))
    table = quote(FunnelPath._meta.db_table)
    written = 0
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for version_id, all_keys in versions:
            keys = all_keys[:MAX_STEPS]
            cursor.execute(f"DELETE FROM {table} WHERE version_id = %s", [version_id])
            completed = dialect.time("s.completed_at")
            times = [f"MAX(CASE WHEN s.step_key = %s THEN {completed} END)" for _ in keys]
            bits = " ".join(f"WHEN %s THEN {1 << p}" for p in range(len(keys)))
            mask = (
                f"COALESCE(SUM(CASE WHEN s.outcome = %s THEN CASE s.step_key {bits} ELSE 0 END "
                "END), 0)"
                if keys
                else "0"
            )
            columns = [*HEAD, *(time_field(p) for p in range(len(keys)))]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
                f"SELECT p.id, p.flow_id, p.version_id, p.variant, "
                f"{dialect.time('p.entered_at')}, {mask}{''.join(', ' + t for t in times)} "
                f"FROM {progress} AS p LEFT JOIN {state} AS s ON s.progress_id = p.id "
                "WHERE p.version_id = %s AND p.entered_at IS NOT NULL "
                "GROUP BY p.id, p.flow_id, p.version_id, p.variant, p.entered_at",
                [*([Outcome.DEFAULTED.value, *keys] if keys else []), *keys, version_id],
            )
            written += max(cursor.rowcount, 0)
    return written


def _rebuild_with_models(version_ids: list[int], using: str, chunk: int = 1000) -> int:
    """:func:`rebuild_versions` where the funnel has no SQL dialect (rows still stay exact
    for when the data moves to PostgreSQL or SQLite): through :func:`save_paths`."""
    written = 0
    with transaction.atomic(using=using):
        FunnelPath.objects.using(using).filter(version_id__in=version_ids).delete()
        rows = Progress.objects.using(using).filter(
            version_id__in=version_ids, entered_at__isnull=False
        )
        ids = list(rows.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), chunk):
            batch = list(rows.filter(pk__in=ids[start : start + chunk]).select_related("version"))
            states = {
                (state.progress_id, state.step_key): state
                for state in StepState.objects.using(using).filter(progress__in=batch)
            }
            save_paths(batch, states, using)
            written += len(batch)
    return written
