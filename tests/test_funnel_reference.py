"""The funnel query equals an independent implementation on generated event logs.

Each seed generates a log (out-of-order arrival, repeats, re-sent ids, completions
on and just past the window's edge, optional steps, steps done out of order, ties,
custom completion kinds, other flows' events), records it through ``track_many``,
then compares :class:`FunnelQuery` and ``stuck_subjects`` with ``tests.reference_funnel``
folding the same raw events.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from onboarding import EventInput, Flow, Step, track_many
from onboarding.funnel import FunnelQuery, FunnelResult
from onboarding.funnel.stuck import stuck_subjects
from onboarding.models import Event
from onboarding.registry import get_flow
from tests import reference_funnel as ref
from tests.factories import UserFactory

CASES = 240
BASE = datetime(2024, 3, 1, 8, 0, tzinfo=ZoneInfo("UTC"))
ZONES = ("UTC", "America/New_York", "Asia/Kolkata")
NOISE_KINDS = ("viewed", "started", "skipped", "dismissed", "nudged", "clicked_help")

TOUR = Flow(
    key="tour",
    title="Tour",
    ordered=True,
    window_days=3,
    variants={"red": 1, "blue": 1, "green": 2},
    steps=[
        Step("intro", "Intro", optional=True),
        Step("first", "First"),
        Step("aside", "Aside", optional=True),
        Step("second", "Second", completed_by="second_done"),
        Step("outro", "Outro", optional=True),
    ],
)
TASKS = Flow(
    key="tasks",
    title="Tasks",
    ordered=False,
    window_days=5,
    variants={"x": 1, "y": 2},
    steps=[
        Step("p", "P"),
        Step("q", "Q", optional=True, completed_by="q_done"),
        Step("r", "R"),
    ],
)


@dataclass(frozen=True)
class Generated:
    inputs: list[list[EventInput]]  # batches, in arrival order
    raw: list[ref.RawEvent]


def ref_flow(flow: Flow) -> ref.RefFlow:
    return ref.RefFlow(
        key=flow.key,
        ordered=flow.ordered,
        steps=tuple(ref.RefStep(s.key, s.optional, s.completed_by) for s in flow.steps),
        variants=tuple(flow.variants),
    )


def _offset(rng: random.Random, window: timedelta) -> timedelta:
    """When a completion happens after the subject's first event: often on the edge."""
    return rng.choice(
        [
            window,  # the window's last microsecond: counts
            window + timedelta(microseconds=1),  # just past: does not count
            window - timedelta(seconds=1),
            window + timedelta(seconds=1),
            timedelta(0),
            timedelta(seconds=rng.randrange(0, int(window.total_seconds() * 1.3))),
            timedelta(seconds=rng.randrange(0, 3600), microseconds=rng.randrange(10**6)),
            timedelta(seconds=rng.randrange(0, 3600), microseconds=rng.randrange(10**6)),
        ]
    )


def generate(rng: random.Random, flow: Flow, users: list, window: timedelta) -> Generated:
    other = "checklist" if flow.key != "checklist" else "wizard"
    events: list[tuple[object, ref.RawEvent]] = []

    def add(user, flow_key: str, step: str, kind: str, at: datetime) -> None:
        raw = ref.RawEvent(str(uuid.uuid4()), flow_key, str(user.pk), step, kind, at)
        events.append((user, raw))

    for user in users:
        start = BASE + timedelta(
            seconds=rng.randrange(0, 40 * 86400), microseconds=rng.choice([0, rng.randrange(10**6)])
        )
        add(user, flow.key, rng.choice(flow.steps).key, rng.choice(NOISE_KINDS), start)
        if rng.random() < 0.1:  # an event before the first one moves the entry earlier
            add(user, flow.key, "", "viewed", start - timedelta(hours=rng.randrange(1, 30)))
        for step in flow.steps:
            if rng.random() < 0.2:
                continue
            kinds = ["completed", "completed", "defaulted"]
            if step.completed_by:
                kinds.append(step.completed_by)
            at = start + _offset(rng, window)
            kind = rng.choice(kinds)
            add(user, flow.key, "" if kind == step.completed_by else step.key, kind, at)
            if rng.random() < 0.3:  # a repeat, earlier or later
                again = start + _offset(rng, window)
                add(user, flow.key, step.key, rng.choice(["completed", "defaulted"]), again)
            if rng.random() < 0.15:  # a tie at the same instant with the other outcome
                tie = "defaulted" if kind != "defaulted" else "completed"
                add(user, flow.key, step.key, tie, at)
        for _ in range(rng.randrange(0, 3)):
            kind = rng.choice(NOISE_KINDS)
            add(user, flow.key, rng.choice(flow.steps).key, kind, start + _offset(rng, window))
        if rng.random() < 0.3:
            add(user, other, "", "viewed", start - timedelta(days=1))

    arrivals = list(events)
    arrivals += rng.sample(events, k=len(events) // 8)  # re-sent ids
    rng.shuffle(arrivals)
    inputs = [
        EventInput(
            who=user,
            flow=raw.flow,
            step=raw.step,
            kind=raw.kind,
            occurred_at=raw.occurred_at,
            id=raw.id,
        )
        for user, raw in arrivals
    ]
    cut = sorted(rng.sample(range(1, len(inputs)), k=min(2, len(inputs) - 1)))
    batches = [inputs[a:b] for a, b in zip([0, *cut], [*cut, len(inputs)], strict=True)]
    return Generated(inputs=[batch for batch in batches if batch], raw=[raw for _, raw in arrivals])


def assert_same(result: FunnelResult, expected: ref.RefResult, where: str = "all") -> None:
    got = {
        "entered": result.entered,
        "finished": result.finished,
        "finish_median": result.median_time_to_finish,
        "finish_p90": result.p90_time_to_finish,
        "steps": [
            (
                s.key,
                s.previous,
                s.reached,
                s.previous_reached,
                s.defaulted,
                s.median_time,
                s.p90_time,
            )
            for s in result.steps
        ],
    }
    want = {
        "entered": expected.entered,
        "finished": expected.finished,
        "finish_median": expected.finish_median,
        "finish_p90": expected.finish_p90,
        "steps": [
            (s.key, s.previous, s.reached, s.previous_reached, s.defaulted, s.median, s.p90)
            for s in expected.steps
        ],
    }
    assert got == want, f"group {where}"
    assert sorted(result.groups) == sorted(expected.groups), f"group keys of {where}"
    for key, group in result.groups.items():
        assert_same(group, expected.groups[key], where=key)


def scenario(rng: random.Random, flow: Flow) -> dict:
    """Query options for one case; the window sometimes overrides the flow's."""
    options: dict = {"flow": flow.key}
    if rng.random() < 0.35:
        options["window_days"] = rng.randrange(1, 20)
    if rng.random() < 0.5:
        first = BASE.date() + timedelta(days=rng.randrange(-2, 30))
        options["entered_from"] = rng.choice([None, first])
        options["entered_to"] = rng.choice([None, first + timedelta(days=rng.randrange(0, 20))])
    if flow.variants and rng.random() < 0.3:
        options["variants"] = tuple(rng.sample(sorted(flow.variants), k=rng.randrange(1, 3)))
    if rng.random() < 0.15:
        options["versions"] = rng.choice([(1,), (2,), (1, 2)])
    options["breakdown"] = rng.choice([None, "variant", "version", "entry_week"])
    return options


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(CASES))
def test_funnel_equals_reference(seed, declare):
    declare(TOUR, TASKS)
    rng = random.Random(seed)
    flow = get_flow(["wizard", "checklist", "tour", "tasks"][seed % 4])
    options = scenario(rng, flow)
    window_days = options.get("window_days") or flow.effective_window_days()
    users = UserFactory.create_batch(rng.randrange(4, 16))
    log = generate(rng, flow, users, timedelta(days=window_days))
    for batch in log.inputs:
        track_many(batch)

    subjects = ref.fold(log.raw, ref_flow(flow))
    # Variant and version are attributes of the recorded events (assignment is not a
    # funnel rule): read them from the event log.
    for subject_id, variant, version in Event.objects.filter(flow__key=flow.key).values_list(
        "subject_id", "variant", "version__number"
    ):
        if subject_id in subjects:  # not those with only nudges: they never entered
            subjects[subject_id].variant = variant
            subjects[subject_id].version = version

    zone = ZoneInfo(ZONES[seed % len(ZONES)])
    with timezone.override(zone):
        result = FunnelQuery(**options).run()
        expected = ref.funnel(
            subjects,
            ref_flow(flow),
            window_days=window_days,
            zone=zone,
            **{key: value for key, value in options.items() if key not in ("flow", "window_days")},
        )
        assert_same(result, expected)

        step = rng.choice(flow.steps).key
        now = BASE + timedelta(days=rng.randrange(5, 50))
        filters = {
            key: options[key]
            for key in ("entered_from", "entered_to", "variants", "versions", "window_days")
            if key in options
        }
        page = stuck_subjects(flow.key, step, now=now, page_size=None, **filters)
    chosen = {
        key: options[key]
        for key in ("entered_from", "entered_to", "variants", "versions")
        if key in options
    }
    population = ref.select(subjects, zone, **chosen)
    want = ref.stuck(population, ref_flow(flow), step, window_days=window_days, now=now)
    got = {s.subject_id: (s.waiting_since, s.inside_window) for s in page.subjects}
    assert got == want
    assert page.inside + page.past == result.step(step).drop_off
    assert [s.waiting_since for s in page.subjects] == sorted(
        s.waiting_since for s in page.subjects
    )


# Second versions: steps reordered, dropped and added (lined up by key).
TOUR_V2 = Flow(
    key="tour",
    title="Tour",
    ordered=True,
    window_days=3,
    variants={"red": 1, "blue": 1, "green": 2},
    steps=[
        Step("intro", "Intro", optional=True),
        Step("second", "Second", completed_by="second_done"),
        Step("first", "First"),
        Step("third", "Third"),
    ],
)
TASKS_V2 = Flow(
    key="tasks",
    title="Tasks",
    ordered=False,
    window_days=5,
    variants={"x": 1, "y": 2},
    steps=[Step("r", "R"), Step("s", "S"), Step("p", "P", optional=True)],
)


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(CASES // 4))
def test_funnel_equals_reference_across_versions(seed, declare):
    """Subjects of version 1 keep its steps (and send events of steps only it has) while
    version 2 is declared; both are measured against their own steps, lined up by key."""
    rng = random.Random(50_000 + seed)
    first, second = [(TOUR, TOUR_V2), (TASKS, TASKS_V2)][seed % 2]
    declare(first)
    options = scenario(rng, first)
    window_days = options.get("window_days") or first.effective_window_days()
    window = timedelta(days=window_days)
    old_users = UserFactory.create_batch(rng.randrange(3, 10))
    old = generate(rng, first, old_users, window)
    # Each old subject enters on version 1 (at its earliest event, which stays its entry).
    entering = []
    for user in old_users:
        mine = [raw for raw in old.raw if raw.subject == str(user.pk) and raw.flow == first.key]
        at = min(raw.occurred_at for raw in mine) if mine else BASE
        entering.append(ref.RawEvent(str(uuid.uuid4()), first.key, str(user.pk), "", "viewed", at))
    track_many(
        [EventInput(user, e.flow, e.step, kind=e.kind, occurred_at=e.occurred_at, id=e.id)
         for user, e in zip(old_users, entering, strict=True)]
    )  # fmt: skip
    declare(second)
    new = generate(rng, second, UserFactory.create_batch(rng.randrange(3, 10)), window)
    batches = old.inputs + new.inputs
    rng.shuffle(batches)
    for batch in batches:
        track_many(batch)

    raw = entering + old.raw + new.raw
    subjects = ref.fold(raw, ref_flow(second))
    for subject_id, variant, version in Event.objects.filter(flow__key=first.key).values_list(
        "subject_id", "variant", "version__number"
    ):
        if subject_id in subjects:
            subjects[subject_id].variant = variant
            subjects[subject_id].version = version
    # Completions of steps only version 1 has count for its subjects: fold them too.
    for subject in subjects.values():
        if subject.version == 1:
            subject.done = ref.fold(raw, ref_flow(first))[subject.key].done
    zone = ZoneInfo(ZONES[seed % len(ZONES)])
    with timezone.override(zone):
        result = FunnelQuery(**options).run()
        expected = ref.funnel(
            subjects,
            ref_flow(second),
            window_days=window_days,
            zone=zone,
            version_flows={1: ref_flow(first), 2: ref_flow(second)},
            **{key: value for key, value in options.items() if key not in ("flow", "window_days")},
        )
    assert_same(result, expected)
