"""The rollup answers the flow's default window like the exact path, and stays fresh."""

from __future__ import annotations

import io
import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from onboarding import EventInput, track_many
from onboarding.funnel import FunnelQuery, FunnelResult, cohort_table
from onboarding.registry import get_flow
from onboarding.rollups.buckets import RELATIVE_ERROR
from onboarding.rollups.build import refresh_rollup
from onboarding.rollups.models import FunnelRollup
from onboarding.tasks import refresh_rollups
from tests.factories import UserFactory
from tests.test_funnel_reference import BASE, TASKS, TOUR, ZONES, generate, scenario

CASES = 40


def close(rollup: timedelta | None, exact: timedelta | None) -> bool:
    """A bucketed time is within the bucket's relative error (half a second below 1 s)."""
    if rollup is None or exact is None:
        return rollup is exact
    slack = max(exact.total_seconds() * RELATIVE_ERROR * 1.0001, 0.5)
    return abs(rollup.total_seconds() - exact.total_seconds()) <= slack


def assert_matches(rollup: FunnelResult, exact: FunnelResult, where: str = "all") -> None:
    assert rollup.source == "rollup" and exact.source == "exact"
    assert (rollup.entered, rollup.finished) == (exact.entered, exact.finished), where
    assert close(rollup.median_time_to_finish, exact.median_time_to_finish), where
    assert close(rollup.p90_time_to_finish, exact.p90_time_to_finish), where
    for got, want in zip(rollup.steps, exact.steps, strict=True):
        counts = (got.reached, got.previous_reached, got.defaulted)
        assert counts == (want.reached, want.previous_reached, want.defaulted), (where, got.key)
        assert close(got.median_time, want.median_time), (where, got.key, got, want)
        assert close(got.p90_time, want.p90_time), (where, got.key, got, want)
    assert sorted(rollup.groups) == sorted(exact.groups), where
    for key, group in rollup.groups.items():
        assert_matches(group, exact.groups[key], where=key)


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(CASES))
def test_rollup_equals_exact_path(seed, declare):
    declare(TOUR, TASKS)
    rng = random.Random(1000 + seed)
    flow = get_flow(["wizard", "checklist", "tour", "tasks"][seed % 4])
    options = scenario(rng, flow)
    options.pop("window_days", None)
    window = timedelta(days=flow.effective_window_days())
    log = generate(rng, flow, UserFactory.create_batch(rng.randrange(4, 16)), window)
    for batch in log.inputs:
        track_many(batch)
    zone = ZoneInfo(ZONES[seed % len(ZONES)])
    with timezone.override(zone):
        report = refresh_rollup(flow.key, now=BASE + timedelta(days=90))
        assert report.rebuilt
        rollup = FunnelQuery(**options).run()
        exact = FunnelQuery(**options, use_rollup=False).run()
    assert rollup.fresh_as_of == BASE + timedelta(days=90)
    assert_matches(rollup, exact)


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(CASES // 2))
def test_rollup_cohort_table_equals_exact(seed, declare):
    """Weeks summed from the rollup's local entry days are the exact path's weeks."""
    declare(TOUR, TASKS)
    rng = random.Random(2000 + seed)
    flow = get_flow(["wizard", "checklist", "tour", "tasks"][seed % 4])
    options = scenario(rng, flow)
    for name in ("window_days", "breakdown"):
        options.pop(name, None)
    # Entries over several weeks, so that cohorts differ.
    log = generate(rng, flow, UserFactory.create_batch(rng.randrange(8, 24)), timedelta(days=30))
    for batch in log.inputs:
        track_many(batch)
    now = BASE + timedelta(days=rng.choice([20, 90]))
    with timezone.override(ZoneInfo(ZONES[seed % len(ZONES)])):
        refresh_rollup(flow.key, now=now)
        rollup = cohort_table(**options)
        exact = cohort_table(**options, use_rollup=False)
        funnel = FunnelQuery(**options).run()
    assert (rollup.source, exact.source) == ("rollup", "exact")
    assert rollup.fresh_as_of == now
    # Coherent with the page's funnel: the weeks add up to it.
    assert sum(row.entered for row in rollup.rows) == funnel.entered
    assert sum(row.finished for row in rollup.rows) == funnel.finished
    fields = [(row.week, row.entered, row.reached, row.finished) for row in rollup.rows]
    assert fields == [(row.week, row.entered, row.reached, row.finished) for row in exact.rows]
    # A week is final when its last entrant's window had closed at the rollup's count.
    window = timedelta(days=flow.effective_window_days())
    for row in rollup.rows:
        last_entry = datetime.combine(row.week + timedelta(days=7), time.min)
        closes = timezone.make_aware(last_entry, ZoneInfo(ZONES[seed % len(ZONES)])) + window
        assert row.final == (closes <= now), row.week


def _enter(users, at, step="signup"):
    """``users`` complete ``step`` of the wizard a minute apart from ``at``."""
    track_many(
        EventInput(who=user, flow="wizard", step=step, occurred_at=at + timedelta(minutes=i))
        for i, user in enumerate(users)
    )


@pytest.mark.django_db
def test_refresh_recounts_only_open_cohorts():
    old, recent = UserFactory.create_batch(3), UserFactory.create_batch(2)
    now = BASE + timedelta(days=40)
    _enter(old, BASE)
    _enter(recent, now - timedelta(days=2))
    first = refresh_rollup("wizard", now=now)
    assert first.rebuilt
    assert FunnelQuery(flow="wizard").run().entered == 5

    # A later refresh recounts from the first day open at the last one (now - 15 days),
    # and the closed cohort a late event marked: nothing else.
    _enter(UserFactory.create_batch(1), now - timedelta(days=1))
    _enter(old[:1], BASE + timedelta(hours=5), step="profile")
    second = refresh_rollup("wizard", now=now + timedelta(hours=1))
    assert not second.rebuilt
    assert second.first_day == (now - timedelta(days=2)).date()
    assert second.recounted == (BASE.date(),)
    result = FunnelQuery(flow="wizard").run()
    assert (result.source, result.entered, result.step("profile").reached) == ("rollup", 6, 1)
    assert FunnelQuery(flow="wizard", use_rollup=False).run().step("profile").reached == 1
    assert refresh_rollup("wizard", now=now + timedelta(hours=2)).recounted == ()

    call_command("onboarding_rollup", "wizard", "--rebuild", stdout=None)
    assert FunnelQuery(flow="wizard").run().step("profile").reached == 1


@pytest.mark.django_db
def test_rollup_not_used_for_other_windows_or_time_zones():
    _enter(UserFactory.create_batch(2), BASE)
    refresh_rollup("wizard", now=BASE + timedelta(days=1))
    assert FunnelQuery(flow="wizard").run().source == "rollup"
    assert FunnelQuery(flow="wizard", breakdown="entry_week").run().source == "rollup"
    assert FunnelQuery(flow="wizard", window_days=3).run().source == "exact"
    assert cohort_table("wizard", window_days=3).source == "exact"
    with timezone.override(ZoneInfo("Asia/Kolkata")):  # entry days are another zone's
        assert FunnelQuery(flow="wizard").run().source == "exact"


@pytest.mark.django_db
def test_exact_result_is_fresh_as_computed():
    _enter(UserFactory.create_batch(1), BASE)
    result = FunnelQuery(flow="wizard").run()
    assert result.source == "exact"
    assert result.fresh_as_of == result.computed_at


@pytest.mark.django_db
def test_command_and_task_refresh_every_flow():
    _enter(UserFactory.create_batch(2), BASE)
    out = io.StringIO()
    call_command("onboarding_rollup", stdout=out)
    assert "wizard" in out.getvalue()
    entries = FunnelRollup.objects.filter(flow__key="wizard", k=0)
    assert sum(entries.values_list("subjects", flat=True)) == 2
    # Nothing entered in the open days: the task recounts nothing, the final cohort stays.
    assert refresh_rollups.delay().get()["wizard"] == 0
    result = FunnelQuery(flow="wizard").run()
    assert (result.source, result.entered) == ("rollup", 2)
