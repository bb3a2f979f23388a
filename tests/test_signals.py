"""``step_completed`` (once per step, at first completion) and ``flow_finished`` (once)."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from onboarding import EventInput, accept_default, complete, skip, track, track_many
from onboarding.models import Progress
from onboarding.signals import flow_finished, step_completed
from tests.factories import MembershipFactory, TeamFactory
from tests.testapp.onboarding_flows import WIZARD

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=dt_timezone.utc)
REQUIRED = ["signup", "profile", "project", "publish"]


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Receiver:
    """Collects the keyword arguments of every signal sent to it."""

    def __init__(self, signal):
        self.calls: list[dict] = []
        signal.connect(self, dispatch_uid=f"test-{id(self)}")
        self.signal = signal

    def __call__(self, signal, sender, **kwargs):
        self.calls.append({"sender": sender, **kwargs})

    def disconnect(self):
        self.signal.disconnect(dispatch_uid=f"test-{id(self)}")


@pytest.fixture
def completed():
    receiver = Receiver(step_completed)
    yield receiver
    receiver.disconnect()


@pytest.fixture
def finished():
    receiver = Receiver(flow_finished)
    yield receiver
    receiver.disconnect()


def steps(receiver) -> list[tuple[str, str]]:
    return [(call["step"].key, call["outcome"]) for call in receiver.calls]


class TestStepCompleted:
    def test_arguments(self, user, completed):
        complete(user, "wizard", "signup", occurred_at=at(0))

        (call,) = completed.calls
        assert call["sender"] is WIZARD
        assert (call["subject"], call["actor"]) == (user, user)
        assert call["step"] is WIZARD.step("signup")
        assert (call["outcome"], call["occurred_at"]) == ("completed", at(0))
        assert call["progress"] == Progress.objects.get()

    def test_once_per_step_at_first_completion(self, user, completed):
        complete(user, "wizard", "signup", occurred_at=at(10))
        complete(user, "wizard", "signup", occurred_at=at(20))
        complete(user, "wizard", "signup", occurred_at=at(0))  # earlier, arriving late

        assert steps(completed) == [("signup", "completed")]
        assert completed.calls[0]["occurred_at"] == at(10)

    def test_not_for_views_skips_or_nudges(self, user, completed):
        skip(user, "wizard", "signup", occurred_at=at(0))
        track(user, "wizard", "profile", kind="viewed", occurred_at=at(1))
        track(user, "wizard", "profile", kind="nudged", occurred_at=at(2))

        assert completed.calls == []

    def test_not_for_duplicates(self, user, completed):
        complete(user, "wizard", "signup", event_id="6f1c3c52-6d5e-4f47-9d2c-4f5a3a6e1b10")
        complete(user, "wizard", "signup", event_id="6f1c3c52-6d5e-4f47-9d2c-4f5a3a6e1b10")

        assert len(completed.calls) == 1

    def test_a_default(self, user, completed):
        accept_default(user, "wizard", "project", occurred_at=at(0))

        assert steps(completed) == [("project", "defaulted")]

    def test_a_custom_kind(self, user, completed):
        track(user, "wizard", kind="project_created", occurred_at=at(0))

        assert steps(completed) == [("project", "completed")]

    def test_a_team_subject_with_its_member_as_actor(self, settings, completed):
        settings.ONBOARDING = {"SUBJECT_RESOLVER": "tests.test_subjects.team_of"}
        team = TeamFactory()
        member = MembershipFactory(team=team).user
        complete(member, "wizard", "signup")

        (call,) = completed.calls
        assert (call["subject"], call["actor"]) == (team, member)

    def test_a_batch_sends_one_per_step_in_time_order(self, user, completed):
        track_many(
            [
                EventInput(user, "wizard", "profile", occurred_at=at(20)),
                EventInput(user, "wizard", "signup", occurred_at=at(10)),
                EventInput(user, "wizard", "signup", occurred_at=at(5)),
            ]
        )

        assert steps(completed) == [("signup", "completed"), ("profile", "completed")]
        assert completed.calls[0]["occurred_at"] == at(5)


class TestFlowFinished:
    def test_once_when_the_last_required_step_is_done(self, user, finished):
        for seconds, step in enumerate(REQUIRED[:-1]):
            complete(user, "wizard", step, occurred_at=at(seconds))
        assert finished.calls == []

        complete(user, "wizard", "publish", occurred_at=at(30))
        complete(user, "wizard", "invite", occurred_at=at(40))
        complete(user, "wizard", "publish", occurred_at=at(3))  # earlier, arriving late

        (call,) = finished.calls
        assert call["sender"] is WIZARD
        assert (call["subject"], call["actor"]) == (user, user)
        assert call["finished_at"] == at(30)
        assert call["progress"].pk == Progress.objects.get().pk
        assert Progress.objects.get().finished_at == at(3)

    def test_after_the_last_step_completed(self, user, completed, finished):
        order = []
        step_completed.connect(lambda **kw: order.append("step"), weak=False, dispatch_uid="o1")
        flow_finished.connect(lambda **kw: order.append("flow"), weak=False, dispatch_uid="o2")
        try:
            track_many([EventInput(user, "wizard", step, occurred_at=at(0)) for step in REQUIRED])
        finally:
            step_completed.disconnect(dispatch_uid="o1")
            flow_finished.disconnect(dispatch_uid="o2")

        assert order == ["step"] * 4 + ["flow"]
        assert len(finished.calls) == 1

    def test_not_for_optional_steps_only(self, user, finished):
        complete(user, "wizard", "invite")

        assert finished.calls == []
