"""CSV downloads of the funnel page: one per table, with the same rows as the page.

Steps, cohorts and stuck subjects use the query layer's rows (the API's CSV has the
same columns); the variant comparison, which only the page has, is written here.
Rates are fractions with 4 decimals, differences too, p-values 6 decimals.
"""

from __future__ import annotations

import csv

from django.http import HttpResponse

from onboarding.admin_funnel import report
from onboarding.admin_funnel.report import Comparison
from onboarding.funnel import FunnelQuery, ZTest, cohort_rows, funnel_rows, stuck_rows
from onboarding.funnel.export import Row, fraction
from onboarding.funnel.stuck import Where

COMPARISON_HEADER = [
    "variant_a",
    "variant_b",
    "step",
    "title",
    "previous_rate_a",
    "previous_rate_b",
    "previous_difference",
    "previous_p_value",
    "previous_significant",
    "entry_rate_a",
    "entry_rate_b",
    "entry_difference",
    "entry_p_value",
    "entry_significant",
]


def _test(test: ZTest | None, alpha: float, *, rates: bool = True) -> Row:
    if test is None:
        return ["", "", "", "", ""] if rates else ["", "", ""]
    tail = [
        f"{test.difference:.4f}",
        f"{test.p_value:.6f}",
        int(test.p_value < alpha),
    ]
    return [fraction(test.rate_a), fraction(test.rate_b), *tail] if rates else tail


def comparison_rows(comparisons: list[Comparison]) -> list[Row]:
    """One row per step and a ``finished`` row, for every pair of variants compared."""
    rows: list[Row] = [COMPARISON_HEADER]
    for comparison in comparisons:
        variants = comparison.variants
        pair = [variants.a, variants.b]
        for step in comparison.steps:
            rows.append(
                [
                    *pair,
                    step.key,
                    step.title,
                    fraction(step.previous_a),
                    fraction(step.previous_b),
                    *_test(step.previous_test, variants.alpha, rates=False),
                    *_test(step.entry_test, variants.alpha),
                ]
            )
        rows.append(
            [*pair, "finished", "", "", "", "", "", "", *_test(variants.test, variants.alpha)]
        )
    return rows


TABLES = ("steps", "comparison", "cohorts", "stuck")


def table_rows(
    table: str, query: FunnelQuery, *, step: str | None = None, where: Where | None = None
) -> list[Row]:
    """The rows of one of the page's ``TABLES``, computing only what that table needs.

    The stuck list is written whole (every page), for retargeting.
    """
    if table == "steps":
        return funnel_rows(query.run())
    if table == "comparison":
        return comparison_rows(report.comparisons(report.variant_result(query)))
    if table == "cohorts":
        return cohort_rows(report.cohorts(query))
    if table == "stuck":
        target = step or report.worst_step(query.run())
        return stuck_rows(report.stuck(query, target, where=where, page_size=None))
    raise ValueError(f"Unknown table {table!r}; use one of {', '.join(TABLES)}.")


def csv_response(rows: list[Row], filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    csv.writer(response).writerows(rows)
    return response
