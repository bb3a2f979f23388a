"""``get_progress``: what the progress bar and checklist show, in one query."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.contenttypes.models import ContentType

from onboarding import EventInput, Flow, Step, UnknownFlow, complete, get_progress, skip, track_many
from onboarding.models import Progress
from onboarding.variants import assign_variant
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=dt_timezone.utc)
# Required steps of "wizard" and their estimates: signup 30, profile 40, project 60, publish 10.
WIZARD_SECONDS = 140


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def statuses(progress) -> dict[str, str]:
    return {step.key: step.status for step in progress.steps}


def summary(progress) -> tuple:
    return (
        progress.done,
        progress.total,
        progress.percent,
        progress.seconds_left,
        progress.next_step.key if progress.next_step else None,
        progress.finished,
    )


class TestWizard:
    def test_fresh_subject(self, user):
        progress = get_progress(user, "wizard")

        assert summary(progress) == (0, 4, 0, WIZARD_SECONDS, "signup", False)
        assert (progress.entered, progress.version, progress.entered_at) == (False, None, None)
        assert set(statuses(progress).values()) == {"todo"}
        assert [step.key for step in progress.steps] == [
            "signup",
            "profile",
            "project",
            "invite",
            "publish",
        ]
        assert Progress.objects.count() == 0  # reading records nothing

    def test_fresh_variant_is_the_one_tracking_will_assign(self, user):
        predicted = get_progress(user, "wizard").variant
        complete(user, "wizard", "signup")

        assert predicted in {"shown", "hidden"}
        assert get_progress(user, "wizard").variant == predicted
        assert Progress.objects.get().variant == predicted

    def test_partial(self, user):
        complete(user, "wizard", "signup", occurred_at=at(0))
        complete(user, "wizard", "profile", occurred_at=at(60))

        progress = get_progress(user, "wizard")
        assert summary(progress) == (2, 4, 50, 70, "project", False)
        assert [step.key for step in progress.steps if step.is_next] == ["project"]
        assert progress.steps[0].completed_at == at(0)
        assert (progress.entered, progress.entered_at, progress.version) == (True, at(0), 1)
        assert progress.variant == Progress.objects.get().variant

    def test_an_optional_step_is_listed_but_not_counted(self, user):
        complete(user, "wizard", "invite", occurred_at=at(0))

        progress = get_progress(user, "wizard")
        assert summary(progress) == (0, 4, 0, WIZARD_SECONDS, "signup", False)
        invite = progress.steps[3]
        assert (invite.key, invite.optional, invite.status) == ("invite", True, "done")

    def test_a_skipped_step_is_not_done_and_comes_back_last(self, user):
        skip(user, "wizard", "signup", occurred_at=at(0))

        progress = get_progress(user, "wizard")
        assert summary(progress) == (0, 4, 0, WIZARD_SECONDS, "profile", False)
        assert (progress.steps[0].status, progress.steps[0].outcome) == ("skipped", "skipped")

        for seconds, step in enumerate(["profile", "project", "publish"], start=1):
            complete(user, "wizard", step, occurred_at=at(seconds))
        progress = get_progress(user, "wizard")
        assert summary(progress) == (3, 4, 75, 30, "signup", False)

    def test_dismissed(self, user):
        track_many([EventInput(user, "wizard", "invite", kind="dismissed", occurred_at=at(0))])

        progress = get_progress(user, "wizard")
        assert (progress.steps[3].status, progress.steps[3].outcome) == ("dismissed", "dismissed")
        assert progress.next_step.key == "signup"

    def test_a_default_counts_as_done_and_is_reported_apart(self, user):
        track_many([EventInput(user, "wizard", "project", kind="defaulted", occurred_at=at(0))])

        project = get_progress(user, "wizard").steps[2]
        assert (project.status, project.outcome, project.done) == ("done", "defaulted", True)

    def test_finished(self, user):
        for seconds, step in enumerate(["signup", "profile", "project", "publish"]):
            complete(user, "wizard", step, occurred_at=at(seconds))

        progress = get_progress(user, "wizard")
        # The optional step still to do is offered next.
        assert summary(progress) == (4, 4, 100, 0, "invite", True)
        assert progress.finished_at == at(3)

    def test_finished_with_every_step(self, user):
        for seconds, step in enumerate(["signup", "profile", "project", "invite", "publish"]):
            complete(user, "wizard", step, occurred_at=at(seconds))

        assert summary(get_progress(user, "wizard")) == (4, 4, 100, 0, None, True)

    def test_step_details_come_from_the_declaration(self, user):
        project = get_progress(user, "wizard").steps[2]

        assert (project.title, project.url, project.estimated_seconds) == (
            "Create a project",
            "/projects/new/",
            60,
        )
        assert (project.has_default, project.default_label) == (True, "Use a sample project")
        assert get_progress(user, "wizard").steps[1].url == "/profile/"

    def test_unknown_flow(self, user):
        with pytest.raises(UnknownFlow, match="'nope'"):
            get_progress(user, "nope")


class TestChecklist:
    def test_any_order(self, user):
        complete(user, "checklist", "c", occurred_at=at(0))

        progress = get_progress(user, "checklist")
        assert summary(progress) == (1, 3, 33, 10, "a", False)
        assert statuses(progress) == {"a": "todo", "b": "todo", "c": "done"}
        assert progress.variant == ""

    def test_finished_in_any_order(self, user):
        for seconds, step in enumerate(["c", "a", "b"]):
            complete(user, "checklist", step, occurred_at=at(seconds))

        progress = get_progress(user, "checklist")
        assert summary(progress) == (3, 3, 100, 0, None, True)
        assert progress.finished_at == at(2)

    def test_a_subject_instance_has_its_own_progress(self, user):
        team = TeamFactory()
        complete(team, "checklist", "a")

        assert get_progress(team, "checklist").done == 1
        assert get_progress(user, "checklist").done == 0


def many_steps(count: int) -> Flow:
    return Flow(
        f"steps-{count}",
        f"{count} steps",
        steps=[Step(f"s{n}", f"Step {n}", url="/somewhere/") for n in range(count)],
    )


@pytest.mark.parametrize("count", [3, 30])
def test_one_query_whatever_the_number_of_steps(user, declare, django_assert_num_queries, count):
    flow = declare(many_steps(count))
    track_many([EventInput(user, flow.key, f"s{n}", occurred_at=at(n)) for n in range(count - 1)])

    with django_assert_num_queries(1):
        progress = get_progress(user, flow.key)

    assert (progress.done, progress.total, progress.next_step.key) == (
        count - 1,
        count,
        f"s{count - 1}",
    )


def test_the_default_variant_follows_the_subject(user):
    progress = get_progress(user, "wizard")
    type_id = ContentType.objects.get_for_model(user).pk

    assert progress.variant == assign_variant(
        "wizard", {"shown": 1, "hidden": 1}, f"{type_id}:{user.pk}"
    )
