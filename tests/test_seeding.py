"""``seed_funnel`` and ``manage.py onboarding_seed``: realistic synthetic funnels."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timezone
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Min

from onboarding.models import Event, Progress, StepState
from onboarding.seeding import seed_funnel
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)
# wizard: signup, profile, project (has a default), invite (optional), publish.
RATES = [1.0, 0.9, 0.8, 0.5, 0.7]
COMPLETING = ["completed", "defaulted", "project_created"]


def seed(users, **options):
    options = {"conversion": RATES, "days": 30, "now": NOW, "rng_seed": 1, **options}
    return seed_funnel("wizard", users, **options)


def event_log() -> set[tuple]:
    return set(Event.objects.values_list("id", "subject_id", "step_key", "kind", "occurred_at"))


def forget_everything() -> None:
    Event.objects.all().delete()
    Progress.objects.all().delete()


def reach(variant: str | None = None) -> dict[str, float]:
    """Share of entered subjects that completed each step."""
    progress = Progress.objects.filter(flow__key="wizard")
    if variant is not None:
        progress = progress.filter(variant=variant)
    entered = progress.count()
    done = StepState.objects.filter(progress__in=progress, completed_at__isnull=False)
    return {
        step: done.filter(step_key=step).count() / entered
        for step in ["signup", "profile", "project", "invite", "publish"]
    }


def test_the_same_seed_gives_the_same_events():
    users = UserFactory.create_batch(30)
    first = seed(users)
    log = event_log()
    assert first.subjects == 30
    assert first.accepted == len(log) > 60

    forget_everything()
    assert seed(users) == first
    assert event_log() == log

    forget_everything()
    seed(users, rng_seed=2)
    assert event_log().isdisjoint(log)


def test_seeding_twice_stores_nothing_new():
    users = UserFactory.create_batch(20)
    first = seed(users)
    again = seed(users)
    assert again.accepted == 0
    assert again.duplicates == again.events_sent == first.events_sent
    assert Event.objects.count() == first.accepted


def test_reach_follows_the_conversion_rates_of_each_variant():
    users = UserFactory.create_batch(600)
    seed(users, conversion={"shown": RATES, "hidden": [1.0, 0.9, 0.5, 0.5, 0.7]})

    overall = reach()
    assert overall["signup"] == pytest.approx(1.0, abs=0.01)
    assert overall["profile"] == pytest.approx(0.9, abs=0.04)
    # The optional invite step does not gate publish: both follow project.
    assert overall["invite"] == pytest.approx(overall["project"] * 0.5, abs=0.05)
    assert overall["publish"] == pytest.approx(overall["project"] * 0.7, abs=0.05)

    shown, hidden = reach("shown"), reach("hidden")
    assert shown["project"] == pytest.approx(0.9 * 0.8, abs=0.08)
    assert hidden["project"] == pytest.approx(0.9 * 0.5, abs=0.08)
    assert shown["publish"] == pytest.approx(0.9 * 0.8 * 0.7, abs=0.08)
    assert hidden["publish"] == pytest.approx(0.9 * 0.5 * 0.7, abs=0.08)


def test_step_durations_center_on_the_estimates():
    users = UserFactory.create_batch(200)
    seed(users, conversion=[1.0] * 5, tail_share=0.0, repeat_share=0.0)
    times: dict[str, dict[str, datetime]] = defaultdict(dict)
    for subject_id, step, at in StepState.objects.filter(completed_at__isnull=False).values_list(
        "progress__subject_id", "step_key", "completed_at"
    ):
        times[subject_id][step] = at
    # profile is estimated at 40 s, project at 60 s: the median duration is the estimate.
    profile = [(t["profile"] - t["signup"]).total_seconds() for t in times.values()]
    project = [(t["project"] - t["profile"]).total_seconds() for t in times.values()]
    assert 32 <= statistics.median(profile) <= 48
    assert 48 <= statistics.median(project) <= 72
    assert min(profile) > 0 and max(profile) < 40 * 8


def test_duplicates_are_counted_and_not_stored_twice():
    users = UserFactory.create_batch(40)
    summary = seed(users, duplicate_share=0.3, batch_size=25)
    assert summary.duplicates > 20
    assert summary.events_sent == summary.accepted + summary.duplicates
    assert Event.objects.count() == summary.accepted


def test_late_batches_still_give_first_completion_times():
    users = UserFactory.create_batch(40)
    summary = seed(users, out_of_order_share=1.0, repeat_share=0.5, batch_size=15)
    assert summary.batches > 5

    events = list(
        Event.objects.values("subject_id", "step_key", "kind", "occurred_at", "received_at")
    )
    by_subject = defaultdict(list)
    for event in events:
        by_subject[event["subject_id"]].append(event)
    # It did arrive out of order: an earlier event was received after a later one.
    assert any(
        earlier["occurred_at"] < later["occurred_at"]
        and earlier["received_at"] > later["received_at"]
        for subject_events in by_subject.values()
        for earlier in subject_events
        for later in subject_events
    )
    first_completion = {
        (row["subject_id"], row["step_key"]): row["first"]
        for row in Event.objects.filter(kind__in=COMPLETING)
        .values("subject_id", "step_key")
        .annotate(first=Min("occurred_at"))
    }
    completed = {
        (subject_id, step): at
        for subject_id, step, at in StepState.objects.filter(
            completed_at__isnull=False
        ).values_list("progress__subject_id", "step_key", "completed_at")
    }
    assert completed == first_completion
    # Some steps were done again later; the repeat did not move the step's time.
    repeated = Event.objects.filter(kind__in=COMPLETING).count() - len(first_completion)
    assert repeated > 0
    for progress in Progress.objects.all():
        subject_events = by_subject[progress.subject_id]
        assert progress.entered_at == min(event["occurred_at"] for event in subject_events)


def test_defaults_only_on_steps_that_have_one_and_views_on_reached_steps():
    users = UserFactory.create_batch(30)
    seed(users, default_share=1.0, viewed_share=1.0, conversion=[1.0] * 5, repeat_share=0.0)
    assert set(Event.objects.filter(kind="defaulted").values_list("step_key", flat=True)) == {
        "project"
    }
    outcomes = set(StepState.objects.filter(step_key="project").values_list("outcome", flat=True))
    assert outcomes == {"defaulted"}
    # Steps without a default complete with their own event: completed_by or "completed".
    assert Event.objects.filter(step_key="signup", kind="completed").count() == 30
    for step in ["signup", "profile", "project", "invite", "publish"]:
        assert Event.objects.filter(step_key=step, kind="viewed").count() == 30


def test_subjects_that_never_complete_the_first_step_still_enter():
    users = UserFactory.create_batch(10)
    seed(users, conversion=[0.0] * 5, viewed_share=0.0)
    assert Progress.objects.count() == 10
    assert set(Event.objects.values_list("step_key", "kind")) == {("signup", "viewed")}
    assert not StepState.objects.filter(completed_at__isnull=False).exists()


@pytest.mark.parametrize(
    ("conversion", "message"),
    [
        ({"shown": RATES}, r"no rates for variants of 'wizard': \['hidden'\]"),
        ({"shown": RATES, "hidden": RATES, "blue": RATES}, r"unknown variants .*\['blue'\]"),
        ([1.0, 0.5], r"conversion has 2 rates; flow 'wizard' has 5 steps"),
        ([1.0, 0.5, 1.5, 1.0, 1.0], r"conversion for step 'project' must be between 0 and 1"),
    ],
)
def test_bad_conversion_is_refused_naming_what_is_wrong(user, conversion, message):
    with pytest.raises(ValueError, match=message):
        seed([user], conversion=conversion)
    assert not Event.objects.exists()


def test_bad_shares_are_refused(user):
    with pytest.raises(ValueError, match="duplicate_share must be between 0 and 1"):
        seed([user], duplicate_share=2)
    with pytest.raises(ValueError, match=r"default_share has no value .*\['shown'\]"):
        seed([user], default_share={"hidden": 0.5})


def test_seed_command_creates_users_fast_and_seeds_them():
    out = StringIO()
    call_command("onboarding_seed", flow="wizard", count=25, prefix="try-", seed=3, stdout=out)
    assert "Seeded 25 subjects of flow 'wizard'" in out.getvalue()
    users = get_user_model().objects.filter(username__startswith="try-")
    assert sorted(users.values_list("username", flat=True)) == sorted(
        f"try-{number}" for number in range(1, 26)
    )
    assert not any(user.has_usable_password() for user in users)
    assert Progress.objects.filter(flow__key="wizard").count() == 25
    # Users joined when they entered the funnel.
    progress = Progress.objects.get(subject_id=str(users[0].pk))
    assert users[0].date_joined == progress.entered_at

    call_command(
        "onboarding_seed",
        flow="wizard",
        count=5,
        prefix="try-",
        password="s3cret-pass",
        conversion=["shown=1,1,1,1,1", "0,0,0,0,0"],
        stdout=StringIO(),
    )
    newcomers = get_user_model().objects.filter(username__in=[f"try-{n}" for n in range(26, 31)])
    assert newcomers.count() == 5
    assert all(user.check_password("s3cret-pass") for user in newcomers)
    # The named variant converts at every step, the others at none.
    for user in newcomers:
        progress = Progress.objects.get(subject_id=str(user.pk))
        done = set(
            progress.step_states.filter(completed_at__isnull=False).values_list(
                "step_key", flat=True
            )
        )
        assert ("signup" in done) == (progress.variant == "shown")
        assert done <= {"signup", "profile", "project", "invite", "publish"}


def test_seed_command_names_bad_input():
    with pytest.raises(CommandError, match="Unknown onboarding flow 'nope'"):
        call_command("onboarding_seed", flow="nope", count=5)
    with pytest.raises(CommandError, match=r"unknown variants .*\['blue'\]"):
        call_command("onboarding_seed", flow="wizard", count=5, conversion=["blue=1,1,1,1,1"])
    with pytest.raises(CommandError, match="Rates must be numbers"):
        call_command("onboarding_seed", flow="wizard", count=5, conversion=["1,x"])
    assert not get_user_model().objects.filter(username__startswith="seed-").exists()
