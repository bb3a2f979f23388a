"""The funnel page's tables as rows of cells: the template only lays them out.

Each table here has a CSV twin with the same rows (:mod:`onboarding.admin_funnel.exports`):
the page writes numbers for people (``75.0 %``, ``3 h 20 min``), the CSV for machines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from onboarding.admin_funnel.formatting import (
    DASH,
    count,
    duration,
    iso_duration,
    p_value,
    percent,
    points,
)
from onboarding.admin_funnel.report import Comparison
from onboarding.experiments import DifferenceTest, MetricResult
from onboarding.funnel import CohortTable, FunnelResult, StuckPage

NBSP = "\u00a0"


@dataclass(frozen=True)
class Cell:
    """``text`` as shown; ``time`` the machine form of a duration or moment (``<time>``);
    ``wrap`` lets a long numeric cell break between words (an interval's two bounds)."""

    text: str
    time: str = ""
    header: bool = False
    numeric: bool = True
    note: str = ""
    wrap: bool = False


@dataclass(frozen=True)
class Column:
    label: str
    span: int = 1
    help: str = ""


@dataclass(frozen=True)
class Table:
    """An accessible table: a caption, one or two header rows, body and footer rows."""

    caption: str
    headers: list[list[Column]]
    rows: list[list[Cell]]
    footer: list[list[Cell]] = field(default_factory=list)
    css: str = ""
    groups: tuple[int, ...] = ()  # spans of <colgroup>s, to set groups of columns apart

    @property
    def width(self) -> int:
        """Columns in the table (for a row spanning all of them)."""
        return sum(column.span for column in self.headers[-1])

    @property
    def glossary(self) -> list[Column]:
        """The columns that explain themselves, for a legend under the table."""
        return [column for header in self.headers for column in header if column.help]


def _label(text: str) -> Cell:
    return Cell(text, header=True, numeric=False)


def _duration(value: timedelta | None) -> Cell:
    return Cell(duration(value), time=iso_duration(value))


def _moment(value: datetime) -> Cell:
    local = timezone.localtime(value)
    return Cell(formats.date_format(local, "SHORT_DATETIME_FORMAT"), time=value.isoformat())


def steps_table(result: FunnelResult, caption: str) -> Table:
    """Per step: reached, conversions, drop-off, defaults and times; then ``Finished``."""
    titles = {step.key: str(step.title) for step in result.steps}
    rows = []
    for step in result.steps:
        title = titles[step.key] + (" " + _("(optional)") if step.optional else "")
        rows.append(
            [
                _label(title),
                Cell(titles[step.previous] if step.previous else _("Entry"), numeric=False),
                Cell(count(step.reached)),
                Cell(percent(step.conversion_from_previous)),
                Cell(percent(step.conversion_from_entry)),
                Cell(count(step.drop_off)),
                Cell(
                    _("%(share)s (%(count)s)")
                    % {"share": percent(step.defaulted_share), "count": count(step.defaulted)}
                ),
                _duration(step.median_time),
                _duration(step.p90_time),
            ]
        )
    finished = [
        _label(_("Finished")),
        Cell(_("Entry"), numeric=False),
        Cell(count(result.finished)),
        Cell(percent(None)),
        Cell(percent(result.finish_rate)),
        Cell(count(result.entered - result.finished)),
        Cell(percent(None)),
        _duration(result.median_time_to_finish),
        _duration(result.p90_time_to_finish),
    ]
    return Table(
        caption=caption,
        headers=[
            [
                Column(_("Step")),
                Column(_("Measured from"), help=_("The previous required step, or entry.")),
                Column(_("Reached")),
                Column(_("From previous"), help=_("Conversion from the step measured from.")),
                Column(_("From entry"), help=_("Conversion from entry into the flow.")),
                Column(_("Drop-off"), help=_("Reached the previous step but not this one.")),
                Column(_("Defaulted"), help=_("Share that accepted the smart default.")),
                Column(_("Median time"), help=_("From the previous step (entry for the first).")),
                Column(_("90th percentile")),
            ]
        ],
        rows=rows,
        footer=[finished],
        css="funnel-steps",
    )


def group_caption(breakdown: str | None, name: str) -> str:
    """``Variant “shown”``, ``Version 2``, ``Week of 3 March 2025``."""
    if breakdown == "entry_week":
        week = formats.date_format(date.fromisoformat(name), "DATE_FORMAT")
        return _("Week of %(week)s") % {"week": week}
    if breakdown == "version":
        return _("Version %(number)s") % {"number": name}
    return _("Variant “%(name)s”") % {"name": name}


def interval(test: DifferenceTest) -> str:
    """``+2.8 pts to +13.4 pts``: the difference's interval at the test's level."""
    # No-break spaces inside each bound: a narrow column breaks only between the bounds.
    return _("%(lower)s to %(upper)s") % {
        "lower": points(test.lower).replace(" ", NBSP),
        "upper": points(test.upper).replace(" ", NBSP),
    }


def _test_cells(result: MetricResult | None) -> list[Cell]:
    """Rates, difference, interval, the test's p-value and the corrected one."""
    test = result.test if result else None
    if result is None or test is None:
        return [Cell(percent(None)) for _column in range(6)]
    return [
        Cell(percent(test.rate_a)),
        Cell(percent(test.rate_b)),
        Cell(points(test.difference)),
        # Wrappable: unbroken, the column pushes "Corrected p" out of a 1280 px window.
        Cell(interval(test), wrap=True),
        Cell(p_value(test.p_value)),
        Cell(
            p_value(result.adjusted_p_value),
            note=_("significant") if result.significant else "",
        ),
    ]


def _title(title: str, result: MetricResult | None) -> Cell:
    primary = result is not None and result.primary
    return _label(_("%(title)s (primary)") % {"title": title} if primary else title)


def comparison_table(comparison: Comparison) -> Table:
    """Per step, two variants side by side: conversion from the previous step (as read)
    and reach from entry (tested, corrected), then the finish rate."""
    variants = comparison.variants
    a, b = variants.a, variants.b
    rows = [
        [
            _title(step.title, step.entry),
            Cell(percent(step.previous_a)),
            Cell(percent(step.previous_b)),
            Cell(points(step.previous_difference)),
            *_test_cells(step.entry),
        ]
        for step in comparison.steps
    ]
    finished = [
        _title(_("Finished"), variants.finished_result),
        *[Cell(percent(None)) for _column in range(3)],
        *_test_cells(variants.finished_result),
    ]
    difference = Column(
        _("Difference"),
        help=_("%(b)s minus %(a)s, in percentage points.") % {"a": a, "b": b},
    )
    level = formats.number_format(round((1 - variants.alpha) * 100), 0)
    method = (
        _("Always-valid (sequential) test: valid however often it is read.")
        if variants.method == "sequential"
        else _("Fixed-horizon z-test: valid only at a sample size fixed in advance.")
    )
    return Table(
        caption=_("%(b)s against %(a)s") % {"a": a, "b": b},
        headers=[
            [
                Column(""),
                Column(_("Conversion from the previous step"), span=3),
                Column(_("Reach from entry"), span=6),
            ],
            [
                Column(_("Step")),
                Column(a),
                Column(b),
                difference,
                Column(a),
                Column(b),
                difference,
                Column(
                    _("%(level)s %% interval") % {"level": level},
                    help=_("Where the true difference lies, at the verdict's level."),
                ),
                Column(_("p-value"), help=method),
                Column(
                    _("Corrected p"),
                    help=_(
                        "Holm-corrected over every secondary comparison (steps and finish "
                        "rate, each variant); the primary metric is judged alone."
                    ),
                ),
            ],
        ],
        rows=rows,
        footer=[finished],
        css="funnel-comparison",
        groups=(1, 3, 6),
    )


def cohorts_table(table: CohortTable) -> Table:
    """Conversion from entry to each step by week of entry, open weeks marked."""
    rows = [
        [
            _label(formats.date_format(row.week, "SHORT_DATE_FORMAT")),
            Cell(count(row.entered)),
            *(Cell(percent(value)) for value in row.conversion),
            Cell(percent(row.finish_rate)),
            Cell(_("Final") if row.final else _("Open"), numeric=False),
        ]
        for row in table.rows
    ]
    return Table(
        caption=_("Conversion from entry by week of entry (weeks start on Monday)"),
        headers=[
            [
                Column(_("Week of")),
                Column(_("Entered")),
                *(Column(title) for title in table.titles),
                Column(_("Finished")),
                Column(
                    _("Status"),
                    help=_("Final once every subject's conversion window has closed."),
                ),
            ]
        ],
        rows=rows,
        css="funnel-cohorts",
    )


def stuck_table(page: StuckPage, caption: str) -> Table:
    rows = [
        [
            _label(one.label or f"{one.subject_type_id}:{one.subject_id}"),
            Cell(one.variant or DASH, numeric=False),
            Cell(DASH if one.version is None else str(one.version)),
            _moment(one.entered_at),
            _moment(one.waiting_since),
            _duration(one.waited),
            Cell(_("Inside") if one.inside_window else _("Past"), numeric=False),
        ]
        for one in page.subjects
    ]
    return Table(
        caption=caption,
        headers=[
            [
                Column(_("Subject")),
                Column(_("Variant")),
                Column(_("Version")),
                Column(_("Entered")),
                Column(_("Waiting since")),
                Column(_("Waited")),
                Column(_("Window"), help=_("Inside: still counts if done now.")),
            ]
        ],
        rows=rows,
        css="funnel-stuck",
    )
