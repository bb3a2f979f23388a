"""CSV downloads of the funnel page: one per table, with the same rows as the page.

Steps, cohorts and stuck subjects use the query layer's rows (the API's CSV has the
same columns); the variant comparison, which only the page has, is written here.
Rates are fractions with 4 decimals, differences and interval bounds too, p-values
6 decimals; ``entry_adjusted_p_value`` is Holm's over the secondary metrics.
"""

from __future__ import annotations

import csv

from django.http import HttpResponse

from onboarding.admin_funnel import report
from onboarding.admin_funnel.report import Comparison
from onboarding.experiments import Method, MetricResult
from onboarding.funnel import FunnelQuery, cohort_rows, funnel_rows, stuck_rows
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
    "entry_rate_a",
    "entry_rate_b",
    "entry_difference",
    "entry_lower",
    "entry_upper",
    "entry_p_value",
    "entry_adjusted_p_value",
    "entry_significant",
    "primary",
    "method",
]


def _test(result: MetricResult | None) -> Row:
    test = result.test if result else None
    if result is None or test is None:
        return ["", "", "", "", "", "", "", "", int(bool(result and result.primary))]
    return [
        fraction(test.rate_a),
        fraction(test.rate_b),
        f"{test.difference:.4f}",
        f"{test.lower:.4f}",
        f"{test.upper:.4f}",
        f"{test.p_value:.6f}",
        f"{result.adjusted_p_value:.6f}" if result.adjusted_p_value is not None else "",
        int(result.significant),
        int(result.primary),
    ]


def _difference(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def comparison_rows(comparisons: list[Comparison]) -> list[Row]:
    """One row per step and a ``finished`` row, for every variant against the control."""
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
                    _difference(step.previous_difference),
                    *_test(step.entry),
                    variants.method,
                ]
            )
        rows.append(
            [*pair, "finished", "", "", "", "", *_test(variants.finished_result), variants.method]
        )
    return rows


TABLES = ("steps", "comparison", "cohorts", "stuck")


def table_rows(
    table: str,
    query: FunnelQuery,
    *,
    step: str | None = None,
    where: Where | None = None,
    method: Method | None = None,
) -> list[Row]:
    """The rows of one of the page's ``TABLES``, computing only what that table needs.

    The stuck list is written whole (every page), for retargeting.
    """
    if table == "steps":
        return funnel_rows(query.run())
    if table == "comparison":
        by_variant = report.variant_result(query)
        found = report.experiment(query, by_variant, method=method)
        return comparison_rows(report.comparisons(by_variant, found))
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
