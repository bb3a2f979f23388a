"""Numbers are never stale while saying they are fresh: entry ignores the app's own
nudges, a subject keeps its version's steps, and late events mark their closed cohort
for the rollup's next refresh. Each runs through both write paths (the PostgreSQL
pipeline and the ORM one) where the database has both."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from onboarding import EventInput, Flow, Step, UnknownStep, track_many
from onboarding.funnel import FunnelQuery, cohort_table
from onboarding.funnel.pathmodel import FunnelPath
from onboarding.models import Progress
from onboarding.progress import get_progress
from onboarding.rollups.build import refresh_rollup
from onboarding.rollups.models import StaleCohort
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=dt_timezone.utc)


@pytest.fixture(params=["pipelined", "orm"])
def write_path(request, monkeypatch):
    """Which write path ``track_many`` takes (on SQLite both are the ORM's)."""
    if request.param == "orm":
        from onboarding import tracking

        monkeypatch.setattr(tracking, "_write_pipelined", lambda prepared, check: None)
    return request.param


def ev(who, step, kind="completed", hours=0.0, flow="wizard"):
    return EventInput(who, flow, step, kind=kind, occurred_at=T0 + timedelta(hours=hours))


class TestNudgesDoNotEnter:
    def test_a_nudge_before_the_first_event_does_not_set_entry(self, write_path):
        user = UserFactory()
        track_many([ev(user, "signup", "nudged", hours=0)])
        assert Progress.objects.get().entered_at is None
        assert not get_progress(user, "wizard").entered
        assert FunnelQuery(flow="wizard").run().entered == 0
        assert not FunnelPath.objects.exists()

        track_many([ev(user, "signup", hours=30)])

        progress = Progress.objects.get()
        assert (progress.entered_at, progress.last_event_at) == (
            T0 + timedelta(hours=30),
            T0 + timedelta(hours=30),
        )
        assert get_progress(user, "wizard").entered_at == T0 + timedelta(hours=30)
        # Entry day is the completion's: 7 January, not the nudge's 6 January.
        result = FunnelQuery(flow="wizard", entered_from=(T0 + timedelta(days=1)).date()).run()
        assert (result.entered, result.step("signup").reached) == (1, 1)

    def test_a_nudge_in_the_same_batch_does_not_set_entry(self, write_path):
        user = UserFactory()
        track_many([ev(user, "signup", "nudged", hours=0), ev(user, "signup", hours=30)])

        assert Progress.objects.get().entered_at == T0 + timedelta(hours=30)
        assert FunnelQuery(flow="wizard", entered_to=T0.date()).run().entered == 0
        assert FunnelQuery(flow="wizard", entered_from=T0.date()).run().entered == 1

    def test_a_late_nudge_before_entry_does_not_move_it(self, write_path):
        user = UserFactory()
        track_many([ev(user, "signup", hours=30)])
        track_many([ev(user, "profile", "nudged", hours=0)])

        assert Progress.objects.get().entered_at == T0 + timedelta(hours=30)
        assert FunnelQuery(flow="wizard", entered_to=T0.date()).run().entered == 0


class TestLateEventsMarkClosedCohorts:
    """The rollup counted at ``NOW`` (entry days before ``NOW`` - 15 days are closed)."""

    NOW = T0 + timedelta(days=40)

    def refresh(self, hours=1):
        return refresh_rollup("wizard", now=self.NOW + timedelta(hours=hours))

    def both(self, **options):
        rollup = FunnelQuery(flow="wizard", **options).run()
        exact = FunnelQuery(flow="wizard", use_rollup=False, **options).run()
        assert (rollup.source, exact.source) == ("rollup", "exact")
        return rollup, exact

    def test_a_late_first_event_is_stale_until_the_refresh_counts_it(self, write_path):
        track_many(
            [ev(user, "signup", hours=i) for i, user in enumerate(UserFactory.create_batch(2))]
        )
        refresh_rollup("wizard", now=self.NOW)
        assert self.both()[0].stale_cohorts == ()

        # A history import: a first event on the closed day, after it was counted.
        track_many([ev(UserFactory(), "signup", hours=3)])
        rollup, exact = self.both()
        assert (rollup.entered, exact.entered) == (2, 3)
        assert rollup.stale_cohorts == (T0.date(),)
        assert rollup.groups == {} and exact.stale_cohorts == ()
        assert cohort_table("wizard").stale_cohorts == (T0.date(),)
        # Outside the query's range: not stale for it.
        later = T0.date() + timedelta(days=1)
        assert FunnelQuery(flow="wizard", entered_from=later).run().stale_cohorts == ()

        report = self.refresh()
        assert report.recounted == (T0.date(),)
        rollup, exact = self.both()
        assert (rollup.entered, rollup.step("signup").reached, rollup.stale_cohorts) == (3, 3, ())
        assert rollup.fresh_as_of == self.NOW + timedelta(hours=1)
        assert not StaleCohort.objects.exists()

    def test_an_entry_moved_between_closed_days_recounts_both(self, write_path):
        user, other = UserFactory.create_batch(2)
        track_many([ev(user, "signup", hours=72), ev(other, "signup", hours=72)])
        refresh_rollup("wizard", now=self.NOW)
        # A late first event three days earlier: the subject leaves its day for T0's.
        track_many([ev(user, "profile", "viewed", hours=0)])
        report = self.refresh()
        assert report.recounted == (T0.date(), T0.date() + timedelta(days=3))
        for day in (T0.date(), T0.date() + timedelta(days=3)):
            rollup, exact = self.both(entered_from=day, entered_to=day)
            assert (rollup.entered, rollup.step("signup").reached) == (
                exact.entered,
                exact.step("signup").reached,
            )
        assert self.both(entered_to=T0.date())[0].entered == 1

    def test_the_steady_state_marks_nothing(self, write_path):
        now = timezone.now()
        fresh, old = UserFactory.create_batch(2)
        track_many([EventInput(old, "wizard", "signup", occurred_at=now - timedelta(days=30))])
        StaleCohort.objects.all().delete()
        track_many(
            [
                # A new subject today, and an old one's completion long after its window.
                EventInput(fresh, "wizard", "signup", occurred_at=now),
                EventInput(old, "wizard", "profile", occurred_at=now),
                EventInput(old, "wizard", "project", "viewed", occurred_at=now),
            ]
        )
        assert not StaleCohort.objects.exists()


class TestWhichFlowsMark:
    def test_a_rollup_first_counted_after_a_batch_read_the_flow_sees_later_late_events(
        self, write_path
    ):
        track_many([ev(UserFactory(), "signup")])  # the flow's record is remembered
        track_many([ev(UserFactory(), "signup", hours=1)])
        refresh_rollup("wizard", now=T0 + timedelta(days=40))
        track_many([ev(UserFactory(), "signup", hours=2)])

        assert FunnelQuery(flow="wizard").run().stale_cohorts == (T0.date(),)

    @pytest.mark.postgres
    def test_the_pipeline_marks_nothing_for_a_flow_no_rollup_counted(self):
        track_many([ev(UserFactory(), "signup")])  # may mark: a record read anew is not verified
        StaleCohort.objects.all().delete()
        track_many([ev(UserFactory(), "signup", hours=1)])  # verified in the transaction

        assert not StaleCohort.objects.exists()


TRIP_V1 = Flow(
    key="trip", title="Trip", ordered=True, steps=[Step("a", "A"), Step("b", "B"), Step("c", "C")]
)
# Version 2 drops b and adds d.
TRIP_V2 = Flow(
    key="trip", title="Trip", ordered=True, steps=[Step("a", "A"), Step("c", "C"), Step("d", "D")]
)


class TestSubjectsKeepTheirVersion:
    @pytest.fixture
    def subjects(self, declare, write_path):
        """``old`` entered on version 1, ``new`` on version 2."""
        old, new = UserFactory.create_batch(2)
        declare(TRIP_V1)
        track_many([ev(old, "a", flow="trip")])
        declare(TRIP_V2)
        track_many([ev(new, "a", flow="trip")])
        return old, new

    def test_a_subject_completes_a_step_only_its_version_has(self, subjects):
        old, new = subjects
        track_many([ev(old, "b", hours=1, flow="trip"), ev(old, "c", hours=2, flow="trip")])

        progress = get_progress(old, "trip")
        assert [step.key for step in progress.steps] == ["a", "b", "c"]
        assert (progress.version, progress.done, progress.total) == (1, 3, 3)
        assert progress.finished_at == T0 + timedelta(hours=2)

        # A step of no version of the subject's is refused, naming the key; nothing stored.
        with pytest.raises(UnknownStep) as error:
            track_many([ev(new, "d", hours=1, flow="trip"), ev(new, "b", hours=2, flow="trip")])
        assert error.value.step_key == "b"
        assert not get_progress(new, "trip").steps[2].done
        with pytest.raises(UnknownStep):
            track_many([ev(old, "zzz", flow="trip")])

    def test_the_funnel_measures_each_version_against_its_own_steps(self, declare, write_path):
        old, new = UserFactory.create_batch(2)
        declare(TRIP_V1)  # old finishes version 1 while it is current
        track_many([ev(old, step, hours=i, flow="trip") for i, step in enumerate("abc")])
        declare(TRIP_V2)
        track_many([ev(new, "a", flow="trip"), ev(new, "c", hours=1, flow="trip")])
        refresh_rollup("trip", now=T0 + timedelta(days=40))

        for use_rollup in (False, True):
            result = FunnelQuery(flow="trip", breakdown="version", use_rollup=use_rollup).run()
            assert result.source == ("rollup" if use_rollup else "exact")
            # Everyone: the declared steps, each subject against its version's.
            assert [(s.key, s.reached) for s in result.steps] == [("a", 2), ("c", 2), ("d", 0)]
            assert (result.entered, result.finished) == (2, 1)
            one, two = result.groups["1"], result.groups["2"]
            assert [(s.key, s.previous, s.reached) for s in one.steps] == [
                ("a", None, 1),
                ("b", "a", 1),
                ("c", "b", 1),
            ]
            assert (one.entered, one.finished) == (1, 1)
            if not use_rollup:  # the rollup's times are those of a time bucket
                assert one.median_time_to_finish == timedelta(hours=2)
            assert [(s.key, s.reached) for s in two.steps] == [("a", 1), ("c", 1), ("d", 0)]
            assert (two.entered, two.finished) == (1, 0)
