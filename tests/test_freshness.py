"""Numbers are never stale while saying they are fresh: entry ignores the app's own
nudges, a subject keeps its version's steps, and late events mark their closed cohort
for the rollup's next refresh. Each runs through both write paths (the PostgreSQL
pipeline and the ORM one) where the database has both."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from onboarding import EventInput, track_many
from onboarding.funnel import FunnelQuery
from onboarding.funnel.pathmodel import FunnelPath
from onboarding.models import Progress
from onboarding.progress import get_progress
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
