"""Stuck subjects and the cohort table on small hand-made logs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from onboarding import UnknownStep, track
from onboarding.funnel import FunnelQuery, cohort_table, stuck_subjects
from tests.factories import UserFactory

T = datetime(2024, 3, 4, 9, 0, tzinfo=ZoneInfo("UTC"))  # a Monday
H = timedelta(hours=1)
NOW = T + timedelta(days=10)


@pytest.fixture
def stuck_log(db):
    users = dict(zip("abcde", UserFactory.create_batch(5), strict=True))
    track(users["a"], "wizard", "signup", occurred_at=T)
    track(users["a"], "wizard", "profile", occurred_at=T + H)
    track(users["b"], "wizard", "signup", occurred_at=T)
    track(users["c"], "wizard", "signup", occurred_at=T - timedelta(days=20))
    track(users["d"], "wizard", "signup", kind="viewed", occurred_at=T + 2 * H)
    # Profile before signup: out of order, so e still waits for profile since signup.
    track(users["e"], "wizard", "profile", occurred_at=T + H / 2)
    track(users["e"], "wizard", "signup", occurred_at=T + H)
    return users


def listed(page) -> list[str]:
    return [subject.subject_id for subject in page.subjects]


def pks(users, *names) -> list[str]:
    return [str(users[name].pk) for name in names]


def test_stuck_at_a_step_longest_waiting_first(stuck_log):
    page = stuck_subjects("wizard", "profile", now=NOW)
    assert listed(page) == pks(stuck_log, "c", "b", "e")
    assert (page.previous, page.inside, page.past, page.total) == ("signup", 2, 1, 3)
    c, b, e = page.subjects
    assert (c.waiting_since, c.waited, c.inside_window) == (
        T - timedelta(days=20),
        timedelta(days=30),
        False,
    )
    assert (b.waiting_since, b.waited, b.inside_window) == (T, timedelta(days=10), True)
    assert (e.entered_at, e.waiting_since) == (T + H / 2, T + H)
    assert b.label == str(stuck_log["b"])
    assert b.variant in ("shown", "hidden")
    assert b.version == 1
    # Every subject lost at a step is stuck there: the counts match the funnel's drop-off.
    funnel = FunnelQuery(flow="wizard").run()
    assert funnel.step("profile").drop_off == page.total


def test_stuck_at_the_first_step_waits_since_entry(stuck_log):
    page = stuck_subjects("wizard", "signup", now=NOW)
    assert page.previous is None
    assert [(s.subject_id, s.waiting_since) for s in page.subjects] == [
        (str(stuck_log["d"].pk), T + 2 * H)
    ]
    project = stuck_subjects("wizard", "project", now=NOW)
    assert [(s.subject_id, s.waited) for s in project.subjects] == [
        (str(stuck_log["a"].pk), timedelta(days=10) - H)
    ]


def test_stuck_pages_and_window_filter(stuck_log):
    first = stuck_subjects("wizard", "profile", now=NOW, page_size=2)
    second = stuck_subjects("wizard", "profile", now=NOW, page_size=2, page=2)
    assert (first.pages, first.has_next, second.has_next) == (2, True, False)
    assert [s.subject_id for s in first.subjects + second.subjects] == [
        s.subject_id for s in stuck_subjects("wizard", "profile", now=NOW).subjects
    ]
    inside = stuck_subjects("wizard", "profile", now=NOW, where="inside")
    assert listed(inside) == pks(stuck_log, "b", "e")
    assert inside.total == 2
    past = stuck_subjects("wizard", "profile", now=NOW, where="past")
    assert listed(past) == pks(stuck_log, "c")
    assert past.total == 1
    # Later on, everyone's window has closed.
    later = stuck_subjects("wizard", "profile", now=T + timedelta(days=30))
    assert (later.inside, later.past) == (0, 3)


def test_stuck_filters_by_entry_date(stuck_log):
    page = stuck_subjects("wizard", "profile", now=NOW, entered_from=date(2024, 3, 1))
    assert listed(page) == pks(stuck_log, "b", "e")


def test_stuck_in_an_any_order_flow(db):
    first, second = UserFactory.create_batch(2)
    track(first, "checklist", "a", occurred_at=T)
    track(first, "checklist", "b", occurred_at=T + H)
    track(second, "checklist", "c", occurred_at=T)
    page = stuck_subjects("checklist", "b", now=NOW)
    assert [(s.subject_id, s.waiting_since) for s in page.subjects] == [(str(second.pk), T)]


def test_stuck_errors_name_the_input(stuck_log):
    with pytest.raises(UnknownStep, match="'nope'"):
        stuck_subjects("wizard", "nope")
    with pytest.raises(ValueError, match="where must be 'inside', 'past' or None, not 'soon'"):
        stuck_subjects("wizard", "profile", where="soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="page \\(0\\)"):
        stuck_subjects("wizard", "profile", page=0)


def test_cohort_table_by_entry_week(db):
    done_all, started, later = UserFactory.create_batch(3)
    for offset, step in enumerate(("signup", "profile", "project", "publish")):
        track(done_all, "wizard", step, occurred_at=T + offset * H)
    track(started, "wizard", "signup", occurred_at=T + timedelta(days=2))
    track(later, "wizard", "signup", occurred_at=T + timedelta(days=15))
    track(later, "wizard", "profile", occurred_at=T + timedelta(days=15, hours=1))
    table = cohort_table("wizard")
    assert table.steps == ("signup", "profile", "project", "invite", "publish")
    assert [(r.week, r.entered, r.reached, r.finished) for r in table.rows] == [
        (date(2024, 3, 4), 2, (2, 1, 1, 0, 1), 1),
        (date(2024, 3, 11), 0, (0, 0, 0, 0, 0), 0),
        (date(2024, 3, 18), 1, (1, 1, 0, 0, 0), 0),
    ]
    assert table.rows[0].conversion == (1.0, 0.5, 0.5, 0.0, 0.5)
    assert table.rows[1].conversion == (None,) * 5
    assert table.rows[0].finish_rate == 0.5
    assert all(row.final for row in table.rows)


def test_recent_cohorts_are_not_final(db):
    user = UserFactory()
    track(user, "wizard", "signup", occurred_at=timezone.now() - timedelta(days=1))
    table = cohort_table("wizard", window_days=3)
    assert [row.final for row in table.rows] == [False]
    assert table.window_days == 3


def test_every_page_is_a_slice_of_the_whole_list_ties_included(db):
    """Pages read names only for rows up to the page's last wait: ties at that edge stay
    in (subject type, id) order, as in the full list."""
    at = datetime(2024, 3, 4, 9, 0, tzinfo=ZoneInfo("UTC"))
    users = UserFactory.create_batch(7)
    for index, user in enumerate(users):
        track(user, "wizard", "signup", occurred_at=at)
        # Three pairs finish the profile at the same moment; one alone, later.
        track(user, "wizard", "profile", occurred_at=at + timedelta(hours=1 + index // 2))
    everyone = stuck_subjects("wizard", "project", page_size=None)
    assert everyone.total == 7
    whole = [subject.subject_id for subject in everyone.subjects]
    for size in (1, 2, 3, 4, 7, 8):
        pages = [
            stuck_subjects("wizard", "project", page=number, page_size=size)
            for number in range(1, -(-7 // size) + 1)
        ]
        assert [s.subject_id for page in pages for s in page.subjects] == whole
        assert {page.total for page in pages} == {7}
    # Past the last page: nothing (the admin shows the last page instead).
    assert stuck_subjects("wizard", "project", page=9, page_size=1).subjects == []


def test_cohort_counts_equal_the_full_query(db):
    at = datetime(2024, 3, 4, 9, 0, tzinfo=ZoneInfo("UTC"))
    for index, user in enumerate(UserFactory.create_batch(6)):
        entry = at + timedelta(days=3 * index)
        track(user, "wizard", "signup", occurred_at=entry)
        if index % 2:
            track(
                user, "wizard", "profile", kind="defaulted", occurred_at=entry + timedelta(hours=1)
            )
        if index % 3 == 0:
            track(user, "wizard", "project", occurred_at=entry + timedelta(hours=2))
    full = FunnelQuery(flow="wizard", breakdown="entry_week", use_rollup=False).run()
    table = cohort_table("wizard")
    assert [
        (row.week.isoformat(), row.entered, row.reached, row.finished) for row in table.rows
    ] == [
        (week, group.entered, tuple(s.reached for s in group.steps), group.finished)
        for week, group in full.groups.items()
    ]
    assert sum(row.entered for row in table.rows) == full.entered == 6
