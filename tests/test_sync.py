"""Mirroring declared flows into the database, and versions as their steps change."""

from dataclasses import replace
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from onboarding import Step, complete, get_progress, sync_flows
from onboarding.models import Event, FlowRecord, FlowVersion, Progress, StepRecord
from onboarding.registry import registry
from tests.factories import UserFactory
from tests.testapp.onboarding_flows import WIZARD

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=dt_timezone.utc)
OLD_REQUIRED = ["signup", "profile", "project", "publish"]


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def versions(key: str = "wizard") -> list[int]:
    return list(
        FlowVersion.objects.filter(flow__key=key)
        .order_by("number")
        .values_list("number", flat=True)
    )


def wizard_with(steps) -> object:
    return replace(WIZARD, steps=steps)


@pytest.fixture
def declare_v2(declare):
    """Declares the wizard with a new required step "verify" after "signup"."""
    steps = list(WIZARD.steps)
    steps.insert(1, Step("verify", "Verify your e-mail", estimated_seconds=15))
    return lambda: declare(wizard_with(steps))


class TestSync:
    def test_mirrors_the_declared_flows(self):
        sync_flows()

        record = FlowRecord.objects.get(key="wizard")
        assert (record.title, record.ordered, record.window_days, record.declared) == (
            "Set up your account",
            True,
            14,
            True,
        )
        assert record.variants == {"shown": 1, "hidden": 1}
        assert record.current_version.number == 1
        steps = list(record.current_version.step_records.order_by("position"))
        assert [(s.key, s.position, s.optional) for s in steps] == [
            ("signup", 0, False),
            ("profile", 1, False),
            ("project", 2, False),
            ("invite", 3, True),
            ("publish", 4, False),
        ]
        project = steps[2]
        assert (project.url, project.completed_by, project.has_default, project.has_predicate) == (
            "project-new",
            "project_created",
            True,
            True,
        )
        assert record.current_version.step_keys == [s.key for s in steps]
        assert FlowRecord.objects.get(key="checklist").ordered is False

    def test_is_idempotent(self):
        sync_flows()
        counts = (
            FlowRecord.objects.count(),
            FlowVersion.objects.count(),
            StepRecord.objects.count(),
        )
        again = sync_flows()

        assert (again.changed, again.changes) == (False, [])
        assert (
            FlowRecord.objects.count(),
            FlowVersion.objects.count(),
            StepRecord.objects.count(),
        ) == counts

    def test_creates_a_missing_flow(self):
        FlowRecord.objects.filter(key="checklist").update(current_version=None)
        FlowVersion.objects.filter(flow__key="checklist").delete()
        FlowRecord.objects.filter(key="checklist").delete()

        report = sync_flows()

        assert "created flow 'checklist'" in report.changes
        assert "flow 'checklist' is now version 1" in report.changes
        assert versions("checklist") == [1]

    def test_check_reports_without_writing(self, declare):
        declare(replace(WIZARD, title="Welcome"))

        report = sync_flows(check=True)

        assert report.changes == ["updated flow 'wizard': title"]
        assert FlowRecord.objects.get(key="wizard").title == "Set up your account"
        assert sync_flows(check=True).changes == ["updated flow 'wizard': title"]

    def test_a_flow_no_longer_declared_is_marked(self, declare):
        declare(WIZARD)  # restores the registry after the test
        registry.unregister("checklist")

        report = sync_flows()

        assert report.changes == ["flow 'checklist' is no longer declared"]
        assert FlowRecord.objects.get(key="checklist").declared is False
        assert sync_flows().changed is False


class TestVersions:
    def test_cosmetic_changes_keep_the_version(self, declare):
        sync_flows()
        steps = list(WIZARD.steps)
        steps[0] = replace(steps[0], title="Create your account", estimated_seconds=45)
        steps[1] = replace(steps[1], url="/me/", description="Who you are")
        declare(wizard_with(steps))

        report = sync_flows()

        assert report.changes == [
            "updated step wizard.signup: estimated_seconds, title",
            "updated step wizard.profile: description, url",
        ]
        assert versions() == [1]
        version = FlowRecord.objects.get(key="wizard").current_version
        assert version.steps[0]["title"] == "Create your account"
        assert version.steps[0]["estimated_seconds"] == 45
        assert version.step_records.get(key="profile").url == "/me/"
        assert sync_flows().changed is False

    @pytest.mark.parametrize(
        "change",
        [
            lambda steps: [*steps, Step("extra", "Extra")],
            lambda steps: steps[:-1],
            lambda steps: steps[::-1],
            lambda steps: [replace(steps[0], optional=True), *steps[1:]],
            lambda steps: [replace(steps[0], completed_by="signed_up"), *steps[1:]],
            lambda steps: [replace(steps[0], default=lambda subject, actor: None), *steps[1:]],
        ],
        ids=["added", "removed", "reordered", "optional", "completed_by", "default"],
    )
    def test_a_change_of_steps_makes_a_new_version(self, declare, change):
        sync_flows()
        declare(wizard_with(change(list(WIZARD.steps))))

        report = sync_flows()

        assert "flow 'wizard' is now version 2" in report.changes
        assert versions() == [1, 2]
        assert sync_flows().changed is False

    def test_a_subject_keeps_the_version_it_entered_with(self, declare_v2):
        early = UserFactory()
        complete(early, "wizard", "signup", occurred_at=at(0))
        declare_v2()

        # The declaration changed; tracking syncs it without an explicit sync_flows().
        late = UserFactory()
        complete(late, "wizard", "signup", occurred_at=at(10))
        complete(early, "wizard", "profile", occurred_at=at(20))

        assert versions() == [1, 2]
        assert Progress.objects.get(subject_id=str(early.pk)).version.number == 1
        assert Progress.objects.get(subject_id=str(late.pk)).version.number == 2
        early_events = Event.objects.filter(subject_id=str(early.pk))
        assert {event.version.number for event in early_events} == {1}
        assert Event.objects.get(subject_id=str(late.pk)).version.number == 2

        old, new = get_progress(early, "wizard"), get_progress(late, "wizard")
        assert (old.version, old.done, old.total) == (1, 2, 4)
        assert "verify" not in [step.key for step in old.steps]
        assert (new.version, new.done, new.total) == (2, 1, 5)
        assert new.next_step.key == "verify"
        assert get_progress(UserFactory(), "wizard").total == 5

    def test_finishing_follows_the_subjects_version(self, declare_v2):
        early, late = UserFactory(), UserFactory()
        complete(early, "wizard", "signup", occurred_at=at(0))
        declare_v2()
        complete(late, "wizard", "signup", occurred_at=at(0))
        for seconds, step in enumerate(OLD_REQUIRED[1:], start=1):
            complete(early, "wizard", step, occurred_at=at(seconds))
            complete(late, "wizard", step, occurred_at=at(seconds))

        assert get_progress(early, "wizard").finished is True
        assert get_progress(late, "wizard").finished is False

    def test_a_step_removed_from_code_still_shows_for_old_subjects(self, declare):
        user = UserFactory()
        complete(user, "wizard", "invite", occurred_at=at(0))
        declare(wizard_with([step for step in WIZARD.steps if step.key != "invite"]))
        sync_flows()

        invite = get_progress(user, "wizard").steps[3]
        assert (invite.key, invite.title, invite.url, invite.status) == (
            "invite",
            "Invite a colleague",
            "",
            "done",
        )
