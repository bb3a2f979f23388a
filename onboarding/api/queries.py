"""Reading a subject's progress in a constant number of queries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, router

from onboarding.declarations import Flow
from onboarding.models import FlowRecord, FlowVersion, Progress, StepState
from onboarding.progress import FlowProgress, build_progress
from onboarding.registry import get_flow
from onboarding.subjects import ref, resolve
from onboarding.variants import assign_variant


def progress_of_flows(who: Any, flows: Sequence[Flow]) -> list[FlowProgress]:
    """The progress of ``who`` through each of ``flows``, in order; two queries at most."""
    subject, _actor = resolve(who)
    subject_ref = ref(subject)
    rows = {
        row.flow.key: row
        for row in Progress.objects.select_related("flow", "version")
        .prefetch_related("step_states")
        .filter(
            flow__key__in=[flow.key for flow in flows],
            subject_type_id=subject_ref.type_id,
            subject_id=subject_ref.id,
        )
    }
    subject_key = f"{subject_ref.type_id}:{subject_ref.id}"
    return [
        build_progress(
            flow,
            rows.get(flow.key),
            default_variant=assign_variant(flow.key, flow.variants, subject_key),
        )
        for flow in flows
    ]


# The one query of a progress route: (model, field) per column, in the order selected.
_COLUMNS = (
    (Progress, "id"),
    (Progress, "variant"),
    (Progress, "entered_at"),
    (Progress, "finished_at"),
    (FlowVersion, "id"),
    (FlowVersion, "number"),
    (FlowVersion, "steps"),
    (StepState, "id"),
    (StepState, "step_key"),
    (StepState, "outcome"),
    (StepState, "completed_at"),
    (StepState, "first_seen_at"),
    (StepState, "skipped_at"),
)
_ALIASES = {Progress: "p", FlowVersion: "v", StepState: "s"}


@dataclass(frozen=True)
class _Statement:
    sql: str
    converters: list[list[Callable[..., Any]]]
    columns: list[Any]


_STATEMENTS: dict[str, _Statement] = {}


def _statement(alias: str) -> _Statement:
    """The SQL of :func:`progress_of_flow` for the database ``alias`` and the converters
    of its columns (Django's own, as the ORM applies them), made once per database: the
    ORM would build the same query again on every request, for more than it takes."""
    if alias in _STATEMENTS:
        return _STATEMENTS[alias]
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields: list[Any] = [model._meta.get_field(name) for model, name in _COLUMNS]
    columns = [
        field.get_col(_ALIASES[model])
        for (model, _name), field in zip(_COLUMNS, fields, strict=True)
    ]
    selected = ", ".join(
        f"{_ALIASES[model]}.{quote(field.column)}"
        for (model, _name), field in zip(_COLUMNS, fields, strict=True)
    )
    progress, flow, version, state = (
        quote(model._meta.db_table) for model in (Progress, FlowRecord, FlowVersion, StepState)
    )
    sql = (
        f"SELECT {selected} FROM {progress} p "
        f"INNER JOIN {flow} f ON f.id = p.flow_id "
        f"INNER JOIN {version} v ON v.id = p.version_id "
        f"LEFT OUTER JOIN {state} s ON s.progress_id = p.id "
        "WHERE f.key = %s AND p.subject_type_id = %s AND p.subject_id = %s"
    )
    converters = [
        [*connection.ops.get_db_converters(column), *field.get_db_converters(connection)]
        for column, field in zip(columns, fields, strict=True)
    ]
    _STATEMENTS[alias] = _Statement(sql, converters, columns)
    return _STATEMENTS[alias]


def progress_of_flow(who: Any, flow: str) -> FlowProgress:
    """The progress of ``who`` through ``flow`` in one query, whatever its state: the
    progress row and version, LEFT JOINed to its step states (one row per state)."""
    declaration = get_flow(flow)
    subject, _actor = resolve(who)
    subject_ref = ref(subject)
    alias = router.db_for_read(Progress)
    statement = _statement(alias)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [flow, subject_ref.type_id, subject_ref.id])
        joined = cursor.fetchall()
    rows = [
        [
            _convert(value, converters, column, connection)
            for value, converters, column in zip(
                found, statement.converters, statement.columns, strict=True
            )
        ]
        for found in joined
    ]
    row = None
    states: list[StepState] = []
    if rows:
        first = rows[0]
        row = Progress(id=first[0], variant=first[1], entered_at=first[2], finished_at=first[3])
        row.version = FlowVersion(id=first[4], number=first[5], steps=first[6])
        states = [
            StepState(
                id=one[7],
                progress=row,
                step_key=one[8],
                outcome=one[9],
                completed_at=one[10],
                first_seen_at=one[11],
                skipped_at=one[12],
            )
            for one in rows
            if one[7] is not None
        ]
    subject_key = f"{subject_ref.type_id}:{subject_ref.id}"
    return build_progress(
        declaration,
        row,
        default_variant=assign_variant(declaration.key, declaration.variants, subject_key),
        step_states=states,
    )


def _convert(value: Any, converters: list[Callable[..., Any]], column: Any, connection: Any) -> Any:
    for convert in converters:
        value = convert(value, column, connection)
    return value
