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
from onboarding.funnel import CohortTable, FunnelResult, StuckPage, ZTest


@dataclass(frozen=True)
class Cell:
    """``text`` as shown; ``time`` the machine form of a duration or moment (``<time>``)."""

    text: str
    time: str = ""
    header: bool = False
    numeric: bool = True
    note: str = ""


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


def _test_cells(test: ZTest | None, alpha: float) -> list[Cell]:
    if test is None:
        return [Cell(percent(None)) for _column in range(4)]
    significant = test.p_value < alpha
    return [
        Cell(percent(test.rate_a)),
        Cell(percent(test.rate_b)),
        Cell(points(test.difference)),
        Cell(p_value(test.p_value), note=_("significant") if significant else ""),
    ]


def comparison_table(comparison: Comparison) -> Table:
    """Per step, two variants side by side: conversion from the previous step and from entry."""
    variants = comparison.variants
    a, b, alpha = variants.a, variants.b, variants.alpha
    rows = [
        [
            _label(step.title),
            Cell(percent(step.previous_a)),
            Cell(percent(step.previous_b)),
            *_test_cells(step.previous_test, alpha)[2:],
            *_test_cells(step.entry_test, alpha),
        ]
        for step in comparison.steps
    ]
    finished = [
        _label(_("Finished")),
        *[Cell(percent(None)) for _column in range(4)],
        *_test_cells(variants.test, alpha),
    ]
    per_variant = [
        Column(a),
        Column(b),
        Column(
            _("Difference"),
            help=_("%(b)s minus %(a)s, in percentage points.") % {"a": a, "b": b},
        ),
        Column(_("p-value"), help=_("Two-sided, two-proportion z-test.")),
    ]
    return Table(
        caption=_("%(b)s against %(a)s") % {"a": a, "b": b},
        headers=[
            [
                Column(""),
                Column(_("Conversion from the previous step"), span=4),
                Column(_("Reach from entry"), span=4),
            ],
            [Column(_("Step")), *per_variant, *per_variant],
        ],
        rows=rows,
        footer=[finished],
        css="funnel-comparison",
        groups=(1, 4, 4),
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
