"""The write path keeps what was sent: remembered flow records are checked by key, JSON
properties keep their types, a new subject's entry comes from its stored events only,
and an over-long subject key is refused. (Found by review; each failed before its fix.)"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.management import call_command

from onboarding import EventInput, track_many
from onboarding.exceptions import InvalidEvent
from onboarding.funnel.pathmodel import FunnelPath
from onboarding.models import Event, Progress
from onboarding.subjects import MAX_SUBJECT_ID, ref
from tests.factories import UserFactory

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=dt_timezone.utc)


def ev(who, step, kind="completed", s=0, flow="wizard", **options):
    return EventInput(who, flow, step, kind=kind, occurred_at=T0 + timedelta(seconds=s), **options)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_remembered_flow_records_are_checked_by_key_after_a_flush_reuses_their_ids():
    call_command("flush", interactive=False, verbosity=0)  # sequences restart at 1
    user = UserFactory()
    track_many([ev(user, "a", flow="checklist")])  # checklist: flow 1
    track_many([ev(user, "signup")])  # wizard: flow 2
    call_command("flush", interactive=False, verbosity=0)
    user = UserFactory()
    track_many([ev(user, "signup")])  # wizard is flow 1 now
    track_many([ev(user, "a", flow="checklist")])

    assert sorted(Event.objects.values_list("flow__key", "step_key")) == [
        ("checklist", "a"),
        ("wizard", "signup"),
    ]


@pytest.mark.django_db
def test_properties_equal_in_python_but_not_in_json_are_stored_as_sent():
    user = UserFactory()
    track_many(
        [
            ev(user, "signup", "viewed", s=0, properties={"flag": True, "n": 1}),
            ev(user, "profile", "viewed", s=1, properties={"flag": 1, "n": 1.0}),
        ]
    )

    stored = dict(Event.objects.values_list("step_key", "properties"))
    assert stored == {"signup": {"flag": True, "n": 1}, "profile": {"flag": 1, "n": 1.0}}
    assert type(stored["signup"]["flag"]) is bool
    assert type(stored["profile"]["flag"]) is int
    assert type(stored["profile"]["n"]) is float


@pytest.mark.django_db
def test_a_new_subjects_entry_ignores_an_id_that_belongs_to_another_subject():
    first, second = UserFactory.create_batch(2)
    taken = uuid.uuid4()
    track_many([ev(first, "signup", s=0, id=taken)])

    result = track_many(
        [ev(second, "signup", "viewed", s=-3600, id=taken), ev(second, "signup", s=60)]
    )

    assert (result.accepted, result.duplicates) == (1, 1)
    progress = Progress.objects.get(subject_id=str(second.pk))
    assert progress.entered_at == progress.last_event_at == T0 + timedelta(seconds=60)
    path = FunnelPath.objects.get(progress=progress)
    assert path.entered == int((T0 + timedelta(seconds=60)).timestamp() * 1_000_000)


@pytest.mark.django_db
def test_a_subject_key_longer_than_the_column_is_refused_not_cut(monkeypatch):
    user = UserFactory()
    monkeypatch.setattr(user, "pk", "x" * (MAX_SUBJECT_ID + 1))

    with pytest.raises(InvalidEvent, match="longer than 64 characters"):
        ref(user)


@pytest.mark.django_db
@pytest.mark.parametrize("returning", [True, False], ids=["insert-returning", "fallback"])
def test_without_the_pipelined_write_new_events_go_in_by_id(monkeypatch, returning):
    """Where the pipelined write does not run (routers split the models, no pipeline
    support), events go in by id, as they do in the pipeline, so that two batches sharing
    ids wait for each other instead of deadlocking: through ``insert_new`` or, without
    ``INSERT ... RETURNING``, through ``bulk_create`` after reading the known ids."""
    from onboarding import tracking

    monkeypatch.setattr(tracking, "_write_pipelined", lambda prepared, check: None)
    inserted: list[list[uuid.UUID]] = []
    if returning:
        insert_new = tracking.insert_new

        def recording_insert(events, batch_size):
            inserted.append([event.id for event in events])
            return insert_new(events, batch_size=batch_size)

        monkeypatch.setattr(tracking, "insert_new", recording_insert)
    else:
        monkeypatch.setattr(tracking, "insert_new", lambda events, batch_size: None)
        create = Event.objects.bulk_create

        def recording_create(objs, **options):
            inserted.append([event.id for event in objs])
            return create(objs, **options)

        monkeypatch.setattr(Event.objects, "bulk_create", recording_create)
    user = UserFactory()
    # Sent in descending order, so that keeping the order sent can never pass.
    ids = sorted((uuid.uuid4() for _ in range(6)), reverse=True)
    track_many([ev(user, "signup", s=i, id=ids[i]) for i in range(4)])
    track_many([ev(user, "profile", s=10 + i, id=ids[i]) for i in range(2, 6)])

    # insert_new is handed the whole batch (duplicates are its to skip); the fallback
    # inserts only the ids it did not find.
    second = sorted(ids[2:]) if returning else sorted(ids[4:])
    assert inserted == [sorted(ids[:4]), second]
    assert Event.objects.count() == 6
