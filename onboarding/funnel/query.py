"""``FunnelQuery``: the validated inputs of a funnel report, with their defaults."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from django.utils.translation import gettext as _

from onboarding.conf import onboarding_settings
from onboarding.declarations import Flow
from onboarding.exceptions import InvalidQuery
from onboarding.funnel.timeutil import week_start
from onboarding.registry import get_flow

if TYPE_CHECKING:
    from onboarding.funnel.result import FunnelResult

Breakdown = Literal["variant", "version", "entry_week"]
BREAKDOWNS: tuple[str, ...] = ("variant", "version", "entry_week")
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class EntryRange:
    """Local dates of entry, ``first`` to ``last`` inclusive."""

    first: date
    last: date

    @property
    def weeks(self) -> int:
        """How many entry weeks (Monday to Sunday) the range touches."""
        return (week_start(self.last) - week_start(self.first)).days // 7 + 1


def _date(name: str, value: object) -> date | None:
    if value is None:
        return None
    # datetime is a date subclass; a range of entry is whole local days, so refuse it.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidQuery(name, f"{name} must be a date or None, not {value!r}.")
    return value


def _strings(name: str, values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise InvalidQuery(name, f"{name} must be a sequence of names, not the string {values!r}.")
    values = tuple(values)
    for value in values:
        if not isinstance(value, str):
            raise InvalidQuery(name, f"{name} must hold strings, not {value!r}.")
    return values


def _numbers(name: str, values: Iterable[int]) -> tuple[int, ...]:
    values = tuple(values)
    for value in values:
        # bool is an int subclass; callers may pass anything despite the annotation.
        if type(value) is not int or value < 1:
            raise InvalidQuery(
                name, f"{name} must hold version numbers (1, 2, ...), not {value!r}."
            )
    return values


class EntryDays(Protocol):
    """The local dates of a flow's entries, as the query layer reads them (by index)."""

    def first(self, on_or_after: date | None = None) -> date | None: ...

    def last(self, on_or_before: date | None = None) -> date | None: ...


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
    A breakdown by entry week counts the weeks of :meth:`entry_range` only.
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
            raise InvalidQuery(
                "entered_to", f"entered_from ({entered_from}) is after entered_to ({entered_to})."
            )
        window = self.window_days
        if window is not None and (isinstance(window, bool) or not isinstance(window, int)):
            raise InvalidQuery(
                "window_days", f"window_days must be a whole number of days, not {window!r}."
            )
        if window is not None and window < 1:
            raise InvalidQuery("window_days", f"window_days must be at least 1, not {window}.")
        if self.breakdown is not None and self.breakdown not in BREAKDOWNS:
            raise InvalidQuery(
                "breakdown",
                f"Unknown breakdown {self.breakdown!r}; use one of {', '.join(BREAKDOWNS)}.",
            )
        # Lists are accepted for convenience and stored as tuples, keeping the query hashable.
        object.__setattr__(self, "variants", _strings("variants", self.variants))
        object.__setattr__(self, "versions", _numbers("versions", self.versions))

    def entry_range(self, data: EntryDays, *, today: date) -> EntryRange | None:
        """The entry dates a breakdown by entry week counts: the range asked within the
        flow's first and last entry (``data``); ``None`` when they do not meet.

        An open end is the last entry up to tomorrow; an open start the first entry of
        the last ``ONBOARDING["FUNNEL_MAX_GROUPS"]`` weeks of data, so a stray time of
        year 1 (or 9999) stretches no default. More weeks raise :class:`InvalidQuery`.
        """
        limit = onboarding_settings.FUNNEL_MAX_GROUPS
        if self.entered_to is None:
            last = data.last(on_or_before=today + timedelta(days=1))
        else:
            found_last = data.last()
            last = None if found_last is None else min(self.entered_to, found_last)
        if last is None:
            return None
        if self.entered_from is None:
            try:
                lookback = week_start(last) - (limit - 1) * WEEK
            except OverflowError:  # before year 1
                lookback = date.min
            first = data.first(on_or_after=lookback)
        else:
            found_first = data.first()
            first = None if found_first is None else max(self.entered_from, found_first)
        if first is None or first > last:
            return None
        counted = EntryRange(first, last)
        if counted.weeks > limit:
            raise InvalidQuery(
                "breakdown",
                _(
                    "breakdown=entry_week gives %(groups)s groups; at most %(limit)s are "
                    "allowed: narrow entered_from/entered_to."
                )
                % {"groups": f"{counted.weeks:,}", "limit": f"{limit:,}"},
            )
        return counted

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
