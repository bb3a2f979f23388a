"""Reading a subject's progress as a typed object, in a constant number of queries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from onboarding.declarations import Flow
from onboarding.models import Outcome, Progress, StepState
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


def get_progress(who: Any, flow: str) -> FlowProgress:
    """The progress of ``who`` (a user or a subject) through ``flow``; two queries at most."""
    declaration = get_flow(flow)
    subject, _actor = resolve(who)
    subject_ref = ref(subject)
    row = (
        Progress.objects.select_related("version")
        .prefetch_related("step_states")
        .filter(flow__key=flow, subject_type_id=subject_ref.type_id, subject_id=subject_ref.id)
        .first()
    )
    return build_progress(
        declaration,
        row,
        default_variant=assign_variant(
            declaration.key, declaration.variants, f"{subject_ref.type_id}:{subject_ref.id}"
        ),
    )


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
