"""``onboarding_sync`` and ``onboarding_backfill`` as an operator runs them."""

from datetime import datetime
from datetime import timezone as dt_timezone
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from onboarding import Flow, Step
from onboarding.models import Checkpoint, Event, FlowRecord, FlowVersion
from tests.factories import ProjectFactory, UserFactory
from tests.testapp.models import Project

pytestmark = pytest.mark.django_db

T1 = datetime(2024, 3, 1, 9, 30, tzinfo=dt_timezone.utc)


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def temp_flow(*steps, title="Temporary"):
    return Flow("temp", title, steps=list(steps) or [Step("a", "A"), Step("b", "B")])


# onboarding_sync --------------------------------------------------------------------


def test_sync_check_passes_when_the_database_matches_the_declarations():
    run("onboarding_sync")

    assert "in sync" in run("onboarding_sync", "--check")


def test_sync_check_fails_for_a_new_flow_and_writes_nothing(declare):
    declare(temp_flow())

    with pytest.raises(CommandError) as failure:
        run("onboarding_sync", "--check")

    message = str(failure.value)
    assert "2 changes are not synced" in message
    assert "created flow 'temp'" in message
    assert "flow 'temp' is now version 1" in message
    assert not FlowRecord.objects.filter(key="temp").exists()


def test_sync_creates_the_flow_prints_each_change_then_check_passes(declare):
    declare(temp_flow())

    output = run("onboarding_sync")

    assert "- created flow 'temp'" in output
    assert "- flow 'temp' is now version 1" in output
    assert "Synced 2 changes." in output
    record = FlowRecord.objects.get(key="temp")
    assert record.current_version.number == 1
    steps = record.current_version.step_records.order_by("position")
    assert [(s.position, s.key, s.title) for s in steps] == [(0, "a", "A"), (1, "b", "B")]
    assert "in sync" in run("onboarding_sync", "--check")


def test_a_changed_step_structure_fails_the_check_and_sync_makes_a_new_version(declare):
    declare(temp_flow())
    run("onboarding_sync")
    declare(temp_flow(Step("a", "A"), Step("b", "B"), Step("c", "C", optional=True)))

    with pytest.raises(CommandError, match="flow 'temp' is now version 2"):
        run("onboarding_sync", "--check")
    assert FlowVersion.objects.filter(flow__key="temp").count() == 1

    output = run("onboarding_sync")

    assert "- flow 'temp' is now version 2" in output
    record = FlowRecord.objects.get(key="temp")
    assert record.current_version.number == 2
    assert record.current_version.step_keys == ["a", "b", "c"]
    assert "in sync" in run("onboarding_sync", "--check")


def test_a_changed_title_updates_in_place_without_a_new_version(declare):
    declare(temp_flow())
    run("onboarding_sync")
    declare(temp_flow(title="Renamed"))

    output = run("onboarding_sync")

    assert "- updated flow 'temp': title" in output
    assert "version 2" not in output
    assert FlowRecord.objects.get(key="temp").title == "Renamed"
    assert FlowVersion.objects.filter(flow__key="temp").count() == 1


def test_sync_reports_flows_no_longer_declared(declare):
    declare(temp_flow())
    run("onboarding_sync")
    from onboarding.registry import registry

    registry.unregister("temp")

    with pytest.raises(CommandError, match="flow 'temp' is no longer declared"):
        run("onboarding_sync", "--check")
    run("onboarding_sync")
    assert FlowRecord.objects.get(key="temp").declared is False


def test_sync_is_silent_at_verbosity_zero(declare):
    declare(temp_flow())
    out = StringIO()

    call_command("onboarding_sync", verbosity=0, stdout=out)

    assert out.getvalue() == ""
    assert FlowRecord.objects.filter(key="temp").exists()


# onboarding_backfill ----------------------------------------------------------------


def with_project(user, when=T1):
    project = ProjectFactory(owner=user)
    Project.objects.filter(pk=project.pk).update(created_at=when)


def test_backfill_prints_progress_and_a_summary():
    users = UserFactory.create_batch(3)
    with_project(users[0])

    output = run("onboarding_backfill", "--flow", "wizard", "--batch-size", "2")

    assert "wizard: 2/3 users (66%)" in output
    assert "wizard: 3/3 users (100%)" in output
    assert "wizard: users 3, subjects 3, events 1" in output
    assert "Subjects examined: 3, events recorded: 1." in output
    assert Event.objects.filter(source="backfill", step_key="project").count() == 1


def test_backfill_rerun_continues_after_the_checkpoint_and_records_nothing_twice():
    users = UserFactory.create_batch(2)
    with_project(users[0])
    run("onboarding_backfill", "--flow", "wizard")

    output = run("onboarding_backfill", "--flow", "wizard")
    assert f"resumed after user pk {users[1].pk}" in output
    assert "events recorded: 0" in output

    output = run("onboarding_backfill", "--flow", "wizard", "--restart")
    assert "resumed" not in output
    assert "wizard: users 2, subjects 2, events 0" in output
    assert Event.objects.filter(source="backfill").count() == 1


def test_backfill_interrupted_then_resumed(declare):
    users = UserFactory.create_batch(4)
    failing = {users[2].pk}

    def done_when(user):
        if user.pk in failing:
            raise RuntimeError("boom")
        return T1

    declare(Flow("temp", "Temp", steps=[Step("a", "A", done_when=done_when)]))

    with pytest.raises(CommandError, match="boom Earlier batches are saved: run the command"):
        run("onboarding_backfill", "--flow", "temp", "--batch-size", "2")
    assert Checkpoint.objects.get(name="backfill:temp").value == {"last_pk": users[1].pk}

    failing.clear()
    output = run("onboarding_backfill", "--flow", "temp", "--batch-size", "2")

    assert f"resumed after user pk {users[1].pk}" in output
    assert "temp: 4/4 users (100%)" in output
    assert Event.objects.filter(flow__key="temp").count() == 4


def test_backfill_flow_option_takes_several_keys(declare):
    declare(Flow("temp", "Temp", steps=[Step("a", "A", done_when=lambda s: True)]))
    UserFactory()

    output = run("onboarding_backfill", "--flow", "temp", "checklist")

    assert "temp: users 1, subjects 1, events 1" in output
    assert "checklist: no step has a done_when predicate" in output
    assert "wizard" not in output


def test_backfill_dry_run_writes_nothing():
    with_project(UserFactory())

    output = run("onboarding_backfill", "--flow", "wizard", "--dry-run")

    assert "Dry run, nothing was written." in output
    assert "events that would be recorded: 1" in output
    assert not Event.objects.exists()
    assert not Checkpoint.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flow", "nope"], "Unknown onboarding flow 'nope'"),
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    ],
)
def test_backfill_refuses_bad_options(args, message):
    with pytest.raises(CommandError, match=message):
        run("onboarding_backfill", *args)
