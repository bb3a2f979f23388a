"""``FunnelQuery``: the validated inputs of a funnel report, with their defaults."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from onboarding.declarations import Flow
from onboarding.registry import get_flow

if TYPE_CHECKING:
    from onboarding.funnel.result import FunnelResult

Breakdown = Literal["variant", "version", "entry_week"]
BREAKDOWNS: tuple[str, ...] = ("variant", "version", "entry_week")


def _date(name: str, value: object) -> date | None:
    if value is None:
        return None
    # datetime is a date subclass; a range of entry is whole local days, so refuse it.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"{name} must be a date or None, not {value!r}.")
    return value


def _strings(name: str, values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise ValueError(f"{name} must be a sequence of names, not the string {values!r}.")
    values = tuple(values)
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"{name} must hold strings, not {value!r}.")
    return values


def _numbers(name: str, values: Iterable[int]) -> tuple[int, ...]:
    values = tuple(values)
    for value in values:
        # bool is an int subclass; callers may pass anything despite the annotation.
        if type(value) is not int or value < 1:
            raise ValueError(f"{name} must hold version numbers (1, 2, ...), not {value!r}.")
    return values


@dataclass(frozen=True, kw_only=True)
class FunnelQuery:
    """What to count: a flow, a range of entry dates and a conversion window.

    ``entered_from`` and ``entered_to`` are inclusive local dates (the current time
    zone); ``None`` leaves that end open. ``window_days`` defaults to the flow's
    window (``ONBOARDING["WINDOW_DAYS"]``, 14, when the flow declares none).
    ``variants`` and ``versions`` (numbers) filter the population; ``breakdown``
    adds per-group results. ``using`` picks the database alias (a read replica).
    ``use_rollup=False`` always counts exactly (see ``onboarding.rollups``: the rollup
    answers when its window is the query's and the breakdown is not by entry week).
    """

    flow: str
    entered_from: date | None = None
    entered_to: date | None = None
    window_days: int | None = None
    variants: tuple[str, ...] = ()
    versions: tuple[int, ...] = ()
    breakdown: Breakdown | None = None
    using: str | None = None
    use_rollup: bool = True

    def __post_init__(self) -> None:
        get_flow(self.flow)  # UnknownFlow names the key
        entered_from = _date("entered_from", self.entered_from)
        entered_to = _date("entered_to", self.entered_to)
        if entered_from and entered_to and entered_from > entered_to:
            raise ValueError(f"entered_from ({entered_from}) is after entered_to ({entered_to}).")
        window = self.window_days
        if window is not None and (isinstance(window, bool) or not isinstance(window, int)):
            raise ValueError(f"window_days must be a whole number of days, not {window!r}.")
        if window is not None and window < 1:
            raise ValueError(f"window_days must be at least 1, not {window}.")
        if self.breakdown is not None and self.breakdown not in BREAKDOWNS:
            raise ValueError(
                f"Unknown breakdown {self.breakdown!r}; use one of {', '.join(BREAKDOWNS)}."
            )
        # Lists are accepted for convenience and stored as tuples, keeping the query hashable.
        object.__setattr__(self, "variants", _strings("variants", self.variants))
        object.__setattr__(self, "versions", _numbers("versions", self.versions))

    @property
    def declaration(self) -> Flow:
        return get_flow(self.flow)

    @property
    def effective_window_days(self) -> int:
        return self.window_days or self.declaration.effective_window_days()

    def run(self) -> FunnelResult:
        """Count the funnel in the database and return a typed result."""
        from onboarding.funnel.runner import run_funnel

        return run_funnel(self)
