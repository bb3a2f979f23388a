"""How one event changes one step's state. Pure, so the order of arrival does not matter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from onboarding.models import EventKind, Outcome

COMPLETING = {EventKind.COMPLETED: Outcome.COMPLETED, EventKind.DEFAULTED: Outcome.DEFAULTED}
NOT_DONE = {EventKind.SKIPPED: Outcome.SKIPPED, EventKind.DISMISSED: Outcome.DISMISSED}
SEEN = {EventKind.VIEWED, EventKind.STARTED}


class StepStateLike(Protocol):
    outcome: str
    completed_at: datetime | None
    first_seen_at: datetime | None
    skipped_at: datetime | None


@dataclass(frozen=True)
class StepChange:
    step_key: str
    outcome: str
    at: datetime
    newly_completed: bool


def apply_event(state: StepStateLike, kind: str, at: datetime, step_key: str) -> StepChange | None:
    """Fold an event into ``state``; return what changed, or ``None``.

    A step's time is its first completion by ``occurred_at``; later or repeated
    completions change nothing. Until it is done, the latest skip or dismiss is
    its outcome. Custom kinds that reach here complete the step.
    """
    if kind in SEEN:
        if state.first_seen_at is None or at < state.first_seen_at:
            state.first_seen_at = at
            return StepChange(step_key, state.outcome, at, newly_completed=False)
        return None
    if kind in NOT_DONE:
        if state.completed_at is None and (state.skipped_at is None or at >= state.skipped_at):
            state.skipped_at = at
            state.outcome = NOT_DONE[kind]
            return StepChange(step_key, state.outcome, at, newly_completed=False)
        return None
    if kind == EventKind.NUDGED:
        return None
    outcome = COMPLETING.get(kind, Outcome.COMPLETED)
    if state.completed_at is None or at < state.completed_at:
        newly = state.completed_at is None
        state.completed_at = at
        state.outcome = outcome
        return StepChange(step_key, outcome, at, newly_completed=newly)
    return None
