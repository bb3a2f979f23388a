"""A funnel request's cost follows the data, not the range asked.

A breakdown by entry week counts the range asked cut to the flow's first and last
entry, so 1470 to 2421 costs what the data's own weeks cost and gives the same numbers;
more weeks than ``FUNNEL_MAX_GROUPS`` are refused, naming the limit (API, admin page,
CSVs); a stray entry of year 1 stretches no default range.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from onboarding import track
from onboarding.funnel import (
    EntryRange,
    FunnelQuery,
    InvalidQuery,
    cohort_rows,
    cohort_table,
    funnel_rows,
)
from onboarding.models import FlowRecord
from onboarding.sync import sync_flows
from tests.factories import UserFactory

UTC = dt_timezone.utc
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
D = timedelta(days=1)
FIRST_DAY, LAST_DAY = date(2025, 3, 3), date(2025, 3, 19)
WEEKS = ["2025-03-03", "2025-03-10", "2025-03-17"]
FAR = {"entered_from": "1470-01-01", "entered_to": "2421-12-31", "breakdown": "entry_week"}
OWN = {"entered_from": "2025-03-03", "entered_to": "2025-03-19", "breakdown": "entry_week"}
API = "/onboarding/api/flows/wizard/funnel/"
LIMIT_MESSAGE = "are allowed: narrow entered_from/entered_to."


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


@pytest.fixture
def log(db):
    """Four subjects entering over three weeks, 2025-03-03 to 2025-03-19."""
    for offset, steps in [
        (0, ["signup", "profile", "project", "publish"]),
        (2, ["signup", "profile"]),
        (9, ["signup"]),
        (16, ["signup", "profile", "project"]),
    ]:
        user = UserFactory()
        for index, step in enumerate(steps):
            track(user, "wizard", step, occurred_at=T0 + offset * D + index * timedelta(hours=1))


@pytest.fixture
def api():
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="view_funnel"))
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client_(db):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_funnel"))
    client = Client()
    client.force_login(user)
    sync_flows()
    return client


def admin_url(table: str | None = None) -> str:
    pk = FlowRecord.objects.get(key="wizard").pk
    if table is None:
        return reverse("admin:onboarding_flowrecord_funnel", args=[pk])
    return reverse("admin:onboarding_flowrecord_funnel_csv", args=[pk, table])


def csv_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def without_waits(rows: list[list[str]]) -> list[list[str]]:
    """CSV rows without a ``waited_seconds`` column (it runs with the clock)."""
    if "waited_seconds" not in rows[0]:
        return rows
    index = rows[0].index("waited_seconds")
    return [row[:index] + row[index + 1 :] for row in rows]


def entry_weeks(**options) -> FunnelQuery:
    return FunnelQuery(flow="wizard", breakdown="entry_week", **options)


# The range counted ----------------------------------------------------------------------


def test_a_range_far_beyond_the_data_counts_the_datas_weeks_with_the_same_numbers(log):
    far = entry_weeks(entered_from=date(1470, 1, 1), entered_to=date(2421, 12, 31)).run()
    own = entry_weeks(entered_from=FIRST_DAY, entered_to=LAST_DAY).run()

    assert (far.entered_from, far.entered_to) == (FIRST_DAY, LAST_DAY)
    assert list(far.groups) == WEEKS  # three groups built, not 49,000
    assert funnel_rows(far) == funnel_rows(own)
    assert far.entered == 4
    far_cohorts = cohort_table("wizard", entered_from=date(1470, 1, 1), entered_to=date(2421, 1, 1))
    assert cohort_rows(far_cohorts) == cohort_rows(cohort_table("wizard"))


def test_the_api_answers_a_far_range_with_the_datas_weeks(log, api):
    far = api.get(API, FAR)
    own = api.get(API, OWN)

    assert far.status_code == 200
    body = far.json()
    assert [group["group"] for group in body["groups"]] == WEEKS
    # The filters echo the range counted.
    assert (body["filters"]["entered_from"], body["filters"]["entered_to"]) == (
        "2025-03-03",
        "2025-03-19",
    )
    assert body["groups"] == own.json()["groups"]
    assert csv_of(api.get(API, {**FAR, "format": "csv"})) == csv_of(
        api.get(API, {**OWN, "format": "csv"})
    )


def test_the_admin_page_and_its_csvs_answer_a_far_range_like_the_datas(log, admin_client_):
    far = admin_client_.get(admin_url(), FAR)

    assert far.status_code == 200
    assert not far.context["form"].errors
    assert [row.week.isoformat() for row in far.context["report"].cohorts.rows] == WEEKS
    for table in ("steps", "cohorts", "stuck"):
        far_csv = admin_client_.get(admin_url(table), FAR)
        assert far_csv.status_code == 200
        own_rows = csv_of(admin_client_.get(admin_url(table), OWN))
        assert without_waits(csv_of(far_csv)) == without_waits(own_rows), table


def test_a_range_that_misses_the_data_has_no_groups(log, api):
    body = api.get(
        API, {"entered_from": "1470-01-01", "entered_to": "1480-12-31", "breakdown": "entry_week"}
    ).json()

    assert (body["entered"], body["groups"]) == (0, [])


def test_the_last_date_python_has_is_an_open_end_not_a_500(log, api):
    response = api.get(API, {"entered_to": "9999-12-31"})

    assert response.status_code == 200
    assert response.json()["entered"] == 4


# Too many groups ------------------------------------------------------------------------


@pytest.fixture
def fifteen_years(log):
    """The log, plus one subject who entered in January 2010: 794 weeks of data."""
    track(UserFactory(), "wizard", "signup", occurred_at=datetime(2010, 1, 4, 9, tzinfo=UTC))


WIDE = {"entered_from": "2010-01-01", "entered_to": "2025-12-31", "breakdown": "entry_week"}
TOO_MANY = "breakdown=entry_week gives 794 groups; at most 520 " + LIMIT_MESSAGE


def test_more_weeks_of_data_than_the_limit_is_a_400_naming_it(fifteen_years, api):
    response = api.get(API, WIDE)
    as_csv = api.get(API, {**WIDE, "format": "csv"})

    assert response.status_code == 400
    assert response.json() == {"breakdown": [TOO_MANY]}
    assert (as_csv.status_code, as_csv.json()) == (400, {"breakdown": [TOO_MANY]})
    with pytest.raises(InvalidQuery, match="gives 794 groups; at most 520") as raised:
        FunnelQuery(
            flow="wizard",
            entered_from=date(2010, 1, 1),
            entered_to=date(2025, 12, 31),
            breakdown="entry_week",
        ).run()
    assert raised.value.field == "breakdown"


def test_the_admin_page_shows_the_limit_as_a_form_error_and_its_csvs_are_400(
    fifteen_years, admin_client_
):
    page = admin_client_.get(admin_url(), WIDE)

    assert page.status_code == 200
    assert page.context["form"].errors == {"breakdown": [TOO_MANY]}
    html = page.content.decode()
    assert TOO_MANY in html
    assert "funnel-steps" not in html  # no report
    for table in ("steps", "cohorts"):
        response = admin_client_.get(admin_url(table), WIDE)
        assert response.status_code == 400
        assert response.content.decode() == f"breakdown: {TOO_MANY}"


def test_the_cohort_table_of_the_page_is_held_to_the_limit_without_a_breakdown(
    fifteen_years, admin_client_
):
    """The page always shows the cohort table (weeks): a range wider than the limit is an
    error there too, and its CSV a 400."""
    wide = {"entered_from": "2010-01-01", "entered_to": "2025-12-31"}

    assert admin_client_.get(admin_url(), wide).context["form"].errors == {"breakdown": [TOO_MANY]}
    assert admin_client_.get(admin_url("cohorts"), wide).status_code == 400
    assert admin_client_.get(admin_url("steps"), wide).status_code == 200  # no weeks there


@override_settings(ONBOARDING={"FUNNEL_MAX_GROUPS": 2})
def test_the_limit_is_a_setting(log, api):
    response = api.get(API, FAR)

    assert response.status_code == 400
    assert response.json() == {
        "breakdown": [f"breakdown=entry_week gives 3 groups; at most 2 {LIMIT_MESSAGE}"]
    }
    narrowed = api.get(API, {**FAR, "entered_to": "2025-03-16"})
    assert [group["group"] for group in narrowed.json()["groups"]] == WEEKS[:2]


# Default ranges -------------------------------------------------------------------------


def defaults() -> tuple:
    result = entry_weeks().run()
    return (
        (result.entered_from, result.entered_to),
        funnel_rows(result),
        cohort_rows(cohort_table("wizard")),
    )


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_an_entry_of_year_1_does_not_change_the_default_range(log, admin_client_, api, zone):
    with timezone.override(zone):
        before = defaults()
        page_before = admin_client_.get(admin_url()).context["report"].cohorts.rows
        api_before = api.get(API, {"breakdown": "entry_week"}).json()["groups"]
        track(UserFactory(), "wizard", "signup", occurred_at=datetime(1, 1, 1, 12, tzinfo=UTC))

        assert defaults() == before
        page = admin_client_.get(admin_url())
        assert page.status_code == 200
        assert [row.week for row in page.context["report"].cohorts.rows] == [
            row.week for row in page_before
        ]
        assert api.get(API, {"breakdown": "entry_week"}).json()["groups"] == api_before
        # Without a breakdown no range is built: the funnel counts every entry.
        assert FunnelQuery(flow="wizard").run().entered == 5


def test_data_older_than_the_limit_is_left_out_of_the_default_weeks(fifteen_years):
    result = entry_weeks().run()

    assert (result.entered_from, result.entered_to) == (FIRST_DAY, LAST_DAY)
    assert list(result.groups) == WEEKS


# FunnelQuery.entry_range, on its own ------------------------------------------------------


class Days:
    """Entry days in memory, as :class:`~onboarding.funnel.query.EntryDays`."""

    def __init__(self, *days: date) -> None:
        self.days = sorted(days)

    def first(self, on_or_after: date | None = None) -> date | None:
        return next((d for d in self.days if on_or_after is None or d >= on_or_after), None)

    def last(self, on_or_before: date | None = None) -> date | None:
        found = [d for d in self.days if on_or_before is None or d <= on_or_before]
        return found[-1] if found else None


TODAY = date(2025, 6, 1)


@pytest.mark.parametrize(
    ("asked", "days", "counted"),
    [
        ({}, (), None),
        ({}, (date(2025, 3, 5), date(2025, 4, 1)), (date(2025, 3, 5), date(2025, 4, 1))),
        # Asked wider than the data: cut to it.
        (
            {"entered_from": date(1, 1, 1), "entered_to": date(9999, 12, 31)},
            (date(2025, 3, 5), date(2025, 4, 1)),
            (date(2025, 3, 5), date(2025, 4, 1)),
        ),
        # Asked inside the data: as asked, empty weeks included.
        (
            {"entered_from": date(2025, 3, 10), "entered_to": date(2025, 3, 20)},
            (date(2025, 3, 5), date(2025, 4, 1)),
            (date(2025, 3, 10), date(2025, 3, 20)),
        ),
        # Asked beside the data: nothing.
        ({"entered_to": date(2020, 1, 1)}, (date(2025, 3, 5),), None),
        # Stray times of year 1 and 9999 stretch no open end...
        (
            {},
            (date(1, 1, 1), date(2025, 3, 5), date(2025, 4, 1), date(9999, 12, 31)),
            (date(2025, 3, 5), date(2025, 4, 1)),
        ),
        # ...but an end asked for counts them (and is then held to the limit).
        (
            {"entered_to": date(9999, 12, 31)},
            (date(2025, 3, 5), date(2025, 4, 1), date(2028, 1, 1)),
            (date(2025, 3, 5), date(2028, 1, 1)),
        ),
    ],
)
def test_entry_range_cuts_the_range_asked_to_the_data(asked, days, counted):
    found = entry_weeks(**asked).entry_range(Days(*days), today=TODAY)

    assert found == (None if counted is None else EntryRange(*counted))


def test_entry_range_refuses_more_weeks_than_the_limit():
    query = entry_weeks(entered_from=date(1, 1, 1))

    with pytest.raises(InvalidQuery) as raised:
        query.entry_range(Days(date(1, 1, 1), date(2025, 3, 5)), today=TODAY)

    assert raised.value.field == "breakdown"
    assert raised.value.message == (
        f"breakdown=entry_week gives 105,617 groups; at most 520 {LIMIT_MESSAGE}"
    )
