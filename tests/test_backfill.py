"""The typed core of backfill: predicates become progress, once, resumably."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import override_settings
from django.utils import timezone

from onboarding import Flow, Step, complete, get_progress
from onboarding.backfill import BackfillError, backfill, checkpoint_name, event_id
from onboarding.exceptions import UnknownFlow
from onboarding.models import Checkpoint, Event, Progress, StepState
from tests.factories import MembershipFactory, ProjectFactory, TeamFactory, UserFactory
from tests.testapp.models import Membership, Project, Team

pytestmark = pytest.mark.django_db

T1 = datetime(2024, 3, 1, 9, 30, tzinfo=dt_timezone.utc)
T2 = datetime(2024, 3, 5, 17, 0, tzinfo=dt_timezone.utc)


def team_of(user):
    """SUBJECT_RESOLVER for these tests: a user's team, or None without one."""
    membership = Membership.objects.filter(user=user).select_related("team").first()
    return membership.team if membership else None


def project_at(owner, when):
    project = ProjectFactory(owner=owner)
    Project.objects.filter(pk=project.pk).update(created_at=when)
    return project


def test_predicates_record_completions_at_the_time_they_return():
    with_project, without, with_later_project = UserFactory.create_batch(3)
    project_at(with_project, T1)
    project_at(with_later_project, T2)

    report = backfill(flows=["wizard"])

    assert report.subjects_examined == 3
    assert report.events_recorded == 2
    events = Event.objects.filter(flow__key="wizard").order_by("occurred_at")
    assert [(e.subject_id, e.step_key, e.kind, e.source, e.occurred_at) for e in events] == [
        (str(with_project.pk), "project", "completed", "backfill", T1),
        (str(with_later_project.pk), "project", "completed", "backfill", T2),
    ]
    assert events[0].id == event_id("wizard", "project", with_project)
    step = next(s for s in get_progress(with_project, "wizard").steps if s.key == "project")
    assert (step.status, step.completed_at) == ("done", T1)
    assert not Progress.objects.filter(subject_id=str(without.pk)).exists()


def test_rerun_records_nothing_twice():
    user = UserFactory()
    project_at(user, T1)
    assert backfill(flows=["wizard"]).events_recorded == 1

    again = backfill(flows=["wizard"], restart=True)

    assert again.subjects_examined == 1
    assert again.events_recorded == 0
    assert Event.objects.filter(source="backfill").count() == 1


def test_rerun_after_progress_was_lost_is_deduplicated_by_event_id():
    user = UserFactory()
    project_at(user, T1)
    backfill(flows=["wizard"])
    # Without step states the step looks undone, so the event is sent again: its
    # deterministic id must make it a duplicate rather than a second completion.
    StepState.objects.all().delete()

    again = backfill(flows=["wizard"], restart=True)

    assert again.events_recorded == 0
    assert Event.objects.filter(source="backfill").count() == 1


def test_a_predicate_returning_true_completes_the_step_now(declare):
    declare(Flow("always", "Always", steps=[Step("one", "One", done_when=lambda s: True)]))
    user = UserFactory()
    before = timezone.now()

    backfill(flows=["always"])

    event = Event.objects.get(flow__key="always", subject_id=str(user.pk))
    assert before <= event.occurred_at <= timezone.now()
    assert get_progress(user, "always").finished


def test_falsy_predicates_record_nothing(declare):
    answers = iter([False, None])
    declare(Flow("never", "Never", steps=[Step("one", "One", done_when=lambda s: next(answers))]))
    UserFactory.create_batch(2)

    report = backfill(flows=["never"])

    assert (report.subjects_examined, report.events_recorded) == (2, 0)
    assert not Event.objects.filter(flow__key="never").exists()


def test_resumes_after_the_last_saved_batch(declare):
    users = UserFactory.create_batch(5)
    broken = {users[3].pk}
    calls = []

    def done_when(user):
        calls.append(user.pk)
        if user.pk in broken:
            raise RuntimeError("database of the host app went away")
        return T1

    declare(Flow("resume", "Resume", steps=[Step("one", "One", done_when=done_when)]))

    with pytest.raises(BackfillError, match=r"'one' in flow 'resume' failed for 'user\d+'"):
        backfill(flows=["resume"], batch_size=2)

    # The first batch (users 0 and 1) is kept; the failing one (2 and 3) rolled back.
    checkpoint = Checkpoint.objects.get(name=checkpoint_name("resume"))
    assert checkpoint.value == {"last_pk": users[1].pk}
    done = set(Event.objects.filter(flow__key="resume").values_list("subject_id", flat=True))
    assert done == {str(users[0].pk), str(users[1].pk)}

    broken.clear()
    calls.clear()
    report = backfill(flows=["resume"], batch_size=2)

    (flow,) = report.flows
    assert flow.resumed_after == users[1].pk
    assert flow.users_processed == 3
    assert calls == [user.pk for user in users[2:]]
    assert Event.objects.filter(flow__key="resume").count() == 5
    assert Checkpoint.objects.get(name=checkpoint_name("resume")).value == {"last_pk": users[4].pk}


def test_a_finished_run_continues_with_new_users_only_unless_restarted():
    first = UserFactory()
    project_at(first, T1)
    backfill(flows=["wizard"])
    newcomer = UserFactory()
    project_at(newcomer, T2)

    (flow,) = backfill(flows=["wizard"]).flows
    assert (flow.resumed_after, flow.users_processed, flow.events_recorded) == (first.pk, 1, 1)

    (flow,) = backfill(flows=["wizard"], restart=True).flows
    assert (flow.resumed_after, flow.users_processed, flow.events_recorded) == (None, 2, 0)


def test_reports_progress_after_each_batch():
    UserFactory.create_batch(5)
    seen = []

    backfill(flows=["wizard"], batch_size=2, on_batch=seen.append)

    assert [(p.flow, p.processed, p.total, p.percent) for p in seen] == [
        ("wizard", 2, 5, 40),
        ("wizard", 4, 5, 80),
        ("wizard", 5, 5, 100),
    ]


def test_dry_run_writes_nothing_but_counts_what_it_would_record():
    users = UserFactory.create_batch(3)
    project_at(users[0], T1)

    report = backfill(flows=["wizard"], batch_size=1, dry_run=True)

    assert (report.dry_run, report.subjects_examined, report.events_recorded) == (True, 3, 1)
    assert not Event.objects.exists()
    assert not Progress.objects.exists()
    assert not Checkpoint.objects.exists()


def test_only_the_named_flows_are_backfilled(declare):
    declare(Flow("other", "Other", steps=[Step("one", "One", done_when=lambda s: True)]))
    user = UserFactory()
    project_at(user, T1)

    report = backfill(flows=["other"])

    assert [flow.flow for flow in report.flows] == ["other"]
    assert set(Event.objects.values_list("flow__key", flat=True)) == {"other"}


def test_by_default_every_flow_with_a_predicate_is_backfilled(declare):
    declare(Flow("other", "Other", steps=[Step("one", "One", done_when=lambda s: True)]))
    UserFactory()

    report = backfill()

    keys = [flow.flow for flow in report.flows]
    assert keys == sorted(keys)
    assert {"other", "wizard"} <= set(keys)
    # "checklist" declares no done_when, so there is nothing to backfill for it.
    assert "checklist" not in keys


def test_a_named_flow_without_predicates_does_nothing():
    UserFactory()

    (flow,) = backfill(flows=["checklist"]).flows

    assert (flow.steps, flow.users_processed, flow.events_recorded) == ([], 0, 0)


def test_unknown_flow_and_bad_batch_size_are_refused():
    with pytest.raises(UnknownFlow, match="'nope'"):
        backfill(flows=["nope"])
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        backfill(batch_size=0)


def test_team_subjects_are_examined_once_and_users_without_a_team_are_counted(
    declare,
):
    calls = []

    def team_project_at(team):
        calls.append(team.pk)
        project = (
            Project.objects.filter(owner__membership__team=team).order_by("created_at").first()
        )
        return project.created_at if project else None

    declare(
        Flow("team-setup", "Team", steps=[Step("project", "Project", done_when=team_project_at)])
    )
    busy, idle = TeamFactory(), TeamFactory()
    owner = MembershipFactory(team=busy).user
    MembershipFactory(team=busy)
    MembershipFactory(team=idle)
    UserFactory()  # no team
    project_at(owner, T1)

    with override_settings(ONBOARDING={"SUBJECT_RESOLVER": "tests.test_backfill.team_of"}):
        report = backfill(flows=["team-setup"], batch_size=2)

    (flow,) = report.flows
    assert (flow.users_processed, flow.users_without_subject) == (4, 1)
    assert (flow.subjects_examined, flow.events_recorded) == (2, 1)
    assert sorted(calls) == sorted([busy.pk, idle.pk])
    progress = Progress.objects.get(flow__key="team-setup")
    assert progress.subject_type == ContentType.objects.get_for_model(Team)
    assert (progress.subject_id, progress.subject_label, progress.finished_at) == (
        str(busy.pk),
        busy.name,
        T1,
    )


def test_future_times_from_a_predicate_are_clamped(declare):
    future = timezone.now() + timedelta(days=3)
    declare(Flow("future", "Future", steps=[Step("one", "One", done_when=lambda s: future)]))
    UserFactory()

    backfill(flows=["future"])

    assert Event.objects.get(flow__key="future").occurred_at < future - timedelta(days=2)


def test_steps_already_done_are_not_evaluated_again(declare):
    calls = []

    def done_when(user):
        calls.append(user.pk)
        return True

    declare(Flow("seen", "Seen", steps=[Step("one", "One", done_when=done_when)]))
    done, todo = UserFactory.create_batch(2)
    complete(done, "seen", "one", occurred_at=T1)

    report = backfill(flows=["seen"])

    assert calls == [todo.pk]
    assert report.events_recorded == 1
    assert get_progress(done, "seen").steps[0].completed_at == T1
