"""The funnel page's SVG chart and number formats: pure functions of a typed result."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree

import pytest
from django.utils import translation

from onboarding.admin_funnel.chart import HEIGHT, PLOT, TOP, describe, funnel_svg
from onboarding.admin_funnel.formatting import (
    count,
    duration,
    iso_duration,
    p_value,
    percent,
    points,
)
from onboarding.funnel import FunnelResult, StepResult

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2025, 3, 3, tzinfo=timezone.utc)


def step(key, reached, previous_reached, *, entered=200, previous=None, title=None, optional=False):
    return StepResult(
        key=key,
        title=title or key.title(),
        optional=optional,
        previous=previous,
        reached=reached,
        previous_reached=previous_reached,
        entered=entered,
        defaulted=0,
        median_time=None,
        p90_time=None,
    )


def result(steps, entered=200, finished=None):
    return FunnelResult(
        flow="wizard",
        ordered=True,
        window_days=14,
        entered=entered,
        finished=steps[-1].reached if finished is None and steps else (finished or 0),
        median_time_to_finish=None,
        p90_time_to_finish=None,
        steps=steps,
        computed_at=NOW,
    )


@pytest.fixture
def funnel():
    """200 entered; signup 200, profile 150, invite (optional) 30, publish 90 from profile."""
    return result(
        [
            step("signup", 200, 200),
            step("profile", 150, 200, previous="signup"),
            step("invite", 30, 150, previous="profile", optional=True),
            step("publish", 90, 150, previous="profile"),
        ]
    )


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # well-formed XML, or this raises


def bars(root, css="bar"):
    return [rect for rect in root.iter(f"{SVG}rect") if css in rect.get("class", "").split()]


def test_the_chart_is_accessible_svg(funnel):
    root = parse(funnel_svg(funnel, chart_id="c1"))

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").get("id") == "c1-title"
    desc = root.find(f"{SVG}desc")
    assert desc.get("id") == "c1-desc"
    assert desc.text == describe(funnel)
    assert desc.text == (
        "200 entered. Signup: 200 (100.0 %). Profile: 150 (75.0 %), 50 dropped off. "
        "Invite: 30 (15.0 %), 120 dropped off. Publish: 90 (45.0 %), 60 dropped off. "
        "Finished: 90 (45.0 %)."
    )


def test_one_bar_per_step_as_tall_as_its_share_of_entered(funnel):
    root = parse(funnel_svg(funnel))

    found = bars(root)
    assert [bar.get("data-step") for bar in found] == ["signup", "profile", "invite", "publish"]
    heights = [float(bar.get("height")) for bar in found]
    assert heights == pytest.approx([PLOT, PLOT * 0.75, PLOT * 0.15, PLOT * 0.45], abs=0.1)
    # Bars stand on the baseline and never leave the drawing.
    for bar in found:
        assert float(bar.get("y")) + float(bar.get("height")) == pytest.approx(TOP + PLOT, abs=0.1)
    assert found[2].get("class") == "bar step optional"


def test_the_drop_off_sits_between_a_bar_and_its_previous_steps_level(funnel):
    root = parse(funnel_svg(funnel))

    drops = {rect.get("data-step"): rect for rect in bars(root, "dropoff")}
    assert set(drops) == {"profile", "invite", "publish"}  # nothing lost before signup
    # Publish is measured from profile (150), not from the optional invite beside it.
    publish = drops["publish"]
    assert float(publish.get("y")) == pytest.approx(TOP + PLOT * 0.25, abs=0.1)
    assert float(publish.get("height")) == pytest.approx(PLOT * 0.30, abs=0.1)
    assert publish.find(f"{SVG}title").text == "60 lost since Profile (40.0 %)"
    labels = [
        "".join(text.itertext())
        for group in root.iter(f"{SVG}g")
        if group.get("class") == "dropoff-label"
        for text in group
    ]
    assert labels == [
        "\u221250",
        "\u221225.0 %",
        "\u2212120",
        "\u221280.0 %",
        "\u221260",
        "\u221240.0 %",
    ]


def title_lines(root, key):
    """The text lines under the bar of ``key`` (same x as the bar's middle)."""
    bar = next(bar for bar in bars(root) if bar.get("data-step") == key)
    middle = float(bar.get("x")) + float(bar.get("width")) / 2
    return [
        text.text
        for text in root.iter(f"{SVG}text")
        if text.get("x") == f"{middle:.1f}" and float(text.get("y")) > TOP + PLOT + 20
    ]


def test_titles_are_escaped():
    svg = funnel_svg(result([step("a", 5, 10, entered=10, title="<b>Invite</b> & go")], entered=10))

    assert "<b>" not in svg
    assert "&lt;b&gt;Invite&lt;/b&gt; &amp; go" in svg
    assert title_lines(parse(svg), "a") == ["<b>Invite</b> & go"]


def test_long_titles_wrap_on_two_lines_and_optional_steps_say_so():
    steps = [step(key, 1, 1, entered=1) for key in "abcd"]
    steps.append(
        step("e", 1, 1, entered=1, optional=True, title="Invite every colleague you work with")
    )

    lines = title_lines(parse(funnel_svg(result(steps, entered=1))), "e")

    assert lines == ["Invite every", "colleague you work …"]
    assert title_lines(parse(funnel_svg(result(steps[3:], entered=1))), "e") == [
        "Invite every colleague you work with (optional)"
    ]


def test_an_empty_funnel_says_so_and_still_draws_every_step():
    empty = result(
        [step("a", 0, 0, entered=0), step("b", 0, 0, entered=0, previous="a")], entered=0
    )

    root = parse(funnel_svg(empty))

    assert [float(bar.get("height")) for bar in bars(root)] == [0, 0]
    assert not bars(root, "dropoff")
    assert "Nobody entered this flow in the chosen range." in "".join(root.itertext())
    assert root.get("viewBox") == f"0 0 760 {HEIGHT}"


def test_two_charts_on_one_page_keep_their_ids_apart(funnel):
    first, second = funnel_svg(funnel, chart_id="a"), funnel_svg(funnel, chart_id="b")

    assert set(re.findall(r'id="([^"]+)"', first)).isdisjoint(re.findall(r'id="([^"]+)"', second))
    assert 'fill="url(#b-hatch)"' in second


# Formats --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "\u2013"),
        (timedelta(0), "0 s"),
        (timedelta(milliseconds=300), "under 1 s"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(seconds=59.6), "1 min"),
        (timedelta(minutes=2, seconds=5), "2 min 5 s"),
        (timedelta(hours=3, minutes=20, seconds=59), "3 h 20 min"),
        (timedelta(hours=1, seconds=30), "1 h"),
        (timedelta(days=2, hours=4, minutes=5), "2 d 4 h"),
        (timedelta(days=1200), "1,200 d"),
    ],
)
def test_durations_read_in_their_two_largest_units(value, text):
    assert duration(value) == text


def test_iso_durations_are_exact_seconds():
    assert iso_duration(timedelta(hours=1, milliseconds=500)) == "PT3600.5S"
    assert iso_duration(timedelta(0)) == "PT0S"
    assert iso_duration(None) == ""


def test_numbers_rates_points_and_p_values():
    assert count(1234567) == "1,234,567"
    assert (percent(0.8999), percent(1 / 3), percent(None)) == ("90.0 %", "33.3 %", "\u2013")
    assert (points(0.081), points(-0.011), points(0.0001)) == (
        "+8.1 pts",
        "\u22121.1 pts",
        "\u00b10.0 pts",
    )
    assert (p_value(0.0004), p_value(0.01349), p_value(None)) == ("< 0.001", "0.013", "\u2013")


def test_formats_follow_the_active_language():
    with translation.override("de"):
        assert percent(0.755) == "75,5 %"
        assert count(3000) == "3.000"
