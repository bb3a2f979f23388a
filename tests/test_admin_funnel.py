"""The funnel page in Django admin: permission, numbers, filters, CSV, errors, queries."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone
from html import unescape
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from onboarding import track
from onboarding.experiments import sample_size
from onboarding.funnel import FunnelQuery, compare_variants, stuck_subjects
from onboarding.funnel.paths import rebuild_paths
from onboarding.models import FlowRecord, Progress
from onboarding.rollups.build import refresh_rollup
from onboarding.rollups.models import FunnelRollup
from onboarding.sync import sync_flows
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)  # a Monday
MIN = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


# Reading the page ---------------------------------------------------------------------


class Tables(HTMLParser):
    """Every ``<table>`` of a page by its CSS classes: caption, and rows of cells per
    section; a cell is ``(text, time)`` where ``time`` is a ``<time datetime>``."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._time = ""
        self._section = ""
        self._caption: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"css": attrs.get("class", "").split(), "caption": ""})
        elif tag == "caption":
            self._caption = []
        elif tag in ("thead", "tbody", "tfoot"):
            self._section = tag
            self.tables[-1].setdefault(tag, [])
        elif tag == "tr":
            self.tables[-1][self._section].append([])
        elif tag in ("td", "th"):
            self._cell, self._time = [], ""
        elif tag == "time" and self._cell is not None:
            self._time = attrs.get("datetime", "")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            self.tables[-1][self._section][-1].append((text, self._time))
            self._cell = None
        elif tag == "caption":
            self.tables[-1]["caption"] = "".join(self._caption).strip()
            self._caption = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._caption is not None:
            self._caption.append(data)

    def having(self, css: str) -> list[dict]:
        return [table for table in self.tables if css in table["css"]]


def number(text: str) -> int:
    return int(text.replace(",", ""))


def share(text: str) -> float | None:
    """``75.0 %`` -> 0.75; the dash of an undefined rate -> None."""
    if text == "\u2013":
        return None
    return float(text.split("%")[0].replace(",", "")) / 100


def seconds(time: str) -> float | None:
    return float(time[2:-1]) if time else None


def total_seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


# Data -----------------------------------------------------------------------------------


def walk(user, steps, start, *, flow="wizard"):
    """``steps``: (key, offset from start, kind) tracked for ``user``."""
    for key, offset, kind in steps:
        track(user, flow, key, kind=kind, occurred_at=start + offset)


@pytest.fixture
def log():
    """Six wizard subjects over two entry weeks.

    u1 finishes (defaulting the project), u2 stops after the profile, u3 does its
    profile 3 days after entry, u4 only signs up, u5 finishes with the optional invite,
    u6 only looked (entered, reached nothing).
    """
    users = UserFactory.create_batch(6)
    u1, u2, u3, u4, u5, u6 = users
    c, d = "completed", "defaulted"
    walk(
        u1,
        [("signup", 0 * H, c), ("profile", H, c), ("project", 2 * H, d), ("publish", 3 * H, c)],
        T0,
    )
    walk(u2, [("signup", 0 * H, c), ("profile", 30 * MIN, c)], T0)
    walk(u3, [("signup", 0 * H, c), ("profile", 3 * D, c)], T0 + D)
    walk(u4, [("signup", 0 * H, c)], T0 + 8 * D)
    walk(
        u5,
        [
            ("signup", 0 * H, c),
            ("profile", 10 * MIN, c),
            ("project", 20 * MIN, c),
            ("invite", 25 * MIN, c),
            ("publish", 40 * MIN, c),
        ],
        T0 + 8 * D,
    )
    walk(u6, [("signup", 0 * H, "viewed")], T0 + 9 * D)
    return users


def analyst_client(**extra) -> Client:
    user = UserFactory(is_staff=True, **extra)
    user.user_permissions.add(Permission.objects.get(codename="view_funnel"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def analyst():
    return analyst_client()


@pytest.fixture
def wizard_pk():
    sync_flows()
    return FlowRecord.objects.get(key="wizard").pk


def page_url(pk, **params) -> str:
    url = reverse("admin:onboarding_flowrecord_funnel", args=[pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def csv_url(pk, table, query="") -> str:
    return reverse("admin:onboarding_flowrecord_funnel_csv", args=[pk, table]) + query


def steps_rows(html: str, table_index: int = 0) -> list[list[tuple[str, str]]]:
    table = Tables(html).having("funnel-steps")[table_index]
    return table["tbody"] + table["tfoot"]


# Permission ---------------------------------------------------------------------------


def test_anonymous_is_sent_to_the_admin_login(client, wizard_pk):
    response = client.get(page_url(wizard_pk))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_funnel_permission_gets_403(client, wizard_pk):
    staff = UserFactory(is_staff=True)
    # Seeing the flows is not enough: the funnel has its own permission.
    staff.user_permissions.add(Permission.objects.get(codename="view_flowrecord"))
    client.force_login(staff)

    assert client.get(page_url(wizard_pk)).status_code == 403
    assert client.get(csv_url(wizard_pk, "steps")).status_code == 403


def test_staff_with_the_permission_sees_the_page_and_the_csv(analyst, wizard_pk, log):
    response = analyst.get(page_url(wizard_pk))

    assert response.status_code == 200
    assert response.templates[0].name == "admin/onboarding/funnel.html"
    assert b"Funnel: Set up your account" in response.content
    assert analyst.get(csv_url(wizard_pk, "steps")).status_code == 200


def test_a_group_permission_is_enough(client, wizard_pk):
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="product")
    group.permissions.add(Permission.objects.get(codename="view_funnel"))
    staff = UserFactory(is_staff=True)
    staff.groups.add(group)
    client.force_login(staff)

    assert client.get(page_url(wizard_pk)).status_code == 200


def test_the_flow_pages_link_to_the_funnel_for_users_with_the_permission(client, wizard_pk):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_flowrecord"))
    client.force_login(viewer)
    change = reverse("admin:onboarding_flowrecord_change", args=[wizard_pk])
    changelist = reverse("admin:onboarding_flowrecord_changelist")
    link = page_url(wizard_pk).encode()

    assert link not in client.get(change).content
    assert link not in client.get(changelist).content

    viewer.user_permissions.add(Permission.objects.get(codename="view_funnel"))
    client.force_login(viewer)  # drops the cached permissions

    assert link in client.get(change).content
    assert link in client.get(changelist).content


def test_unknown_flow_is_404(analyst, wizard_pk):
    assert analyst.get(page_url(wizard_pk + 1000)).status_code == 404
    assert analyst.get("/admin/onboarding/flowrecord/abc/funnel/").status_code == 404
    assert analyst.get(csv_url(wizard_pk, "nope")).status_code == 404


def test_a_flow_no_longer_declared_is_404(analyst, wizard_pk):
    gone = FlowRecord.objects.create(key="retired", title="Retired", declared=False)

    response = analyst.get(page_url(gone.pk))

    assert response.status_code == 404


# Numbers ----------------------------------------------------------------------------


def assert_table_equals_result(rows, result):
    """Every cell of a steps table against the typed result it was made from."""
    assert len(rows) == len(result.steps) + 1
    titles = {step.key: str(step.title) for step in result.steps}
    for row, step in zip(rows, result.steps, strict=False):
        cells = [text for text, _time in row]
        assert cells[0].startswith(titles[step.key])
        assert cells[1] == (titles[step.previous] if step.previous else "Entry")
        assert number(cells[2]) == step.reached
        assert share(cells[3]) == pytest.approx(step.conversion_from_previous, abs=5e-4)
        assert share(cells[4]) == pytest.approx(step.conversion_from_entry, abs=5e-4)
        assert number(cells[5]) == step.drop_off
        defaulted = re.fullmatch(r"(.+%|\u2013) \((\d+)\)", cells[6])
        assert share(defaulted[1]) == pytest.approx(step.defaulted_share, abs=5e-4)
        assert int(defaulted[2]) == step.defaulted
        assert seconds(row[7][1]) == total_seconds(step.median_time)
        assert seconds(row[8][1]) == total_seconds(step.p90_time)
    finished = [text for text, _time in rows[-1]]
    assert finished[0] == "Finished"
    assert number(finished[2]) == result.finished
    assert share(finished[4]) == pytest.approx(result.finish_rate, abs=5e-4)
    assert number(finished[5]) == result.entered - result.finished


def test_the_table_shows_the_funnel_result(analyst, wizard_pk, log):
    result = FunnelQuery(flow="wizard").run()

    response = analyst.get(page_url(wizard_pk))

    rows = steps_rows(response.content.decode())
    assert_table_equals_result(rows, result)
    # And the result is what the log says (not just equal to itself).
    assert (result.entered, result.finished) == (6, 2)
    assert [number(row[2][0]) for row in rows] == [5, 4, 2, 1, 2, 2]
    assert [row[6][0] for row in rows[:3]] == ["0.0 % (0)", "0.0 % (0)", "50.0 % (1)"]
    # Median time to profile: 10 min, 30 min, 1 h, 3 d -> nearest rank 2 is 30 min.
    assert rows[1][7] == ("30 min", "PT1800S")
    assert rows[1][8] == ("3 d", "PT259200S")


def test_the_summary_and_the_freshness(analyst, wizard_pk, log):
    html = analyst.get(page_url(wizard_pk)).content.decode()

    assert re.search(r'id="summary-entered">6<', html)
    assert re.search(r'id="summary-finished">2<', html)
    assert re.search(r'id="summary-rate">33.3 %<', html)
    assert "Computed at " in html
    assert "conversion window of 14 days" in html


def test_the_chart_has_one_bar_per_step(analyst, wizard_pk, log):
    html = analyst.get(page_url(wizard_pk)).content.decode()

    start = html.index('<svg xmlns="http://www.w3.org/2000/svg" class="funnel-chart"')
    svg = html[start : html.index("</svg>", start)]
    assert 'role="img"' in svg
    assert re.findall(r'class="bar step[^"]*" data-step="(\w+)"', svg) == [
        "signup",
        "profile",
        "project",
        "invite",
        "publish",
    ]
    assert "<title" in svg and "<desc" in svg
    assert "6 entered." in svg


# Filters ------------------------------------------------------------------------------


def test_the_date_range_keeps_the_subjects_who_entered_in_it(analyst, wizard_pk, log):
    response = analyst.get(page_url(wizard_pk, entered_from="2025-03-03", entered_to="2025-03-05"))

    rows = steps_rows(response.content.decode())
    # u1, u2, u3 entered in that range; u3's profile counts with the default window.
    assert [number(row[2][0]) for row in rows] == [3, 3, 1, 0, 1, 1]
    assert_table_equals_result(
        rows,
        FunnelQuery(flow="wizard", entered_from=T0.date(), entered_to=(T0 + 2 * D).date()).run(),
    )


def test_a_shorter_window_drops_late_completions(analyst, wizard_pk, log):
    response = analyst.get(page_url(wizard_pk, window_days=2))

    rows = steps_rows(response.content.decode())
    # u3's profile, 3 days after entry, no longer counts.
    assert number(rows[1][2][0]) == 3
    assert "conversion window of 2 days" in response.content.decode()


def test_the_variant_filter_and_the_version_filter(analyst, wizard_pk, log):
    shown = Progress.objects.filter(flow__key="wizard", variant="shown").count()

    html = analyst.get(page_url(wizard_pk, variant="shown")).content.decode()
    assert re.search(rf'id="summary-entered">{shown}<', html)

    html = analyst.get(page_url(wizard_pk, version=1)).content.decode()
    assert re.search(r'id="summary-entered">6<', html)


def test_a_breakdown_gives_one_table_per_group(analyst, wizard_pk, log):
    response = analyst.get(page_url(wizard_pk, breakdown="entry_week"))

    tables = Tables(response.content.decode()).having("funnel-steps")
    assert [table["caption"] for table in tables] == [
        "Everyone",
        "Week of March 3, 2025",
        "Week of March 10, 2025",
    ]
    result = FunnelQuery(flow="wizard", breakdown="entry_week").run()
    for table, group in zip(tables[1:], result.groups.values(), strict=True):
        assert_table_equals_result(table["tbody"] + table["tfoot"], group)
    assert [group.entered for group in result.groups.values()] == [3, 3]


# Variant comparison -----------------------------------------------------------------------


@pytest.fixture
def ab_log():
    """Ten subjects per variant: 2 of 10 hidden finish, 8 of 10 shown."""
    for variant, finishers in (("hidden", 2), ("shown", 8)):
        for index in range(10):
            user = UserFactory()
            steps = [("signup", 0 * H, "completed"), ("profile", H, "completed")]
            if index < finishers:
                steps += [("project", 2 * H, "completed"), ("publish", 3 * H, "completed")]
            walk(user, steps, T0)
            Progress.objects.filter(subject_id=str(user.pk)).update(variant=variant)
    # A direct write bypasses track_many: rebuild the funnel rows, as after an import.
    rebuild_paths(["wizard"])


# Ten subjects per variant is far below the sequential test's default tuning (5,000):
# tuned to 20 subjects, 2 of 10 against 8 of 10 is significant for it too.
SMALL_TEST = {"EXPERIMENT_TUNING_SUBJECTS": 20}


def test_the_comparison_shows_rates_interval_corrected_p_and_verdict(
    analyst, wizard_pk, ab_log, settings
):
    settings.ONBOARDING = SMALL_TEST
    comparison = compare_variants(FunnelQuery(flow="wizard", breakdown="variant").run())

    response = analyst.get(page_url(wizard_pk))
    html = response.content.decode()

    assert (comparison.a, comparison.b, comparison.method) == ("hidden", "shown", "sequential")
    assert comparison.significant
    assert comparison.verdict in html
    assert comparison.verdict.startswith("shown finishes 60.0 points more often than hidden")
    assert "always-valid p = " in comparison.verdict
    table = Tables(html).having("funnel-comparison")[0]
    project = [text for text, _time in table["tbody"][2]]
    entry = comparison.steps_by_key["project"]
    # Project after profile: 2 of 10 against 8 of 10, from the previous step and from entry.
    assert project[:4] == ["Create a project", "20.0 %", "80.0 %", "+60.0 pts"]
    low, high = (
        f"{value * 100:+.1f}".replace("-", "\u2212")
        for value in (entry.test.lower, entry.test.upper)
    )
    assert project[4:8] == ["20.0 %", "80.0 %", "+60.0 pts", f"{low} pts to {high} pts"]
    assert project[8] == f"{entry.test.p_value:.3f}"
    # Holm over the four secondary metrics (signup, profile, project, invite): publish,
    # the last required step, is reached exactly by those who finish (the primary).
    assert entry.result.family == 4
    assert project[9].startswith(f"{entry.adjusted_p_value:.3f}")
    finished = [text for text, _time in table["tfoot"][0]]
    assert finished[0] == "Finished (primary)"
    assert finished[4:7] == ["20.0 %", "80.0 %", "+60.0 pts"]
    assert "hidden: 2 of 10 finished. shown: 8 of 10 finished." in html
    assert "once corrected for 4 comparisons (Holm)" in html or (
        "Corrected for 4 comparisons (Holm), shown differs from hidden on:" in html
    )
    assert "Always-valid sequential test: read it as often as you like" in html


def test_the_interval_column_wraps_between_its_bounds_only(analyst, wizard_pk, ab_log):
    # Unbroken, "-3.4 pts to +1.5 pts" widened the table past a 1280 px window and hid
    # "Corrected p" behind a scroll bar; each bound stays whole, the cell may wrap.
    html = analyst.get(page_url(wizard_pk)).content.decode()

    cells = re.findall(r'<td class="([^"]*)">([^<]*) to ([^<]*)</td>', html)

    assert len(cells) == 6  # five steps and the finish rate
    for css, lower, upper in cells:
        assert css == "num wrap"
        assert " " not in lower + upper
        assert lower.endswith("\u00a0pts") and upper.endswith("\u00a0pts")


def test_the_split_line_and_the_planner_are_on_the_page(analyst, wizard_pk, ab_log):
    html = analyst.get(page_url(wizard_pk)).content.decode()

    assert (
        "Split: 50.0 / 50.0 observed against 50 / 50 declared (shown / hidden, p = 1.000): "
        "the split is as declared."
    ) in html
    assert 'id="funnel-srm"' not in html
    planner = re.search(r'<p class="funnel-planner"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert "With 10 subjects per variant no change can be detected at 80 % power yet." in planner
    assert "To detect 2.0 points from 20.0 % at 80 % power, the sequential test needs" in planner
    assert "more days at the current entry rate." in planner


def test_a_broken_split_is_said_above_every_other_result(analyst, wizard_pk, ab_log):
    for _index in range(30):
        user = UserFactory()
        walk(user, [("signup", 0 * H, "completed")], T0)
        Progress.objects.filter(subject_id=str(user.pk)).update(variant="shown")
    rebuild_paths(["wizard"])

    html = unescape(analyst.get(page_url(wizard_pk)).content.decode())

    expected = "80.0 / 20.0 observed against 50 / 50 declared (shown / hidden, p < 0.001): "
    assert expected + "assignment is broken, these results cannot be trusted." in html
    # Above the summary, the chart and every table.
    assert html.index('id="funnel-srm"') < html.index('class="funnel-summary"')
    assert "No verdict: the split of subjects is not the declared one" in html


def test_the_fixed_test_is_an_option_labelled_for_a_fixed_size(analyst, wizard_pk, ab_log):
    html = unescape(analyst.get(page_url(wizard_pk, test="fixed")).content.decode())

    # 2 of 10 against 8 of 10: z = 2.68, as statsmodels' proportions_ztest.
    assert "fixed-horizon p = 0.007): significant" in html
    assert "significant, if the sample size was fixed in advance." in html
    assert "Fixed-horizon z-test: valid only if the sample size was fixed" in html


def test_a_single_variant_has_nothing_to_compare(analyst, wizard_pk, ab_log):
    html = analyst.get(page_url(wizard_pk, variant="shown")).content.decode()

    assert "Two variants are needed to compare" in html
    assert not Tables(html).having("funnel-comparison")


def test_a_flow_without_variants_says_so(analyst, log):
    sync_flows()
    pk = FlowRecord.objects.get(key="checklist").pk

    html = analyst.get(page_url(pk)).content.decode()

    assert "This flow declares no variants." in html
    # The breakdown offers no variants either.
    assert 'value="variant"' not in html


def test_before_a_test_the_planner_plans_one_from_the_whole_funnel(analyst):
    for index in range(4):
        user = UserFactory()
        steps = ["a", "b", "c"] if index % 2 else ["a"]
        walk(user, [(key, index * H, "completed") for key in steps], T0, flow="checklist")
    sync_flows()
    pk = FlowRecord.objects.get(key="checklist").pk

    html = analyst.get(page_url(pk)).content.decode()

    needed = sample_size(0.5, 0.02)
    planner = re.search(r'<p class="funnel-planner"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert planner.startswith("<strong>Planning a test:</strong> To detect 2.0 points from ")
    assert f"50.0 % at 80 % power, the sequential test needs {needed:,} subjects per " in planner
    assert "more days at the current entry rate." in planner


# Cohorts and stuck subjects ---------------------------------------------------------------


def test_the_cohort_table_gives_conversion_by_entry_week(analyst, wizard_pk, log):
    html = analyst.get(page_url(wizard_pk)).content.decode()

    table = Tables(html).having("funnel-cohorts")[0]
    rows = [[text for text, _time in row] for row in table["tbody"]]
    # Week of 3 March: u1, u2, u3 (all signed up, all did the profile, u1 finished).
    assert rows[0] == [
        "03/03/2025",
        "3",
        "100.0 %",
        "100.0 %",
        "33.3 %",
        "0.0 %",
        "33.3 %",
        "33.3 %",
        "Final",
    ]
    assert rows[1][:3] == ["03/10/2025", "3", "66.7 %"]


def test_with_a_rollup_the_funnel_and_cohorts_come_from_it(analyst, wizard_pk, log):
    exact = Tables(analyst.get(page_url(wizard_pk)).content.decode()).having("funnel-cohorts")
    # A rollup counted before the second week's entrants: page and cohorts say so alike.
    refreshed = T0 + 2 * D
    refresh_rollup("wizard", now=refreshed, rebuild=True)
    FunnelRollup.objects.filter(day__gte=T0.date() + 7 * D).delete()

    html = analyst.get(page_url(wizard_pk)).content.decode()

    assert "by the funnel rollup" in html
    assert re.search(r'id="summary-entered">3<', html)
    rows = [
        [text for text, _time in row] for row in Tables(html).having("funnel-cohorts")[0]["tbody"]
    ]
    first = [text for text, _time in exact[0]["tbody"][0]]
    # The first week as counted exactly, but open: it was when the rollup counted it.
    assert rows[0] == [*first[:-1], "Open"]
    assert rows[1][:3] == ["03/10/2025", "0", "\u2013"]


def test_the_stuck_list_shows_who_waits_and_where(analyst, wizard_pk, log):
    # Reached the profile but not the project: u2 and u3 (the largest drop-off).
    html = analyst.get(page_url(wizard_pk)).content.decode()

    table = Tables(html).having("funnel-stuck")[0]
    assert table["caption"] == "Stuck before “Create a project”"
    names = [row[0][0] for row in table["tbody"]]
    assert sorted(names) == sorted([log[1].username, log[2].username])
    assert {row[6][0] for row in table["tbody"]} == {"Past"}
    assert "<strong>0</strong> still inside the window" in html
    assert '<option value="" selected>Largest drop-off (Create a project)</option>' in html
    assert "<strong>2</strong> past it" in html


def test_the_stuck_list_of_a_chosen_step_and_a_recent_subject(analyst, wizard_pk, log):
    recent = UserFactory()
    track(recent, "wizard", "signup", occurred_at=datetime.now(timezone.utc) - H)

    html = analyst.get(page_url(wizard_pk, step="profile", where="inside")).content.decode()

    rows = Tables(html).having("funnel-stuck")[0]["tbody"]
    assert [row[0][0] for row in rows] == [recent.username]
    assert rows[0][6][0] == "Inside"
    assert rows[0][5][0].startswith("1 h")
    # Past the window: u4 (signed up only); u6 never reached signup.
    html = analyst.get(page_url(wizard_pk, step="profile", where="past")).content.decode()
    rows = Tables(html).having("funnel-stuck")[0]["tbody"]
    assert [row[0][0] for row in rows] == [log[3].username]


def test_the_stuck_list_is_paginated(analyst, wizard_pk, monkeypatch):
    monkeypatch.setattr("onboarding.admin_funnel.report.STUCK_PAGE_SIZE", 2)
    users = UserFactory.create_batch(5)
    for index, user in enumerate(users):
        track(user, "wizard", "signup", occurred_at=T0 + index * H)

    first = analyst.get(page_url(wizard_pk, step="profile")).content.decode()
    last = analyst.get(page_url(wizard_pk, step="profile", page=3)).content.decode()
    beyond = analyst.get(page_url(wizard_pk, step="profile", page=9)).content.decode()

    def names(html):
        return [row[0][0] for row in Tables(html).having("funnel-stuck")[0]["tbody"]]

    # Longest waiting first: the earliest signups.
    assert names(first) == [users[0].username, users[1].username]
    assert "Page 1 of 3" in first and 'rel="next"' in first
    assert names(last) == [users[4].username]
    assert "Page 3 of 3" in last and 'rel="next"' not in last
    assert names(beyond) == names(last)


# CSV ----------------------------------------------------------------------------------


def test_the_steps_csv_equals_the_table(analyst, wizard_pk, log):
    query = "?breakdown=entry_week&window_days=7"
    html = analyst.get(page_url(wizard_pk) + query).content.decode()
    response = analyst.get(csv_url(wizard_pk, "steps", query))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="wizard-steps.csv"' in response["Content-Disposition"]
    header, *rows = csv_rows(response)
    tables = Tables(html).having("funnel-steps")
    shown = [row for table in tables for row in table["tbody"] + table["tfoot"]]
    assert len(rows) == len(shown) == 3 * 6
    for line, row in zip(rows, shown, strict=True):
        line = dict(zip(header, line, strict=True))
        cells = [text for text, _time in row]
        assert number(cells[2]) == int(line["reached"])
        assert number(cells[5]) == int(line["drop_off"])
        for text, column in (
            (cells[3], "conversion_from_previous"),
            (cells[4], "conversion_from_entry"),
        ):
            expected = float(line[column]) if line[column] else None
            assert share(text) == pytest.approx(expected, abs=5e-4)
        assert seconds(row[7][1]) == (
            float(line["median_seconds"]) if line["median_seconds"] else None
        )
        assert seconds(row[8][1]) == (float(line["p90_seconds"]) if line["p90_seconds"] else None)


def test_the_comparison_csv_equals_the_table(analyst, wizard_pk, ab_log):
    html = analyst.get(page_url(wizard_pk)).content.decode()
    header, *rows = csv_rows(analyst.get(csv_url(wizard_pk, "comparison")))

    table = Tables(html).having("funnel-comparison")[0]
    shown = table["tbody"] + table["tfoot"]
    assert len(rows) == len(shown) == 6
    for line, row in zip(rows, shown, strict=True):
        line = dict(zip(header, line, strict=True))
        cells = [text for text, _time in row]
        assert (line["variant_a"], line["variant_b"], line["method"]) == (
            "hidden",
            "shown",
            "sequential",
        )
        for index, column in (
            (1, "previous_rate_a"),
            (2, "previous_rate_b"),
            (4, "entry_rate_a"),
            (5, "entry_rate_b"),
        ):
            expected = float(line[column]) if line[column] else None
            assert share(cells[index]) == pytest.approx(expected, abs=5e-4)
        for index, column in ((8, "entry_p_value"), (9, "entry_adjusted_p_value")):
            if line[column]:
                p = float(line[column])
                assert cells[index].startswith("< 0.001" if p < 0.001 else f"{p:.3f}")
        assert ("significant" in cells[9]) == (line["entry_significant"] == "1")
        assert ("(primary)" in cells[0]) == (line["primary"] == "1")
    assert rows[-1][2] == "finished"


def test_the_cohorts_csv_equals_the_table(analyst, wizard_pk, log):
    html = analyst.get(page_url(wizard_pk)).content.decode()
    header, *rows = csv_rows(analyst.get(csv_url(wizard_pk, "cohorts")))

    shown = Tables(html).having("funnel-cohorts")[0]["tbody"]
    assert header == [
        "week",
        "entered",
        "signup",
        "profile",
        "project",
        "invite",
        "publish",
        "finished",
        "final",
    ]
    assert [row[0] for row in rows] == ["2025-03-03", "2025-03-10"]
    for line, row in zip(rows, shown, strict=True):
        cells = [text for text, _time in row]
        assert number(cells[1]) == int(line[1])
        for text, value in zip(cells[2:8], line[2:8], strict=True):
            assert share(text) == pytest.approx(float(value), abs=5e-4)
        assert (cells[8] == "Final") == (line[8] == "1")


def test_the_stuck_csv_equals_the_list(analyst, wizard_pk, log):
    html = analyst.get(page_url(wizard_pk, step="project")).content.decode()
    header, *rows = csv_rows(analyst.get(csv_url(wizard_pk, "stuck", "?step=project&page=1")))

    shown = Tables(html).having("funnel-stuck")[0]["tbody"]
    assert len(rows) == len(shown) == 2
    for line, row in zip(rows, shown, strict=True):
        line = dict(zip(header, line, strict=True))
        assert row[0][0] == line["subject"]
        assert row[3][1] == line["entered_at"]
        assert row[4][1] == line["waiting_since"]
        assert seconds(row[5][1]) == pytest.approx(float(line["waited_seconds"]), abs=5)
        assert (row[6][0] == "Inside") == (line["inside_window"] == "1")
    expected = stuck_subjects("wizard", "project", page_size=None)
    assert [line[2] for line in rows] == [one.label for one in expected.subjects]


# Bad input and empty flows -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"entered_from": "2025-13-01"}, "entered_from", "Enter a valid date."),
        (
            {"entered_from": "2025-03-05", "entered_to": "2025-03-01"},
            "entered_to",
            "Must not be before",
        ),
        ({"window_days": "0"}, "window_days", "greater than or equal to 1"),
        ({"window_days": "many"}, "window_days", "Enter a whole number."),
        ({"window_days": "99999"}, "window_days", "less than or equal to 3650"),
        ({"variant": "purple"}, "variant", "purple is not one of the available choices"),
        ({"version": "x"}, "version", "x is not one of the available choices"),
        ({"breakdown": "country"}, "breakdown", "country is not one of the available choices"),
        ({"step": "nope"}, "step", "nope is not one of the available choices"),
        ({"page": "0"}, "page", "greater than or equal to 1"),
    ],
)
def test_bad_filters_are_form_errors_not_500(analyst, wizard_pk, log, params, field, message):
    response = analyst.get(page_url(wizard_pk, **params))

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    html = response.content.decode()
    assert "Please correct the errors below." in html
    assert message.split("“")[0] in html
    assert "funnel-steps" not in html  # no numbers from a query that was not asked

    csv_response = analyst.get(
        csv_url(wizard_pk, "steps", "?" + "&".join(f"{k}={v}" for k, v in params.items()))
    )
    assert csv_response.status_code == 400
    assert field in csv_response.content.decode()


def test_a_flow_with_no_data(analyst, wizard_pk):
    response = analyst.get(page_url(wizard_pk))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Nobody entered this flow in the chosen range." in html
    rows = steps_rows(html)
    assert [row[2][0] for row in rows] == ["0"] * 6
    assert rows[0][3][0] == "\u2013"
    assert "Nobody is stuck here." in html
    assert csv_rows(analyst.get(csv_url(wizard_pk, "stuck")))[1:] == []


# Cost ----------------------------------------------------------------------------------


def test_the_number_of_queries_does_not_grow_with_subjects(analyst, wizard_pk, ab_log):
    url = page_url(wizard_pk, breakdown="version")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert analyst.get(url).status_code == 200
        return len(captured)

    before = queries()
    for _index in range(30):
        user = UserFactory()
        walk(user, [("signup", 0 * H, "completed"), ("profile", 5 * MIN, "completed")], T0 + D)
    after = queries()

    assert before == after
    # 27 on SQLite (the entry range, stale cohorts and entry rates added a few this
    # round); PostgreSQL adds a savepoint and SET LOCAL per funnel statement (43).
    assert after <= 50, after
