"""How one event changes one step's state. Pure, so the order of arrival does not matter.

Each field is an aggregate that does not depend on arrival order: ``first_seen_at`` is
the earliest view, ``completed_at`` the earliest completion, ``skipped_at`` the latest
skip or dismissal. ``outcome`` is the first completion's outcome, or, until the step
is done, the latest skip's. Ties on time are broken by the outcome name, so that
equal times give the same state too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from onboarding.models import EventKind, Outcome

# Keyed by plain strings: events carry their kind as text (custom kinds too).
COMPLETING: dict[str, str] = {
    EventKind.COMPLETED: Outcome.COMPLETED,
    EventKind.DEFAULTED: Outcome.DEFAULTED,
}
NOT_DONE: dict[str, str] = {
    EventKind.SKIPPED: Outcome.SKIPPED,
    EventKind.DISMISSED: Outcome.DISMISSED,
}
SEEN: frozenset[str] = frozenset({EventKind.VIEWED, EventKind.STARTED})


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

    Custom kinds that reach here complete the step; ``nudged`` changes nothing.
    """
    if kind == EventKind.NUDGED:
        return None
    if kind in SEEN:
        if state.first_seen_at is None or at < state.first_seen_at:
            state.first_seen_at = at
            return StepChange(step_key, state.outcome, at, newly_completed=False)
        return None
    if kind in NOT_DONE:
        return _not_done(state, NOT_DONE[kind], at, step_key)
    return _completion(state, COMPLETING.get(kind, Outcome.COMPLETED), at, step_key)


def _completion(
    state: StepStateLike, outcome: str, at: datetime, step_key: str
) -> StepChange | None:
    # On equal times "completed" wins over "defaulted" (the smaller name).
    if state.completed_at is not None and (at, outcome) >= (state.completed_at, state.outcome):
        return None
    newly = state.completed_at is None
    state.completed_at = at
    state.outcome = outcome
    return StepChange(step_key, outcome, at, newly_completed=newly)


def _not_done(state: StepStateLike, outcome: str, at: datetime, step_key: str) -> StepChange | None:
    done = state.completed_at is not None
    if state.skipped_at is None or at > state.skipped_at:
        state.skipped_at = at
        if not done:
            state.outcome = outcome
    elif at == state.skipped_at and not done and outcome > state.outcome:
        # On equal times "skipped" wins over "dismissed" (the larger name).
        state.outcome = outcome
    else:
        return None
    return StepChange(step_key, state.outcome, at, newly_completed=False)
