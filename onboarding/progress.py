"""Reading a subject's progress as a typed object, in a constant number of queries."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from django.db import connections, router

from onboarding.declarations import Flow
from onboarding.models import FlowRecord, FlowVersion, Outcome, Progress, StepState
from onboarding.registry import get_flow
from onboarding.subjects import ref, resolve
from onboarding.variants import assign_variant

StepStatus = Literal["done", "skipped", "dismissed", "todo"]


@dataclass(frozen=True)
class StepProgress:
    """One step as the subject sees it."""

    key: str
    title: str
    description: str
    url: str
    optional: bool
    estimated_seconds: int
    has_default: bool
    default_label: str
    status: StepStatus
    outcome: str | None
    completed_at: datetime | None
    is_next: bool = False

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True)
class FlowProgress:
    """A subject's progress through a flow: what the progress bar and checklist show.

    ``done`` and ``total`` count required steps; optional steps are listed but not
    counted. ``seconds_left`` adds the estimates of required steps not yet done.
    """

    flow: Flow
    steps: list[StepProgress]
    done: int
    total: int
    seconds_left: int
    next_step: StepProgress | None
    variant: str
    version: int | None
    entered_at: datetime | None
    finished_at: datetime | None

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def entered(self) -> bool:
        return self.entered_at is not None


def _status(state: StepState | None) -> tuple[StepStatus, str | None]:
    if state is None or not state.outcome:
        return "todo", None
    if state.completed_at is not None:
        return "done", state.outcome
    if state.outcome == Outcome.DISMISSED:
        return "dismissed", state.outcome
    return "skipped", state.outcome


def build_progress(
    declaration: Flow,
    row: Progress | None,
    *,
    default_variant: str = "",
    step_states: Iterable[StepState] | None = None,
) -> FlowProgress:
    """Combine the declaration (titles, URLs) with a progress row (may be ``None``).

    ``step_states``: the row's states when the caller read them already (else
    ``row.step_states``).
    """
    # A version's steps as stored (FlowVersion.steps): key, title, optional, estimate.
    version_steps: list[dict[str, Any]]
    if row is None:
        version_steps = [
            {
                "key": step.key,
                "title": str(step.title),
                "optional": step.optional,
                "estimated_seconds": step.estimated_seconds,
                "has_default": step.has_default,
            }
            for step in declaration.steps
        ]
        states: dict[str, StepState] = {}
    else:
        version_steps = row.version.steps
        given = row.step_states.all() if step_states is None else step_states
        states = {state.step_key: state for state in given}

    declared = {step.key: step for step in declaration.steps}
    steps: list[StepProgress] = []
    for stored in version_steps:
        step = declared.get(stored["key"])
        status, outcome = _status(states.get(stored["key"]))
        state = states.get(stored["key"])
        steps.append(
            StepProgress(
                key=stored["key"],
                # Titles come from code so they are translated; a step removed from the
                # code since this subject's version falls back to the stored title.
                title=str(step.title) if step else stored["title"],
                description=str(step.description) if step else "",
                url=step.resolve_url() if step else "",
                optional=stored["optional"],
                estimated_seconds=step.estimated_seconds if step else stored["estimated_seconds"],
                has_default=bool(step and step.has_default),
                default_label=str(step.default_label) if step else "",
                status=status,
                outcome=outcome,
                completed_at=state.completed_at if state else None,
            )
        )
    required = [step for step in steps if not step.optional]
    # The next step: the first required one still to do, then a skipped required one,
    # then an optional one still to do.
    next_step = (
        next((step for step in required if step.status == "todo"), None)
        or next((step for step in required if not step.done), None)
        or next((step for step in steps if step.status == "todo"), None)
    )
    if next_step is not None:
        index = steps.index(next_step)
        steps[index] = next_step = _with_next(next_step)
    return FlowProgress(
        flow=declaration,
        steps=steps,
        done=sum(step.done for step in required),
        total=len(required),
        seconds_left=sum(step.estimated_seconds for step in required if not step.done),
        next_step=next_step,
        variant=row.variant if row else default_variant,
        version=row.version.number if row else None,
        entered_at=row.entered_at if row else None,
        finished_at=row.finished_at if row else None,
    )


def _with_next(step: StepProgress) -> StepProgress:
    return replace(step, is_next=True)


def get_progress_many(who: Any, flows: Sequence[Flow]) -> list[FlowProgress]:
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
    """The SQL of :func:`get_progress` for the database ``alias`` and the converters
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


def get_progress(who: Any, flow: str) -> FlowProgress:
    """The progress of ``who`` (a user or a subject) through ``flow`` in one query,
    whatever its state: the progress row and version, LEFT JOINed to its step states
    (one row per state)."""
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
