"""The admin funnel page in a real browser: the numbers a product manager reads, the
filters applied through the form (no script), and the CSV it downloads."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from onboarding import track
from onboarding.funnel import FunnelQuery
from onboarding.funnel.paths import rebuild_paths
from onboarding.models import FlowRecord, Progress
from onboarding.sync import sync_flows
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)
STEPS = ["signup", "profile", "project", "invite", "publish"]


@pytest.fixture
def funnel_page(signed_in, live_server):
    """A signed-in page on the wizard's funnel, for a staff user with view_funnel."""
    # Subject i enters on day i and does the first (i % 5) + 1 steps, a minute apart.
    for index, user in enumerate(UserFactory.create_batch(12)):
        for position, step in enumerate(STEPS[: index % 5 + 1]):
            at = T0 + timedelta(days=index, minutes=position)
            track(user, "wizard", step, occurred_at=at)
    sync_flows()
    analyst = UserFactory(is_staff=True)
    analyst.user_permissions.add(Permission.objects.get(codename="view_funnel"))
    page = signed_in(analyst)
    pk = FlowRecord.objects.get(key="wizard").pk
    page.goto(live_server.url + reverse("admin:onboarding_flowrecord_funnel", args=[pk]))
    return page


def table_rows(page):
    """The everyone table's body rows as lists of cell texts."""
    return (
        page.locator("table.funnel-steps")
        .first.locator("tbody tr")
        .evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))")
    )


def test_the_page_shows_the_numbers_of_the_funnel(funnel_page, screenshots):
    result = FunnelQuery(flow="wizard").run()

    rows = table_rows(funnel_page)

    assert [row[0] for row in rows] == [
        "Sign up",
        "Fill in your profile",
        "Create a project",
        "Invite a colleague (optional)",
        "Publish",
    ]
    assert [int(row[2]) for row in rows] == [step.reached for step in result.steps]
    assert [int(row[5]) for row in rows] == [step.drop_off for step in result.steps]
    assert [row[4] for row in rows] == [
        f"{step.conversion_from_entry * 100:.1f} %" for step in result.steps
    ]
    # 12 subjects doing 1, 2, 3, 4, 5, 1, 2, ... steps.
    assert [step.reached for step in result.steps] == [12, 9, 6, 4, 2]
    assert funnel_page.locator("#summary-entered").inner_text() == "12"
    assert funnel_page.locator("svg.funnel-chart rect.bar.step").count() == 5
    assert funnel_page.get_by_role("img", name="Funnel of wizard").count() == 1
    funnel_page.screenshot(path=str(screenshots / "admin-funnel.png"), full_page=True)


def test_the_finished_row_lines_up_with_the_rows_above(funnel_page):
    # Admin's "tfoot td" padding (5px 10px) set the footer's numbers off the columns
    # above and above the row's own label.
    def boxes(selector):
        return funnel_page.locator(selector).first.evaluate(
            "row => [...row.cells].map(c => { const s = getComputedStyle(c);"
            " return [s.paddingTop, s.paddingRight]; })"
        )

    body = boxes("table.funnel-steps tbody tr")
    footer = boxes("table.funnel-steps tfoot tr")

    assert footer == body
    assert len(set(map(tuple, footer))) == 1


def test_the_filter_form_changes_the_numbers(funnel_page):
    funnel_page.fill("#id_entered_from", "2025-03-08")  # day 5: subjects 5 to 11
    funnel_page.get_by_role("button", name="Apply").click()
    funnel_page.wait_for_url("**entered_from=2025-03-08**")

    later = FunnelQuery(flow="wizard", entered_from=date(2025, 3, 8)).run()
    assert funnel_page.locator("#summary-entered").inner_text() == "7"
    assert [int(row[2]) for row in table_rows(funnel_page)] == [7, 5, 3, 2, 1]
    assert [step.reached for step in later.steps] == [7, 5, 3, 2, 1]
    assert funnel_page.input_value("#id_entered_from") == "2025-03-08"


def test_the_csv_download_equals_the_table(funnel_page):
    rows = table_rows(funnel_page)

    with funnel_page.expect_download() as download:
        funnel_page.get_by_role("link", name="Download the steps as CSV").click()
    with open(download.value.path(), encoding="utf-8") as file:
        text = file.read()

    header, *lines = list(csv.reader(io.StringIO(text)))
    lines = [dict(zip(header, line, strict=True)) for line in lines]
    assert [line["reached"] for line in lines[:-1]] == [row[2] for row in rows]
    assert [line["drop_off"] for line in lines[:-1]] == [row[5] for row in rows]
    assert download.value.suggested_filename == "wizard-steps.csv"


def test_the_comparison_table_fits_a_1280_px_window(signed_in, live_server):
    # The interval column unbroken and "significant" beside each p pushed "Corrected p"
    # past the box's edge, behind a scroll bar a product manager does not see.
    for variant, finishers in (("hidden", 2), ("shown", 8)):
        for index in range(10):
            user = UserFactory()
            for position, step in enumerate(STEPS if index < finishers else STEPS[:2]):
                track(user, "wizard", step, occurred_at=T0 + timedelta(minutes=position))
            Progress.objects.filter(subject_id=str(user.pk)).update(variant=variant)
    rebuild_paths(["wizard"])
    sync_flows()
    analyst = UserFactory(is_staff=True)
    analyst.user_permissions.add(Permission.objects.get(codename="view_funnel"))
    page = signed_in(analyst, viewport={"width": 1280, "height": 900})
    pk = FlowRecord.objects.get(key="wizard").pk
    url = reverse("admin:onboarding_flowrecord_funnel", args=[pk])
    page.goto(f"{live_server.url}{url}?test=fixed")

    table = page.locator("table.funnel-comparison")
    assert table.locator("strong.note").count() > 0  # the widest case: notes shown
    widths = table.evaluate(
        "t => ({table: t.scrollWidth, box: t.parentElement.clientWidth,"
        " window: document.documentElement.clientWidth,"
        " right: t.getBoundingClientRect().right})"
    )
    assert widths["table"] <= widths["box"]
    assert widths["right"] <= widths["window"]
