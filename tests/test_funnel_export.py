"""CSV export: every table read back equals the typed result it came from."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from onboarding import track
from onboarding.funnel import (
    FunnelQuery,
    cohort_rows,
    cohort_table,
    funnel_rows,
    stuck_rows,
    stuck_subjects,
    write_csv,
)
from tests.factories import UserFactory

T = datetime(2024, 3, 4, 9, 0, tzinfo=ZoneInfo("UTC"))
H = timedelta(hours=1)


@pytest.fixture
def log(db):
    users = UserFactory.create_batch(6)
    for index, user in enumerate(users):
        start = T + timedelta(days=3 * index, minutes=7 * index)
        track(user, "wizard", "signup", occurred_at=start)
        if index % 2 == 0:
            track(user, "wizard", "profile", kind="defaulted", occurred_at=start + H * index)
        if index % 4 == 0:
            track(user, "wizard", "project", occurred_at=start + 2 * H * (index + 1))
            track(user, "wizard", "publish", occurred_at=start + 3 * H * (index + 1))
    return users


def read_back(rows) -> list[dict[str, str]]:
    buffer = io.StringIO()
    write_csv(rows, buffer)
    return list(csv.DictReader(io.StringIO(buffer.getvalue())))


def as_fraction(text: str) -> float | None:
    return None if text == "" else float(text)


def as_seconds(text: str) -> float | None:
    return None if text == "" else float(text)


def seconds_of(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def test_funnel_csv_equals_the_result(log):
    result = FunnelQuery(flow="wizard", breakdown="variant").run()
    rows = read_back(funnel_rows(result))
    groups = [("", result), *result.groups.items()]
    assert len(rows) == sum(len(one.steps) + 1 for _, one in groups)
    rows_by_key = {(row["group"], row["step"]): row for row in rows}
    for group, one in groups:
        for step in one.steps:
            row = rows_by_key[(group, step.key)]
            assert row["title"] == step.title
            assert row["optional"] == str(int(step.optional))
            assert row["previous_step"] == (step.previous or "")
            assert int(row["reached"]) == step.reached
            assert int(row["drop_off"]) == step.drop_off
            assert int(row["defaulted"]) == step.defaulted
            assert as_fraction(row["conversion_from_previous"]) == rounded(
                step.conversion_from_previous
            )
            assert as_fraction(row["conversion_from_entry"]) == rounded(step.conversion_from_entry)
            assert as_fraction(row["defaulted_share"]) == rounded(step.defaulted_share)
            assert as_seconds(row["median_seconds"]) == seconds_of(step.median_time)
            assert as_seconds(row["p90_seconds"]) == seconds_of(step.p90_time)
        finished = rows_by_key[(group, "finished")]
        assert int(finished["reached"]) == one.finished
        assert as_fraction(finished["conversion_from_entry"]) == rounded(one.finish_rate)
        assert as_seconds(finished["median_seconds"]) == seconds_of(one.median_time_to_finish)
    # The numbers are not all zero: the test compares something.
    assert result.step("profile").reached == 3
    assert result.step("profile").median_time == 2 * H


def test_stuck_csv_equals_the_list(log):
    page = stuck_subjects("wizard", "profile", now=T + timedelta(days=20), page_size=None)
    rows = read_back(stuck_rows(page))
    assert len(rows) == len(page.subjects) == 3
    for row, one in zip(rows, page.subjects, strict=True):
        assert int(row["subject_type_id"]) == one.subject_type_id
        assert row["subject_id"] == one.subject_id
        assert row["subject"] == one.label
        assert row["variant"] == one.variant
        assert int(row["version"]) == one.version
        assert datetime.fromisoformat(row["entered_at"]) == one.entered_at
        assert datetime.fromisoformat(row["waiting_since"]) == one.waiting_since
        assert float(row["waited_seconds"]) == one.waited.total_seconds()
        assert row["inside_window"] == str(int(one.inside_window))


def test_cohort_csv_equals_the_table(log):
    table = cohort_table("wizard")
    rows = read_back(cohort_rows(table))
    assert [row["week"] for row in rows] == [row.week.isoformat() for row in table.rows]
    for row, cohort in zip(rows, table.rows, strict=True):
        assert int(row["entered"]) == cohort.entered
        assert [as_fraction(row[key]) for key in table.steps] == [
            rounded(value) for value in cohort.conversion
        ]
        assert as_fraction(row["finished"]) == rounded(cohort.finish_rate)
        assert row["final"] == str(int(cohort.final))
    assert [cohort.entered for cohort in table.rows] == [3, 2, 1]
