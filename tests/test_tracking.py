"""``track`` / ``track_many``: the one write path, held to the funnel contract."""

import random
import uuid
import zoneinfo
from collections import Counter
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from onboarding import (
    EventInput,
    Flow,
    InvalidEvent,
    NoDefault,
    Step,
    UnknownFlow,
    UnknownStep,
    accept_default,
    complete,
    dismiss,
    skip,
    track,
    track_many,
)
from onboarding.models import Event, Progress, StepState
from onboarding.variants import assign_variant
from tests.factories import ProjectFactory, UserFactory
from tests.testapp.models import Project

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=dt_timezone.utc)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def snapshot(who, flow: str = "wizard") -> dict:
    """Everything a subject's progress holds, without ids and bookkeeping times."""
    progress = Progress.objects.get(flow__key=flow, subject_id=str(who.pk))
    return {
        "entered_at": progress.entered_at,
        "last_event_at": progress.last_event_at,
        "finished_at": progress.finished_at,
        "variant": progress.variant,
        "version": progress.version.number,
        "states": sorted(
            (s.step_key, s.outcome, s.completed_at, s.first_seen_at, s.skipped_at)
            for s in progress.step_states.all()
        ),
    }


def state(who, step: str, flow: str = "wizard") -> StepState:
    return StepState.objects.get(
        progress__flow__key=flow, progress__subject_id=str(who.pk), step_key=step
    )


class TestTrack:
    def test_records_one_event_and_creates_progress(self, user):
        result = track(user, "wizard", "signup", occurred_at=at(0))

        assert (result.accepted, result.duplicates) == (1, 0)
        event = Event.objects.get()
        assert result.event_ids == [event.id]
        progress = Progress.objects.get()
        assert (event.flow.key, event.step_key, event.kind) == ("wizard", "signup", "completed")
        assert (event.subject, event.actor) == (user, user)
        assert (event.occurred_at, event.source, event.properties) == (at(0), "server", {})
        assert (event.variant, event.version) == (progress.variant, progress.version)
        assert progress.subject == user
        assert progress.subject_label == str(user)
        assert (progress.entered_at, progress.last_event_at, progress.finished_at) == (
            at(0),
            at(0),
            None,
        )
        signup = state(user, "signup")
        assert (signup.outcome, signup.completed_at) == ("completed", at(0))

    def test_keeps_properties(self, user):
        track(user, "wizard", "signup", properties={"plan": "pro", "seats": 3})

        assert Event.objects.get().properties == {"plan": "pro", "seats": 3}

    def test_without_occurred_at_uses_the_time_of_receipt(self, user):
        before = timezone.now()
        track(user, "wizard", "signup")

        event = Event.objects.get()
        assert before <= event.occurred_at <= timezone.now()
        assert event.occurred_at == event.received_at

    def test_runs_in_the_callers_transaction(self, user):
        with pytest.raises(RuntimeError), transaction.atomic():
            ProjectFactory(owner=user)
            track(user, "wizard", "project", occurred_at=at(0))
            raise RuntimeError("the caller fails after tracking")

        assert Project.objects.count() == 0
        assert Event.objects.count() == 0
        assert Progress.objects.count() == 0
        assert StepState.objects.count() == 0

    def test_commits_with_the_callers_transaction(self, user):
        with transaction.atomic():
            ProjectFactory(owner=user)
            track(user, "wizard", "project", occurred_at=at(0))

        assert (Project.objects.count(), Event.objects.count()) == (1, 1)
        assert state(user, "project").completed_at == at(0)

    def test_entry_is_the_earliest_event_of_any_kind_but_nudged(self, user):
        track(user, "wizard", "profile", kind="viewed", occurred_at=at(7200))
        track(user, "wizard", "signup", occurred_at=at(3600))
        track(user, "wizard", "profile", kind="nudged", occurred_at=at(0))

        progress = Progress.objects.get()
        assert (progress.entered_at, progress.last_event_at) == (at(3600), at(7200))

    def test_updates_the_progress_timestamp(self, user):
        track(user, "wizard", "signup", occurred_at=at(0))
        first = Progress.objects.get().updated_at
        track(user, "wizard", "profile", occurred_at=at(10))

        assert Progress.objects.get().updated_at > first


class TestFirstCompletion:
    EVENTS = [
        ("profile", "viewed", 0),
        ("profile", "skipped", 1),
        ("invite", "dismissed", 3),
        ("signup", "completed", 10),
        ("signup", "completed", 5),
        ("project", "defaulted", 20),
        ("", "project_created", 25),
        ("project", "completed", 30),
        ("profile", "completed", 40),
        ("profile", "skipped", 45),
        ("publish", "completed", 50),
        ("publish", "nudged", 60),
    ]
    EXPECTED_STATES = [
        ("invite", "dismissed", None, None, at(3)),
        ("profile", "completed", at(40), at(0), at(45)),
        ("project", "defaulted", at(20), None, None),
        ("publish", "completed", at(50), None, None),
        ("signup", "completed", at(5), None, None),
    ]

    def inputs(self, who, order):
        return [
            EventInput(who=who, flow="wizard", step=step, kind=kind, occurred_at=at(seconds))
            for step, kind, seconds in order
        ]

    def test_state_follows_the_contract(self, user):
        for item in self.inputs(user, self.EVENTS):
            track(item.who, item.flow, item.step, kind=item.kind, occurred_at=item.occurred_at)

        got = snapshot(user)
        assert got["states"] == self.EXPECTED_STATES
        assert (got["entered_at"], got["last_event_at"], got["finished_at"]) == (
            at(0),
            at(60),
            at(50),
        )

    def test_any_arrival_order_gives_the_same_state(self):
        orders = [self.EVENTS, self.EVENTS[::-1]]
        shuffler = random.Random(20250106)
        for _ in range(12):
            orders.append(shuffler.sample(self.EVENTS, len(self.EVENTS)))
        snapshots = []
        for number, order in enumerate(orders):
            who = UserFactory()
            items = self.inputs(who, order)
            if number % 2:  # half one event at a time, half in batches of various sizes
                for item in items:
                    track_many([item])
            else:
                cut = shuffler.randrange(1, len(items))
                track_many(items[:cut])
                track_many(items[cut:])
            got = snapshot(who)
            got.pop("variant")  # depends on the subject, checked elsewhere
            snapshots.append(got)

        assert all(one == snapshots[0] for one in snapshots)
        assert snapshots[0]["states"] == self.EXPECTED_STATES

    @pytest.mark.parametrize(
        ("kinds", "outcome"),
        [
            (["completed", "defaulted"], "completed"),
            (["skipped", "dismissed"], "skipped"),
        ],
    )
    def test_ties_on_time_resolve_the_same_in_any_order(self, kinds, outcome):
        for order in (kinds, kinds[::-1]):
            who = UserFactory()
            for kind in order:
                track(who, "wizard", "profile", kind=kind, occurred_at=at(0))
            assert state(who, "profile").outcome == outcome

    def test_repeats_change_nothing(self, user):
        complete(user, "wizard", "signup", occurred_at=at(0))
        before = snapshot(user)
        complete(user, "wizard", "signup", occurred_at=at(100))
        track(user, "wizard", "signup", kind="defaulted", occurred_at=at(200))

        assert Event.objects.count() == 3
        after = snapshot(user)
        assert after["states"] == before["states"]
        assert after["last_event_at"] == at(200)

    def test_an_earlier_default_arriving_later_wins(self, user):
        complete(user, "wizard", "project", occurred_at=at(10))
        track(user, "wizard", "project", kind="defaulted", occurred_at=at(5))

        project = state(user, "project")
        assert (project.outcome, project.completed_at) == ("defaulted", at(5))

    @pytest.mark.parametrize(("not_done", "outcome"), [(skip, "skipped"), (dismiss, "dismissed")])
    def test_skip_and_dismiss_are_not_done_until_completed(self, user, not_done, outcome):
        not_done(user, "wizard", "signup", occurred_at=at(0))
        signup = state(user, "signup")
        assert (signup.outcome, signup.completed_at, signup.skipped_at) == (outcome, None, at(0))
        assert Progress.objects.get().finished_at is None

        complete(user, "wizard", "signup", occurred_at=at(10))
        signup = state(user, "signup")
        assert (signup.outcome, signup.completed_at) == ("completed", at(10))

    def test_a_skip_after_completion_leaves_it_done(self, user):
        complete(user, "wizard", "signup", occurred_at=at(0))
        skip(user, "wizard", "signup", occurred_at=at(10))

        signup = state(user, "signup")
        assert (signup.outcome, signup.completed_at, signup.skipped_at) == (
            "completed",
            at(0),
            at(10),
        )

    def test_a_custom_kind_completes_the_steps_declared_for_it(self, user):
        result = track(user, "wizard", kind="project_created", occurred_at=at(0))

        assert result.accepted == 1
        project = state(user, "project")
        assert (project.outcome, project.completed_at) == ("completed", at(0))
        assert StepState.objects.count() == 1

    def test_an_unclaimed_custom_kind_is_logged_only(self, user):
        track(user, "wizard", kind="opened_help", occurred_at=at(0))

        assert Event.objects.get().kind == "opened_help"
        assert StepState.objects.count() == 0
        assert Progress.objects.get().entered_at == at(0)

    def test_nudged_changes_no_step(self, user):
        track(user, "wizard", "profile", kind="nudged", occurred_at=at(0))

        assert Event.objects.get().kind == "nudged"
        assert StepState.objects.count() == 0

    def test_finished_when_every_required_step_is_done(self, user):
        for seconds, step in enumerate(["publish", "signup", "profile"]):
            complete(user, "wizard", step, occurred_at=at(seconds))
        assert Progress.objects.get().finished_at is None

        track(user, "wizard", "project", kind="defaulted", occurred_at=at(-5))

        # The optional "invite" is not needed; the finish time is the last required one.
        assert Progress.objects.get().finished_at == at(2)


class TestIdempotency:
    def test_the_same_event_id_is_stored_once(self, user):
        event_id = uuid.uuid4()
        first = track(user, "wizard", "signup", occurred_at=at(10), event_id=event_id)
        before = snapshot(user)
        again = track(user, "wizard", "signup", occurred_at=at(0), event_id=str(event_id))

        assert (first.accepted, first.duplicates) == (1, 0)
        assert (again.accepted, again.duplicates, again.event_ids) == (0, 1, [])
        assert Event.objects.count() == 1
        assert snapshot(user) == before

    def test_a_batch_counts_duplicates_inside_it_and_already_stored(self, user):
        known, repeated = uuid.uuid4(), uuid.uuid4()
        track(user, "wizard", "signup", occurred_at=at(0), event_id=known)

        result = track_many(
            [
                EventInput(user, "wizard", "profile", occurred_at=at(1), id=repeated),
                EventInput(user, "wizard", "profile", occurred_at=at(2), id=repeated),
                EventInput(user, "wizard", "signup", occurred_at=at(3), id=known),
                EventInput(user, "wizard", "project", occurred_at=at(4)),
            ]
        )

        assert (result.accepted, result.duplicates) == (2, 2)
        assert len(result.event_ids) == 2
        assert repeated in result.event_ids
        assert Event.objects.count() == 3
        assert state(user, "profile").completed_at == at(1)
        assert state(user, "signup").completed_at == at(0)

    def test_a_batch_of_many_subjects_and_flows(self, user, other_user):
        result = track_many(
            [
                EventInput(user, "wizard", "signup", occurred_at=at(0)),
                EventInput(other_user, "wizard", "signup", occurred_at=at(1)),
                EventInput(user, "checklist", "b", occurred_at=at(2)),
            ]
        )

        assert (result.accepted, result.duplicates) == (3, 0)
        assert Progress.objects.count() == 3
        assert state(other_user, "signup").completed_at == at(1)
        assert state(user, "b", flow="checklist").completed_at == at(2)

    def test_an_empty_batch_stores_nothing(self):
        result = track_many([])

        assert (result.accepted, result.duplicates, result.event_ids) == (0, 0, [])

    def test_a_batch_is_all_or_nothing(self, user):
        with pytest.raises(UnknownStep):
            track_many(
                [
                    EventInput(user, "wizard", "signup", occurred_at=at(0)),
                    EventInput(user, "wizard", "profile", occurred_at=at(1)),
                    EventInput(user, "wizard", "nope", occurred_at=at(2)),
                ]
            )

        assert Event.objects.count() == 0
        assert Progress.objects.count() == 0


class TestValidation:
    def test_unknown_flow_names_the_key(self, user):
        with pytest.raises(UnknownFlow, match="'nope'") as raised:
            track(user, "nope", "signup")

        assert raised.value.flow_key == "nope"

    def test_unknown_step_names_the_step_and_flow(self, user):
        with pytest.raises(UnknownStep, match=r"'nope'.*'wizard'") as raised:
            track(user, "wizard", "nope")

        assert (raised.value.flow_key, raised.value.step_key) == ("wizard", "nope")
        assert Event.objects.count() == 0

    @pytest.mark.parametrize("kind", ["Completed", "done!", "", "x" * 51, "1st"])
    def test_invalid_kind(self, user, kind):
        with pytest.raises(InvalidEvent) as raised:
            track(user, "wizard", "signup", kind=kind)

        assert raised.value.field == "kind"
        assert Event.objects.count() == 0

    @pytest.mark.parametrize("kind", ["completed", "defaulted", "skipped", "dismissed"])
    def test_step_kinds_need_a_step(self, user, kind):
        with pytest.raises(InvalidEvent, match="needs a step") as raised:
            track(user, "wizard", kind=kind)

        assert raised.value.field == "step"

    def test_properties_over_the_limit(self, user):
        with (
            override_settings(ONBOARDING={"MAX_PROPERTIES_BYTES": 20}),
            pytest.raises(InvalidEvent, match="over the limit of 20") as raised,
        ):
            track(user, "wizard", "signup", properties={"note": "x" * 20})

        assert raised.value.field == "properties"
        assert Event.objects.count() == 0

    def test_properties_at_the_limit_are_kept(self, user):
        properties = {"n": "x" * 12}  # {"n":"xxxxxxxxxxxx"} is 20 bytes
        with override_settings(ONBOARDING={"MAX_PROPERTIES_BYTES": 20}):
            track(user, "wizard", "signup", properties=properties)

        assert Event.objects.get().properties == properties

    @pytest.mark.parametrize("properties", [["a list"], {"when": object()}])
    def test_properties_must_be_a_json_object(self, user, properties):
        with pytest.raises(InvalidEvent) as raised:
            track(user, "wizard", "signup", properties=properties)

        assert raised.value.field == "properties"

    @pytest.mark.parametrize(
        ("properties", "message"),
        [
            ({"ratio": float("nan")}, "JSON-serializable"),
            ({"ratio": float("inf")}, "JSON-serializable"),
            ({"name": "a\x00b"}, "NUL"),
            ({"a\x00": 1}, "NUL"),
            ({"list": ["ok", {"deep": "\x00"}]}, "NUL"),
            ({"text": "\ud800"}, "JSON-serializable"),
        ],
    )
    def test_properties_no_database_can_store_are_refused(self, user, properties, message):
        with pytest.raises(InvalidEvent, match=message) as raised:
            track(user, "wizard", "signup", properties=properties)

        assert raised.value.field == "properties"
        assert Event.objects.count() == 0

    @pytest.mark.parametrize("event_id", ["not-a-uuid", "1234", 42])
    def test_event_id_must_be_a_uuid(self, user, event_id):
        with pytest.raises(InvalidEvent, match="is not a UUID") as raised:
            track(user, "wizard", "signup", event_id=event_id)

        assert raised.value.field == "id"
        assert Event.objects.count() == 0

    def test_a_future_time_past_the_skew_is_clamped_to_receipt(self, user):
        with override_settings(ONBOARDING={"MAX_FUTURE_SKEW_SECONDS": 60}):
            track(user, "wizard", "signup", occurred_at=timezone.now() + timedelta(hours=1))

        event = Event.objects.get()
        assert event.occurred_at == event.received_at
        assert state(user, "signup").completed_at == event.received_at

    def test_a_future_time_within_the_skew_is_kept(self, user):
        soon = timezone.now() + timedelta(seconds=30)
        with override_settings(ONBOARDING={"MAX_FUTURE_SKEW_SECONDS": 60}):
            track(user, "wizard", "signup", occurred_at=soon)

        assert Event.objects.get().occurred_at == soon

    def test_a_naive_time_is_read_in_the_current_time_zone(self, user):
        with timezone.override(zoneinfo.ZoneInfo("Europe/Paris")):
            track(user, "wizard", "signup", occurred_at=datetime(2025, 1, 6, 10, 0))

        assert Event.objects.get().occurred_at == datetime(2025, 1, 6, 9, 0, tzinfo=dt_timezone.utc)

    def test_occurred_at_must_be_a_datetime(self, user):
        with pytest.raises(InvalidEvent) as raised:
            track(user, "wizard", "signup", occurred_at="2025-01-06")

        assert raised.value.field == "occurred_at"

    def test_anonymous_users_are_refused(self):
        with pytest.raises(InvalidEvent, match="anonymous") as raised:
            track(AnonymousUser(), "wizard", "signup")

        assert raised.value.field == "subject"
        assert Event.objects.count() == 0

    @pytest.mark.parametrize("who", [None, "user1", UserFactory.build])
    def test_the_subject_must_be_a_saved_instance(self, who):
        with pytest.raises(InvalidEvent) as raised:
            track(who() if callable(who) else who, "wizard", "signup")

        assert raised.value.field == "subject"
        assert Progress.objects.count() == 0


class TestVariants:
    def test_assignment_is_deterministic(self):
        variants = {"shown": 1, "hidden": 1}
        first = [assign_variant("wizard", variants, f"7:{n}") for n in range(50)]

        assert first == [assign_variant("wizard", variants, f"7:{n}") for n in range(50)]
        assert set(first) == {"shown", "hidden"}

    @pytest.mark.parametrize(
        "weights", [{"shown": 1, "hidden": 1}, {"a": 1, "b": 3}, {"x": 10, "y": 20, "z": 70}]
    )
    def test_assignment_follows_the_weights(self, weights):
        counts = Counter(assign_variant("wizard", weights, f"7:{n}") for n in range(1000))

        total = sum(weights.values())
        for name, weight in weights.items():
            assert abs(counts[name] / 1000 - weight / total) < 0.04, counts

    def test_no_variants_gives_an_empty_name(self):
        assert assign_variant("checklist", {}, "7:1") == ""

    def test_recorded_on_progress_and_every_event(self, user):
        track(user, "wizard", "signup", occurred_at=at(0))
        track(user, "wizard", "profile", occurred_at=at(1))

        progress = Progress.objects.get()
        assert progress.variant in {"shown", "hidden"}
        assert progress.variant == assign_variant(
            "wizard", {"shown": 1, "hidden": 1}, f"{progress.subject_type_id}:{user.pk}"
        )
        assert list(Event.objects.values_list("variant", flat=True)) == [progress.variant] * 2

    def test_subjects_are_spread_over_the_variants(self):
        users = UserFactory.create_batch(40)
        track_many([EventInput(who, "wizard", "signup", occurred_at=at(0)) for who in users])

        counts = Counter(Progress.objects.values_list("variant", flat=True))
        assert set(counts) == {"shown", "hidden"}
        assert Counter(Event.objects.values_list("variant", flat=True)) == counts


@pytest.fixture
def failing_default_flow(declare):
    def create_then_fail(subject, actor):
        Project.objects.create(owner=subject, name="half-made")
        raise RuntimeError("the default failed")

    return declare(
        Flow(
            "fragile",
            "Fragile",
            steps=[Step("project", "Project", default=create_then_fail), Step("done", "Done")],
        )
    )


class TestAcceptDefault:
    def test_applies_the_default_and_records_defaulted(self, user):
        result = accept_default(user, "wizard", "project", occurred_at=at(0))

        assert result.accepted == 1
        assert list(Project.objects.values_list("owner", "name")) == [(user.pk, "Sample project")]
        event = Event.objects.get()
        assert (event.kind, event.step_key, event.actor) == ("defaulted", "project", user)
        project = state(user, "project")
        assert (project.outcome, project.completed_at) == ("defaulted", at(0))

    @pytest.mark.usefixtures("failing_default_flow")
    def test_a_failing_default_records_nothing(self, user):
        with pytest.raises(RuntimeError, match="the default failed"):
            accept_default(user, "fragile", "project")

        assert Project.objects.count() == 0
        assert Event.objects.count() == 0

    def test_a_refused_event_undoes_the_default(self, user):
        with pytest.raises(InvalidEvent):
            accept_default(user, "wizard", "project", event_id="not-a-uuid")

        assert Project.objects.count() == 0
        assert Event.objects.count() == 0

    def test_a_second_submit_keeps_what_the_first_made(self, user):
        accept_default(user, "wizard", "project", occurred_at=at(0))
        second = accept_default(user, "wizard", "project", occurred_at=at(5))

        assert second.accepted == 1
        assert Project.objects.count() == 1
        assert state(user, "project").completed_at == at(0)

    def test_a_step_done_by_hand_is_not_overwritten_by_the_default(self, user):
        track(user, "wizard", "project", occurred_at=at(0))
        accept_default(user, "wizard", "project", occurred_at=at(5))

        assert Project.objects.count() == 0
        assert state(user, "project").outcome == "completed"

    def test_a_step_without_default(self, user):
        with pytest.raises(NoDefault, match=r"'signup'.*'wizard'") as raised:
            accept_default(user, "wizard", "signup")

        assert (raised.value.flow_key, raised.value.step_key) == ("wizard", "signup")
        assert Event.objects.count() == 0
