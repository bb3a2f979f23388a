"""An independent, plain-Python implementation of the funnel rules of DESIGN.md.

It folds raw events itself (deduplicated by id, earliest entry, first completion,
``completed`` beating ``defaulted`` at equal times) and counts the funnel subject by
subject, so it shares nothing with ``onboarding.funnel`` (which reads the progress
tables ``track`` maintains, in SQL). The tests compare the two on generated logs.

Conventions both implement (documented in ``onboarding.funnel``):

* completions count when ``time - entry <= window``;
* ordered flows: a step is measured from the nearest required step before it
  (entry for none); any-order flows: from entry;
* finished = every required step reached, timed from entry to the last of them;
* median and p90 are nearest-rank (the value at rank ``ceil(p * n)``);
* the entry date range and entry weeks (Monday to Sunday) use local dates;
* a breakdown by entry week counts the range asked within the flow's first and last
  entry days (an open end: the last entry up to tomorrow; an open start: the first
  entry of the last ``max_weeks`` weeks), every week of it listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

BUILT_IN_KINDS = {"viewed", "started", "completed", "defaulted", "skipped", "dismissed", "nudged"}


@dataclass(frozen=True)
class RawEvent:
    id: str
    flow: str
    subject: str
    step: str
    kind: str
    occurred_at: datetime


@dataclass(frozen=True)
class RefStep:
    key: str
    optional: bool = False
    completed_by: str = ""


@dataclass(frozen=True)
class RefFlow:
    key: str
    ordered: bool
    steps: tuple[RefStep, ...]
    variants: tuple[str, ...] = ()


@dataclass
class Subject:
    """One subject's fold of its events: entry and first completion per step."""

    key: str
    entry: datetime
    done: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    variant: str = ""
    version: int = 1


@dataclass
class RefStepResult:
    key: str
    previous: str | None
    reached: int
    previous_reached: int
    defaulted: int
    median: timedelta | None
    p90: timedelta | None


@dataclass
class RefResult:
    entered: int
    finished: int
    finish_median: timedelta | None
    finish_p90: timedelta | None
    steps: list[RefStepResult]
    groups: dict[str, RefResult] = field(default_factory=dict)


def fold(events: list[RawEvent], flow: RefFlow) -> dict[str, Subject]:
    """Subjects of ``flow`` from raw events, whatever their order and repeats."""
    unique = {}
    for event in events:
        unique.setdefault(event.id, event)
    subjects: dict[str, Subject] = {}
    for event in unique.values():
        # The app's own events (nudges) neither enter a subject nor complete a step.
        if event.flow != flow.key or event.kind == "nudged":
            continue
        subject = subjects.get(event.subject)
        if subject is None:
            subject = subjects[event.subject] = Subject(event.subject, event.occurred_at)
        subject.entry = min(subject.entry, event.occurred_at)
        for step_key, outcome in _completes(event, flow):
            candidate = (event.occurred_at, outcome)
            current = subject.done.get(step_key)
            # Earliest time wins; at equal times "completed" beats "defaulted".
            if current is None or _before(candidate, current):
                subject.done[step_key] = candidate
    return subjects


def _before(one: tuple[datetime, str], other: tuple[datetime, str]) -> bool:
    if one[0] != other[0]:
        return one[0] < other[0]
    return one[1] == "completed" and other[1] != "completed"


def _completes(event: RawEvent, flow: RefFlow) -> list[tuple[str, str]]:
    if event.kind in ("completed", "defaulted"):
        return [(event.step, event.kind)]
    if event.kind in BUILT_IN_KINDS:
        return []
    return [(step.key, "completed") for step in flow.steps if step.completed_by == event.kind]


def nearest_rank(values: list[timedelta], numerator: int, denominator: int) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-numerator * len(ordered) // denominator)  # integer ceil
    return ordered[rank - 1]


def walk(subject: Subject, flow: RefFlow, window: timedelta) -> list[tuple[bool, datetime]]:
    """Per step: (reached, the time it is measured from)."""
    times = {key: at for key, (at, _) in subject.done.items() if at - subject.entry <= window}
    out = []
    chain_alive, chain_time = True, subject.entry
    for step in flow.steps:
        at = times.get(step.key)
        if not flow.ordered:
            out.append((at is not None, subject.entry))
            continue
        ok = chain_alive and at is not None and at >= chain_time
        out.append((ok, chain_time))
        if not step.optional:
            if ok:
                chain_time = at
            else:
                chain_alive = False
    return out


def count(
    subjects: list[Subject],
    flow: RefFlow,
    window: timedelta,
    versions: dict[int, RefFlow] | None = None,
) -> RefResult:
    """The funnel of one population, listing ``flow``'s steps. With ``versions`` (each
    version's steps, by number) a subject is measured against its version's steps, lined
    up by key: a step its version lacks is not reached."""
    reached = [0] * len(flow.steps)
    defaulted = [0] * len(flow.steps)
    spans: list[list[timedelta]] = [[] for _ in flow.steps]
    finished, finish_spans = 0, []
    for subject in subjects:
        own = (versions or {}).get(subject.version, flow)
        walked_own = dict(zip((s.key for s in own.steps), walk(subject, own, window), strict=True))
        for index, step in enumerate(flow.steps):
            ok, since = walked_own.get(step.key, (False, subject.entry))
            if ok:
                at, outcome = subject.done[step.key]
                reached[index] += 1
                defaulted[index] += outcome == "defaulted"
                spans[index].append(at - since)
        required = [step.key for step in own.steps if not step.optional]
        if all(walked_own[key][0] for key in required):
            finished += 1
            last = max((subject.done[key][0] for key in required), default=None)
            finish_spans.append(last - subject.entry if last else timedelta(0))
    steps = []
    for index, step in enumerate(flow.steps):
        previous = _previous(flow, index)
        steps.append(
            RefStepResult(
                key=step.key,
                previous=None if previous is None else flow.steps[previous].key,
                reached=reached[index],
                previous_reached=len(subjects) if previous is None else reached[previous],
                defaulted=defaulted[index],
                median=nearest_rank(spans[index], 1, 2),
                p90=nearest_rank(spans[index], 9, 10),
            )
        )
    return RefResult(
        entered=len(subjects),
        finished=finished,
        finish_median=nearest_rank(finish_spans, 1, 2),
        finish_p90=nearest_rank(finish_spans, 9, 10),
        steps=steps,
    )


def _previous(flow: RefFlow, index: int) -> int | None:
    if not flow.ordered:
        return None
    for before in range(index - 1, -1, -1):
        if not flow.steps[before].optional:
            return before
    return None


def local_day(value: datetime, zone: tzinfo) -> date:
    return value.astimezone(zone).date()


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def select(
    subjects: dict[str, Subject],
    zone: tzinfo,
    entered_from: date | None = None,
    entered_to: date | None = None,
    variants: tuple[str, ...] = (),
    versions: tuple[int, ...] = (),
) -> list[Subject]:
    """The population: entry on a local date in the range, variant and version filters."""
    return [
        subject
        for subject in subjects.values()
        if (entered_from is None or local_day(subject.entry, zone) >= entered_from)
        and (entered_to is None or local_day(subject.entry, zone) <= entered_to)
        and (not variants or subject.variant in variants)
        and (not versions or subject.version in versions)
    ]


def funnel(
    subjects: dict[str, Subject],
    flow: RefFlow,
    *,
    window_days: int,
    zone: tzinfo,
    entered_from: date | None = None,
    entered_to: date | None = None,
    variants: tuple[str, ...] = (),
    versions: tuple[int, ...] = (),
    breakdown: str | None = None,
    version_flows: dict[int, RefFlow] | None = None,
    max_weeks: int = 520,
) -> RefResult:
    """The funnel of a query, with the groups of its breakdown. ``version_flows``: each
    version's steps (by number) when they differ from ``flow``'s (the declared ones)."""
    window = timedelta(days=window_days)
    weeks: list[str] = []
    if breakdown == "entry_week":
        days = sorted(local_day(subject.entry, zone) for subject in subjects.values())
        tomorrow = datetime.now(zone).date() + timedelta(days=1)
        if entered_to is None:
            last = max((day for day in days if day <= tomorrow), default=None)
        else:
            last = min(entered_to, days[-1]) if days else None
        if last is not None:
            if entered_from is None:
                lookback = monday(last) - timedelta(weeks=max_weeks - 1)
                first = min((day for day in days if day >= lookback), default=last)
            else:
                first = max(entered_from, days[0])
            week = monday(first)
            while first <= last and week <= last:
                weeks.append(week.isoformat())
                week += timedelta(days=7)
            # Only subjects of the listed weeks' days are counted.
            entered_from, entered_to = first, last
        if not weeks:
            return count([], flow, window)
    population = select(subjects, zone, entered_from, entered_to, variants, versions)
    result = count(population, flow, window, version_flows)
    if breakdown is None:
        return result

    def key_of(subject: Subject) -> str:
        if breakdown == "variant":
            return subject.variant
        if breakdown == "version":
            return str(subject.version)
        return monday(local_day(subject.entry, zone)).isoformat()

    keys = {key_of(subject) for subject in population}
    if breakdown == "variant":
        keys |= set(variants or flow.variants)
    elif breakdown == "version":
        keys |= {str(number) for number in versions}
    else:
        keys |= set(weeks)
    for key in keys:
        members = [subject for subject in population if key_of(subject) == key]
        shown = flow
        if breakdown == "version" and version_flows:
            shown = version_flows.get(int(key), flow)
        result.groups[key] = count(members, shown, window, version_flows)
    return result


def stuck(
    subjects: list[Subject],
    flow: RefFlow,
    step: str,
    *,
    window_days: int,
    now: datetime,
) -> dict[str, tuple[datetime, bool]]:
    """Subjects who reached the step before ``step`` but not ``step``: since when, and
    whether they are still inside the window."""
    window = timedelta(days=window_days)
    index = [s.key for s in flow.steps].index(step)
    previous = _previous(flow, index)
    out = {}
    for subject in subjects:
        walked = walk(subject, flow, window)
        if walked[index][0]:
            continue
        if previous is None:
            since = subject.entry
        elif walked[previous][0]:
            since = subject.done[flow.steps[previous].key][0]
        else:
            continue
        out[subject.key] = (since, now - subject.entry <= window)
    return out
