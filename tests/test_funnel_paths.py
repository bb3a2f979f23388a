"""The funnel's per-subject rows (``FunnelPath``) stay equal to progress and step states.

``track_many`` writes each row in its transaction; ``rebuild_paths`` derives it from
Progress and StepState again. Both must agree after every kind of write, and the
funnel must count from them what the step states say.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import NotSupportedError
from django.forms.models import model_to_dict

from onboarding import EventInput, Flow, Step, track, track_many
from onboarding.erase import erase_subject
from onboarding.funnel import FunnelQuery
from onboarding.funnel.pathmodel import MAX_STEPS, FunnelPath
from onboarding.funnel.paths import rebuild_paths
from onboarding.funnel.timeutil import to_us
from onboarding.models import Progress
from tests.factories import UserFactory

T = datetime(2024, 3, 4, 9, 0, tzinfo=ZoneInfo("UTC"))
H = timedelta(hours=1)
US = 1_000_000
WIZARD = ("signup", "profile", "project", "invite", "publish")


def rows() -> dict[int, dict[str, object]]:
    return {
        path.pk: model_to_dict(path, exclude=["progress"])
        for path in FunnelPath.objects.order_by("pk")
    }


def times(row: dict[str, object], count: int = len(WIZARD)) -> list[object]:
    return [row[f"t{p}"] for p in range(count)]


def assert_rebuilt_rows_equal(maintained: dict[int, dict[str, object]]) -> None:
    FunnelPath.objects.all().delete()
    assert rebuild_paths() == len(maintained)
    assert rows() == maintained


def test_track_writes_the_row_of_each_step_outcome(db):
    user = UserFactory()
    track(user, "wizard", "signup", kind="completed", occurred_at=T)
    track(user, "wizard", "profile", kind="defaulted", occurred_at=T + H)
    track(user, "wizard", "invite", kind="skipped", occurred_at=T + 2 * H)
    track(user, "wizard", "project", kind="viewed", occurred_at=T + 3 * H)

    (row,) = rows().values()
    progress = Progress.objects.get()
    assert row["flow"] == progress.flow_id
    assert row["version"] == progress.version_id
    assert row["variant"] == progress.variant != ""
    assert row["entered"] == to_us(T)
    assert times(row) == [to_us(T), to_us(T + H), None, None, None]
    assert row["defaulted"] == 0b10  # profile, position 1
    assert_rebuilt_rows_equal(rows())


def test_out_of_order_re_sent_and_repeated_events_keep_first_completions(db):
    user = UserFactory()
    late, early = uuid.uuid4(), uuid.uuid4()
    track(user, "wizard", "profile", kind="completed", occurred_at=T + 5 * H, event_id=late)
    # An earlier event arrives later: entry and the first completion move back.
    track_many(
        [
            EventInput(user, "wizard", "signup", kind="viewed", occurred_at=T - H),
            EventInput(user, "wizard", "profile", kind="defaulted", occurred_at=T + H, id=early),
            EventInput(user, "wizard", "profile", kind="completed", occurred_at=T + 9 * H),
        ]
    )
    # Re-sent ids change nothing, even with other content.
    track(user, "wizard", "publish", kind="completed", occurred_at=T, event_id=late)
    track(user, "wizard", "profile", kind="completed", occurred_at=T, event_id=early)

    (row,) = rows().values()
    assert row["entered"] == to_us(T - H)
    assert times(row) == [None, to_us(T + H), None, None, None]
    assert row["defaulted"] == 0b10
    assert_rebuilt_rows_equal(rows())


def test_a_batch_of_many_subjects_writes_one_row_each(db):
    users = UserFactory.create_batch(4)
    track_many(
        EventInput(user, "wizard", step, occurred_at=T + n * H + index * timedelta(seconds=1))
        for n, user in enumerate(users)
        for index, step in enumerate(WIZARD[: n + 1])
    )
    maintained = rows()
    assert sorted(sum(t is not None for t in times(row)) for row in maintained.values()) == [
        1,
        2,
        3,
        4,
    ]
    assert_rebuilt_rows_equal(maintained)


def test_erasure_keeps_the_row_and_the_counts(db):
    user, other = UserFactory.create_batch(2)
    for who in (user, other):
        track(who, "wizard", "signup", occurred_at=T)
        track(who, "wizard", "profile", occurred_at=T + H)
    before, result = rows(), FunnelQuery(flow="wizard", use_rollup=False).run()

    erase_subject(user)

    assert rows() == before
    after = FunnelQuery(flow="wizard", use_rollup=False).run()
    assert [s.reached for s in after.steps] == [s.reached for s in result.steps] == [2, 2, 0, 0, 0]


def test_deleting_progress_deletes_its_row(db):
    track(UserFactory(), "wizard", "signup", occurred_at=T)
    Progress.objects.all().delete()
    assert not FunnelPath.objects.exists()


def test_versions_with_steps_in_other_places_are_counted_by_key(db, declare):
    declare(Flow(key="moved", title="Moved", steps=[Step("a", "A"), Step("b", "B")]))
    old = UserFactory()
    track(old, "moved", "a", occurred_at=T)
    track(old, "moved", "b", kind="defaulted", occurred_at=T + H)
    # Version 2 puts a new step first: "a" and "b" move one place on.
    declare(
        Flow(key="moved", title="Moved", steps=[Step("z", "Z"), Step("a", "A"), Step("b", "B")])
    )
    new = UserFactory()
    track(new, "moved", "z", occurred_at=T)
    track(new, "moved", "a", occurred_at=T + H)
    track(new, "moved", "b", kind="defaulted", occurred_at=T + 3 * H)

    result = FunnelQuery(flow="moved", use_rollup=False).run()
    # The old subject is measured against its version's steps (a, then b), lined up by
    # key: it never had z, and reaches a and b all the same.
    assert [(s.key, s.reached, s.defaulted) for s in result.steps] == [
        ("z", 1, 0),
        ("a", 2, 0),
        ("b", 2, 2),
    ]
    # b took an hour after a (old) and two hours (new).
    assert (result.step("b").median_time, result.step("b").p90_time) == (H, 2 * H)
    by_version = FunnelQuery(flow="moved", use_rollup=False, breakdown="version").run()
    assert by_version.groups["1"].entered == 1
    assert [(s.key, s.reached) for s in by_version.groups["1"].steps] == [("a", 1), ("b", 1)]
    assert [s.reached for s in by_version.groups["2"].steps] == [1, 1, 1]
    assert_rebuilt_rows_equal(rows())


def test_any_order_versions_map_each_key_to_its_column(db, declare):
    steps = [Step("a", "A"), Step("b", "B")]
    declare(Flow(key="list", title="List", ordered=False, steps=steps))
    old = UserFactory()
    track(old, "list", "b", kind="defaulted", occurred_at=T + H)
    track(old, "list", "a", occurred_at=T)
    declare(Flow(key="list", title="List", ordered=False, steps=[Step("c", "C"), *steps]))
    new = UserFactory()
    track(new, "list", "b", occurred_at=T + 2 * H)

    result = FunnelQuery(flow="list", use_rollup=False).run()
    assert [(s.key, s.reached, s.defaulted) for s in result.steps] == [
        ("c", 0, 0),
        ("a", 1, 0),
        ("b", 2, 1),
    ]
    # From entry: the old subject entered with "a" an hour before "b"; the new one with "b".
    assert (result.step("b").median_time, result.step("b").p90_time) == (timedelta(0), H)


def test_the_command_rebuilds_missing_rows(db):
    for user in UserFactory.create_batch(3):
        track(user, "wizard", "signup", occurred_at=T)
        track(user, "wizard", "profile", kind="defaulted", occurred_at=T + H)
    maintained = rows()
    FunnelPath.objects.all().delete()
    assert FunnelQuery(flow="wizard", use_rollup=False).run().entered == 0

    out = io.StringIO()
    call_command("onboarding_funnel_paths", "wizard", stdout=out)

    assert out.getvalue().strip() == "3 funnel rows rebuilt"
    assert rows() == maintained
    assert FunnelQuery(flow="wizard", use_rollup=False).run().step("profile").defaulted == 3


def test_the_row_has_a_column_for_each_supported_step():
    fields = {field.name for field in FunnelPath._meta.get_fields()}
    assert {f"t{p}" for p in range(MAX_STEPS)} <= fields
    assert f"t{MAX_STEPS}" not in fields


@pytest.mark.parametrize("count", [MAX_STEPS, MAX_STEPS + 1])
def test_flows_past_the_step_limit_are_refused_by_the_exact_path(db, declare, count):
    steps = [Step(f"s{n}", f"S{n}") for n in range(count)]
    declare(Flow(key="long", title="Long", steps=steps))
    user = UserFactory()
    track(user, "long", "s0", occurred_at=T)
    track(user, "long", f"s{MAX_STEPS - 1}", kind="defaulted", occurred_at=T + H)
    query = FunnelQuery(flow="long", use_rollup=False)
    if count > MAX_STEPS:
        with pytest.raises(NotSupportedError, match=f"has {count} steps; at most 62"):
            query.run()
        return
    result = query.run()
    assert result.steps[-1].defaulted == 0  # not reached in order, but stored
    (row,) = rows().values()
    assert row["defaulted"] == 1 << (MAX_STEPS - 1)
    assert row[f"t{MAX_STEPS - 1}"] == to_us(T + H)


def test_databases_without_a_funnel_dialect_rebuild_through_the_models(db):
    from onboarding.funnel.paths import _rebuild_with_models

    for index, user in enumerate(UserFactory.create_batch(3)):
        track(user, "wizard", "signup", occurred_at=T)
        track(user, "wizard", WIZARD[1 + index], kind="defaulted", occurred_at=T + H)
    maintained = rows()
    FunnelPath.objects.all().delete()
    versions = list(Progress.objects.values_list("version_id", flat=True).distinct())

    assert _rebuild_with_models(versions, "default", chunk=2) == 3
    assert rows() == maintained
