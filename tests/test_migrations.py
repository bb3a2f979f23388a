"""Upgrade safety: new installs migrate from an empty database through the squashed
0.1 migration, and a database at the previous release's schema, holding data written by
that release, migrates forward with nothing lost and every derived row built."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from onboarding import track
from onboarding.funnel import FunnelQuery
from onboarding.models import Event, Progress
from onboarding.progress import get_progress
from onboarding.sync import sync_flows
from tests.factories import UserFactory

# The last migration of release 0.1 (0001-0007, squashed into one for new installs).
PREVIOUS_RELEASE = ("onboarding", "0001_squashed_0007_release_0_1")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def back_to_the_latest_schema():
    """Whatever a test leaves behind, later tests find every migration applied."""
    yield
    _migrate(_latest())


def _migrate(target: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    executor.loader.build_graph()  # the graph as it is after this migration
    return executor


def _latest() -> list[tuple[str, str | None]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def test_a_new_install_migrates_from_empty_through_the_squashed_migration():
    _migrate([("onboarding", None)])
    assert "onboarding_progress" not in connection.introspection.table_names()

    executor = _migrate(_latest())

    applied = executor.loader.applied_migrations
    assert PREVIOUS_RELEASE in applied
    # The squash records the migrations it replaces, so older databases stay consistent.
    assert ("onboarding", "0001_initial") in applied
    assert ("onboarding", "0007_funnel_rollup") in applied
    assert "onboarding_progress" in connection.introspection.table_names()
    assert executor.migration_plan(_latest()) == []


def test_data_written_by_the_previous_release_survives_the_upgrade_and_counts():
    sync_flows()
    now = timezone.now()
    early, late = UserFactory(), UserFactory()
    track(early, "wizard", "signup", occurred_at=now - timedelta(days=3))
    track(early, "wizard", "profile", occurred_at=now - timedelta(days=2))
    track(late, "wizard", "signup", occurred_at=now - timedelta(days=1))

    old_apps = _migrate([PREVIOUS_RELEASE]).loader.project_state([PREVIOUS_RELEASE]).apps
    # A row the previous release wrote itself, with none of what later releases add.
    OldProgress = old_apps.get_model("onboarding", "Progress")
    OldStepState = old_apps.get_model("onboarding", "StepState")
    third = UserFactory()
    kept = OldProgress.objects.get(subject_id=str(early.pk))
    row = OldProgress.objects.create(
        flow_id=kept.flow_id,
        version_id=kept.version_id,
        subject_type_id=ContentType.objects.get_for_model(third).pk,
        subject_id=str(third.pk),
        variant=kept.variant,
        entered_at=now - timedelta(hours=5),
        last_event_at=now - timedelta(hours=4),
    )
    for key, hours in (("signup", 5), ("profile", 4)):
        OldStepState.objects.create(
            progress=row,
            step_key=key,
            outcome="completed",
            completed_at=now - timedelta(hours=hours),
        )

    _migrate(_latest())

    assert Progress.objects.count() == 3
    assert Event.objects.count() == 3
    assert [s.status for s in get_progress(early, "wizard").steps[:3]] == ["done", "done", "todo"]
    assert get_progress(third, "wizard").done == 2
    funnel = FunnelQuery(flow="wizard", use_rollup=False).run()
    assert funnel.entered == 3
    assert funnel.step("signup").reached == 3
    assert funnel.step("profile").reached == 2
    assert funnel.step("profile").median_time == timedelta(hours=1)


def test_flows_a_rollup_counted_before_the_upgrade_mark_late_events_after_it():
    before = [("onboarding", "0012_progress_entry_optional")]
    executor = _migrate(before)
    apps = executor.loader.project_state(before).apps
    apps.get_model("onboarding", "FlowRecord").objects.create(key="wizard", title="Wizard")
    apps.get_model("onboarding", "FlowRecord").objects.create(key="checklist", title="List")
    apps.get_model("onboarding", "Checkpoint").objects.create(
        name="onboarding.rollup:wizard", value={"fresh_as_of": "2025-01-01T00:00:00+00:00"}
    )

    _migrate(_latest())

    from onboarding.models import FlowRecord

    counted = dict(FlowRecord.objects.values_list("key", "rollup_counted"))
    assert counted == {"wizard": True, "checklist": False}
