"""FunnelQuery: validation, and exact numbers on small hand-made logs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from onboarding import Flow, Step, UnknownFlow, track
from onboarding.funnel import FunnelQuery
from tests.factories import UserFactory

UTC = ZoneInfo("UTC")
T = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)


def done(user, step, at, kind="completed", flow="wizard"):
    track(user, flow, step, kind=kind, occurred_at=at)


@pytest.fixture
def wizard_log(db):
    """Five subjects of the ordered wizard (signup, profile, project, invite?, publish)."""
    users = UserFactory.create_batch(5)
    u1, u2, u3, u4, u5 = users
    for step, at, kind in [
        ("signup", T, "completed"),
        ("profile", T + H, "defaulted"),
        ("project", T + 2 * H, "completed"),
        ("invite", T + 3 * H, "completed"),
        ("publish", T + 4 * H, "completed"),
    ]:
        done(u1, step, at, kind)
    # No invite: the optional step does not gate publish.
    for step, at, kind in [
        ("signup", T, "completed"),
        ("profile", T + H / 2, "completed"),
        ("project", T + H, "defaulted"),
        ("publish", T + 2 * H, "completed"),
    ]:
        done(u2, step, at, kind)
    # Project before profile: out of order, so neither project nor publish count.
    done(u3, "signup", T)
    done(u3, "project", T + H)
    done(u3, "profile", T + 2 * H)
    done(u3, "publish", T + 3 * H)
    # Profile 15 days after entry: outside the 14-day window.
    done(u4, "signup", T)
    done(u4, "profile", T + timedelta(days=15))
    # Only looked.
    track(u5, "wizard", "signup", kind="viewed", occurred_at=T)
    return users


def test_unknown_flow_is_refused():
    with pytest.raises(UnknownFlow, match="nope"):
        FunnelQuery(flow="nope")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"breakdown": "country"}, "Unknown breakdown 'country'; use one of variant, version"),
        ({"window_days": 0}, "window_days must be at least 1"),
        ({"window_days": 1.5}, "window_days must be a whole number"),
        ({"entered_from": datetime(2024, 1, 1, tzinfo=UTC)}, "entered_from must be a date"),
        ({"entered_from": date(2024, 2, 2), "entered_to": date(2024, 2, 1)}, "is after"),
        ({"variants": "shown"}, "variants must be a sequence of names"),
        ({"versions": [0]}, "versions must hold version numbers"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        FunnelQuery(flow="wizard", **options)


def test_options_are_keyword_only_and_lists_become_tuples():
    with pytest.raises(TypeError):
        FunnelQuery("wizard")  # type: ignore[misc]
    query = FunnelQuery(flow="wizard", variants=["shown"], versions=[1])
    assert query.variants == ("shown",)
    assert query.versions == (1,)
    assert hash(query) == hash(FunnelQuery(flow="wizard", variants=("shown",), versions=(1,)))
    assert query.effective_window_days == 14
    assert FunnelQuery(flow="wizard", window_days=3).effective_window_days == 3


def test_ordered_funnel_numbers(wizard_log):
    result = FunnelQuery(flow="wizard").run()
    assert (result.entered, result.finished, result.finish_rate) == (5, 2, 0.4)
    assert result.median_time_to_finish == 2 * H  # finish times 2 h and 4 h, nearest rank 1
    assert result.p90_time_to_finish == 4 * H
    rows = {
        step.key: (
            step.previous,
            step.reached,
            step.conversion_from_previous,
            step.conversion_from_entry,
            step.drop_off,
            step.defaulted,
            step.defaulted_share,
            step.median_time,
            step.p90_time,
        )
        for step in result.steps
    }
    assert rows == {
        "signup": (None, 4, 0.8, 0.8, 1, 0, 0.0, timedelta(0), timedelta(0)),
        "profile": ("signup", 3, 0.75, 0.6, 1, 1, 1 / 3, H, 2 * H),
        "project": ("profile", 2, 2 / 3, 0.4, 1, 1, 0.5, H / 2, H),
        # An optional step is measured from the previous required step.
        "invite": ("project", 1, 0.5, 0.2, 1, 0, 0.0, H, H),
        # ... and so is the step after it: publish counts from project, not invite.
        "publish": ("project", 2, 1.0, 0.4, 0, 0, 0.0, H, 2 * H),
    }


def test_a_shorter_window_drops_late_completions(wizard_log):
    result = FunnelQuery(flow="wizard", window_days=1).run()
    assert [step.reached for step in result.steps] == [4, 3, 2, 1, 2]
    # u1 publishes at entry + 4 h: the window's edge is inclusive at the microsecond.
    late = UserFactory()
    done(late, "signup", T)
    done(late, "profile", T + timedelta(days=1))
    done(late, "project", T + timedelta(days=1, microseconds=1))
    result = FunnelQuery(flow="wizard", window_days=1).run()
    assert result.step("profile").reached == 4
    assert result.step("project").reached == 2


def test_any_order_funnel_counts_each_step_from_entry(db):
    first, second, third = UserFactory.create_batch(3)
    done(first, "c", T, flow="checklist")
    done(first, "a", T + H, flow="checklist")
    done(first, "b", T + 3 * H, flow="checklist", kind="defaulted")
    done(second, "b", T + H, flow="checklist")
    track(third, "checklist", "a", kind="viewed", occurred_at=T)
    result = FunnelQuery(flow="checklist").run()
    assert [(s.key, s.previous, s.reached, s.drop_off) for s in result.steps] == [
        ("a", None, 1, 2),
        ("b", None, 2, 1),
        ("c", None, 1, 2),
    ]
    assert result.step("a").median_time == H
    assert result.step("b").defaulted_share == 0.5
    # Finished = every required step, whatever the order; timed to the last of them.
    assert (result.finished, result.median_time_to_finish) == (1, 3 * H)


def test_entry_range_uses_local_dates(db):
    early, late = UserFactory.create_batch(2)
    done(early, "signup", datetime(2024, 3, 4, 2, 0, tzinfo=UTC))  # 3 March in New York
    done(late, "signup", datetime(2024, 3, 5, 12, 0, tzinfo=UTC))
    query = FunnelQuery(flow="wizard", entered_from=date(2024, 3, 4), entered_to=date(2024, 3, 4))
    assert query.run().entered == 1
    with timezone.override(ZoneInfo("America/New_York")):
        assert query.run().entered == 0
        assert FunnelQuery(flow="wizard", entered_to=date(2024, 3, 3)).run().entered == 1


def test_variant_breakdown_lists_declared_variants(wizard_log):
    result = FunnelQuery(flow="wizard", breakdown="variant").run()
    assert result.breakdown == "variant"
    assert sorted(result.groups) == ["hidden", "shown"]
    assert sum(group.entered for group in result.groups.values()) == 5
    for name, group in result.groups.items():
        alone = FunnelQuery(flow="wizard", variants=(name,)).run()
        assert [s.reached for s in group.steps] == [s.reached for s in alone.steps]
        assert group.finished == alone.finished
    only = FunnelQuery(flow="wizard", variants=("shown",), breakdown="variant").run()
    assert list(only.groups) == ["shown"]


def test_entry_week_breakdown_includes_empty_weeks(db):
    first, second = UserFactory.create_batch(2)
    done(first, "signup", T)
    done(second, "signup", T + timedelta(days=15))
    result = FunnelQuery(flow="wizard", breakdown="entry_week").run()
    assert {key: group.entered for key, group in result.groups.items()} == {
        "2024-03-04": 1,
        "2024-03-11": 0,
        "2024-03-18": 1,
    }
    assert result.entered == 2


def test_version_breakdown_and_filter(db, declare):
    steps = [Step("one", "One"), Step("two", "Two")]
    declare(Flow(key="versioned", title="Versioned", steps=steps))
    old, new = UserFactory.create_batch(2)
    done(old, "one", T, flow="versioned")
    declare(Flow(key="versioned", title="Versioned", steps=[*steps, Step("three", "Three")]))
    done(new, "one", T, flow="versioned")
    done(new, "two", T + H, flow="versioned")
    result = FunnelQuery(flow="versioned", breakdown="version").run()
    assert {key: (g.entered, g.step("two").reached) for key, g in result.groups.items()} == {
        "1": (1, 0),
        "2": (1, 1),
    }
    assert FunnelQuery(flow="versioned", versions=(2,)).run().entered == 1
    assert FunnelQuery(flow="versioned", versions=(7,)).run().entered == 0


def test_a_flow_nobody_entered_gives_zeros(db, declare):
    declare(Flow(key="fresh", title="Fresh", steps=[Step("one", "One")]))
    result = FunnelQuery(flow="fresh", breakdown="entry_week").run()
    assert (result.entered, result.finished, result.finish_rate, result.groups) == (0, 0, None, {})
    assert result.steps[0].conversion_from_entry is None
    assert result.steps[0].median_time is None


def test_query_count_does_not_grow_with_subjects(wizard_log):
    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            FunnelQuery(flow="wizard", breakdown="variant").run()
        return len(context)

    # Flow record, its versions, the rollup's checkpoint, then one counting statement
    # (on PostgreSQL inside a savepoint that switches JIT off): nothing per subject.
    before = queries()
    assert before <= 7
    for user in UserFactory.create_batch(20):
        done(user, "signup", T)
    assert queries() == before
