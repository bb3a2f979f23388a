"""CSV export of funnel results, stuck subjects and cohort tables.

Each ``*_rows`` function gives the table as lists (header first) straight from the
typed result; the writers put those rows through :mod:`csv`. Headers are stable
machine names. Rates are fractions with 4 decimals, durations seconds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, TextIO

from onboarding.funnel.cohorts import CohortTable
from onboarding.funnel.result import FunnelResult
from onboarding.funnel.stuck import StuckPage

Row = list[Any]


def fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def seconds(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds():.6f}".rstrip("0").rstrip(".")


FUNNEL_HEADER = [
    "group",
    "step",
    "title",
    "optional",
    "previous_step",
    "reached",
    "conversion_from_previous",
    "conversion_from_entry",
    "drop_off",
    "defaulted",
    "defaulted_share",
    "median_seconds",
    "p90_seconds",
]


def funnel_rows(result: FunnelResult) -> list[Row]:
    """One row per step and a ``finished`` row, for everyone then each breakdown group."""
    rows: list[Row] = [FUNNEL_HEADER]
    for group, one in [("", result), *result.groups.items()]:
        for step in one.steps:
            rows.append(
                [
                    group,
                    step.key,
                    step.title,
                    int(step.optional),
                    step.previous or "",
                    step.reached,
                    fraction(step.conversion_from_previous),
                    fraction(step.conversion_from_entry),
                    step.drop_off,
                    step.defaulted,
                    fraction(step.defaulted_share),
                    seconds(step.median_time),
                    seconds(step.p90_time),
                ]
            )
        rows.append(
            [
                group,
                "finished",
                "",
                0,
                "",
                one.finished,
                "",
                fraction(one.finish_rate),
                one.entered - one.finished,
                "",
                "",
                seconds(one.median_time_to_finish),
                seconds(one.p90_time_to_finish),
            ]
        )
    return rows


STUCK_HEADER = [
    "subject_type_id",
    "subject_id",
    "subject",
    "variant",
    "version",
    "entered_at",
    "waiting_since",
    "waited_seconds",
    "inside_window",
]


def stuck_rows(page: StuckPage) -> list[Row]:
    rows: list[Row] = [STUCK_HEADER]
    for one in page.subjects:
        rows.append(
            [
                one.subject_type_id,
                one.subject_id,
                one.label,
                one.variant,
                "" if one.version is None else one.version,
                one.entered_at.isoformat(),
                one.waiting_since.isoformat(),
                seconds(one.waited),
                int(one.inside_window),
            ]
        )
    return rows


def cohort_rows(table: CohortTable) -> list[Row]:
    header = ["week", "entered", *table.steps, "finished", "final"]
    rows: list[Row] = [header]
    for row in table.rows:
        rows.append(
            [
                row.week.isoformat(),
                row.entered,
                *(fraction(value) for value in row.conversion),
                fraction(row.finish_rate),
                int(row.final),
            ]
        )
    return rows


def write_csv(rows: Iterable[Row], file: TextIO) -> None:
    """Write ``rows`` to a text file (or an ``HttpResponse``) as CSV."""
    writer = csv.writer(file)
    writer.writerows(rows)
