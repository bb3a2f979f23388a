"""Funnel analytics: a typed query layer over progress, as DESIGN.md defines it.

Rules (the contract the tests check against an independent implementation):

* Population: subjects whose entry (``Progress.entered_at``, the earliest event of
  the flow) falls on a local date in ``[entered_from, entered_to]``; a breakdown by
  entry week first cuts that range to the flow's data (``FunnelQuery.entry_range``).
* A step's time is its first completion (``StepState.completed_at``); it counts only
  when ``time - entry <= window`` (the window's last microsecond included).
* Ordered flows: step k is reached when every required step before it is reached,
  their times and step k's are non-decreasing; optional steps are reported but do
  not gate. A step is measured from the nearest required step before it (entry for
  none). Any-order flows: a step is reached when done, measured from entry.
* ``finished``: every required step reached; its time runs from entry to the last
  of them. Median and p90 are nearest-rank: the value at rank ``ceil(p * n)``.

Steps are the flow's current declaration for every version.
"""

from __future__ import annotations

from onboarding.exceptions import InvalidQuery
from onboarding.funnel.cohorts import CohortRow, CohortTable, cohort_table
from onboarding.funnel.compare import StepComparison, VariantComparison, compare_variants
from onboarding.funnel.experiment import FunnelExperiment, entry_rates, funnel_experiment
from onboarding.funnel.export import cohort_rows, funnel_rows, stuck_rows, write_csv
from onboarding.funnel.query import BREAKDOWNS, Breakdown, EntryRange, FunnelQuery
from onboarding.funnel.result import FunnelResult, StepResult
from onboarding.funnel.stats import ZTest, sample_size_per_variant, two_proportion_z_test
from onboarding.funnel.stuck import StuckPage, StuckSubject, stuck_subjects

__all__ = [
    "BREAKDOWNS",
    "Breakdown",
    "CohortRow",
    "CohortTable",
    "EntryRange",
    "FunnelExperiment",
    "FunnelQuery",
    "FunnelResult",
    "InvalidQuery",
    "StepComparison",
    "StepResult",
    "StuckPage",
    "StuckSubject",
    "VariantComparison",
    "ZTest",
    "cohort_rows",
    "cohort_table",
    "compare_variants",
    "entry_rates",
    "funnel_experiment",
    "funnel_rows",
    "sample_size_per_variant",
    "stuck_rows",
    "stuck_subjects",
    "two_proportion_z_test",
    "write_csv",
]
