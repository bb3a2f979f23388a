"""Concurrent ``track`` calls on PostgreSQL: one progress row, each event once, no deadlock."""

import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection

from onboarding import EventInput, TrackResult, signals, track_many
from onboarding.models import Event, FlowRecord, FlowVersion, Progress
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=dt_timezone.utc)
THREADS = 6
# (step, kind, seconds after T0): enough to finish the wizard, with repeats and a skip.
EVENTS = [
    ("signup", "viewed", 0),
    ("signup", "completed", 5),
    ("signup", "completed", 3),
    ("profile", "skipped", 8),
    ("profile", "completed", 12),
    ("project", "defaulted", 20),
    ("project", "completed", 15),
    ("invite", "dismissed", 22),
    ("publish", "completed", 30),
]


def inputs(who, ids: list[uuid.UUID]) -> list[EventInput]:
    return [
        EventInput(who, "wizard", step, kind=kind, occurred_at=T0 + timedelta(seconds=s), id=id_)
        for (step, kind, s), id_ in zip(EVENTS, ids, strict=True)
    ]


def snapshot(who) -> dict:
    progress = Progress.objects.get(flow__key="wizard", subject_id=str(who.pk))
    return {
        "entered_at": progress.entered_at,
        "last_event_at": progress.last_event_at,
        "finished_at": progress.finished_at,
        "states": sorted(
            (s.step_key, s.outcome, s.completed_at, s.first_seen_at, s.skipped_at)
            for s in progress.step_states.all()
        ),
    }


def in_threads(count: int, work: Callable[[int], TrackResult]) -> list[TrackResult]:
    """Run ``work(n)`` in ``count`` threads started together, each on its own connection."""
    barrier = threading.Barrier(count)
    results: list[TrackResult] = []
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(work(number))
        except BaseException as error:  # reported by the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a tracking thread hung"
    assert errors == []
    return results


def test_the_same_events_sent_at_once_are_stored_once():
    user = UserFactory()
    ids = [uuid.uuid4() for _ in EVENTS]

    def resend(number: int) -> TrackResult:
        # Every thread sends all events, in its own order and batch sizes.
        shuffled = random.Random(number).sample(inputs(user, ids), len(EVENTS))
        cut = 1 + number % (len(EVENTS) - 1)
        first, second = track_many(shuffled[:cut]), track_many(shuffled[cut:])
        return TrackResult(first.accepted + second.accepted, first.duplicates + second.duplicates)

    results = in_threads(THREADS, resend)

    assert sum(result.accepted for result in results) == len(EVENTS)
    assert sum(result.duplicates for result in results) == (THREADS - 1) * len(EVENTS)
    assert Progress.objects.count() == 1
    assert sorted(Event.objects.values_list("id", flat=True)) == sorted(ids)

    sequential = UserFactory()
    track_many(inputs(sequential, [uuid.uuid4() for _ in EVENTS]))
    assert snapshot(user) == snapshot(sequential)
    assert snapshot(user)["finished_at"] == T0 + timedelta(seconds=30)


def test_the_first_events_of_a_flow_not_yet_synced():
    FlowRecord.objects.all().delete()  # as after deploying a new flow without migrate
    users = UserFactory.create_batch(THREADS)

    results = in_threads(
        THREADS,
        lambda n: track_many(inputs(users[n], [uuid.uuid4() for _ in EVENTS])),
    )

    assert [result.accepted for result in results] == [len(EVENTS)] * THREADS
    assert FlowRecord.objects.filter(key="wizard").count() == 1
    assert FlowRecord.objects.get(key="wizard").versions.count() == 1
    assert Progress.objects.count() == THREADS


@pytest.mark.parametrize("existing", [0, 2], ids=["all-new", "half-existing"])
def test_batches_over_the_same_subjects_in_any_order_do_not_deadlock(existing):
    users = UserFactory.create_batch(6)
    # Subjects with progress already are locked; the others are created by the batches.
    for who in users[:existing]:
        track_many([EventInput(who, "wizard", "signup", kind="viewed", occurred_at=T0)])

    def batch(number: int) -> TrackResult:
        order = users if number % 2 else users[::-1]
        return track_many(
            [
                EventInput(who, "wizard", "signup", occurred_at=T0 + timedelta(seconds=number))
                for who in order
            ]
        )

    results = in_threads(THREADS, batch)

    assert sum(result.accepted for result in results) == THREADS * len(users)
    assert Progress.objects.count() == len(users)
    for who in users:
        assert snapshot(who)["states"][0][:3] == ("signup", "completed", T0)


def test_one_event_id_sent_for_two_subjects_at_once_acts_for_the_stored_one_only():
    first, second = UserFactory.create_batch(2)
    event_id = uuid.uuid4()
    stored = threading.Event()

    def hold(sender, subject, **kwargs):
        # The first batch keeps its transaction open while the second one inserts the
        # same id (it waits for this one's outcome inside the database).
        if subject == first:
            stored.set()
            time.sleep(1)

    def send(number: int) -> TrackResult:
        if number == 1:
            stored.wait(timeout=10)
        who = (first, second)[number]
        return track_many([EventInput(who, "wizard", "signup", occurred_at=T0, id=event_id)])

    signals.step_completed.connect(hold)
    try:
        results = in_threads(2, send)
    finally:
        signals.step_completed.disconnect(hold)

    assert sorted((r.accepted, r.duplicates) for r in results) == [(0, 1), (1, 0)]
    assert list(Event.objects.values_list("id", "subject_id")) == [(event_id, str(first.pk))]
    assert snapshot(first)["states"] == [("signup", "completed", T0, None, None)]
    # The duplicate did not make the other subject enter the flow.
    assert not Progress.objects.filter(subject_id=str(second.pk)).exists()


def test_a_flow_record_changed_under_a_running_process_is_read_again():
    users = UserFactory.create_batch(2)
    track_many([EventInput(users[0], "wizard", "signup", occurred_at=T0)])
    # Another process made a new current version (same steps) of the flow this process
    # remembers: new subjects start on it.
    record = FlowRecord.objects.get(key="wizard")
    old = record.current_version
    new = FlowVersion.objects.create(
        flow=record, number=old.number + 1, fingerprint=old.fingerprint, steps=old.steps
    )
    FlowRecord.objects.filter(pk=record.pk).update(current_version=new)

    result = track_many([EventInput(users[1], "wizard", "signup", occurred_at=T0)])

    assert result.accepted == 1
    versions = dict(Progress.objects.values_list("subject_id", "version_id"))
    assert versions == {str(users[0].pk): old.pk, str(users[1].pk): new.pk}
    assert Event.objects.get(subject_id=str(users[1].pk)).version_id == new.pk
    assert snapshot(users[1])["states"] == [("signup", "completed", T0, None, None)]
