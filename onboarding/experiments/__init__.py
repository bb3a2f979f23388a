"""Experiment statistics: numbers in, numbers out, the standard library only.

No Django, no request, no model: the funnel's variants, nudges against their holdouts
and any outcome metric (retention, paid conversion) are judged by the same code.
The method and its citations are in docs/experiments.md; :mod:`.wording` (which uses
Django's translation) turns results into sentences.
"""

from __future__ import annotations

from onboarding.experiments.analysis import (
    EFFECT,
    Analysis,
    Arm,
    Design,
    MetricResult,
    analyze,
    difference_test,
)
from onboarding.experiments.multiple import benjamini_hochberg, holm
from onboarding.experiments.planning import Plan, days_needed, detectable_effect, plan, power
from onboarding.experiments.planning import sample_size as sample_size
from onboarding.experiments.proportions import (
    ALPHA,
    METHODS,
    POWER,
    DifferenceTest,
    Method,
    Proportion,
    z_test,
)
from onboarding.experiments.sequential import TUNING, running, sequential_test
from onboarding.experiments.srm import SRM_THRESHOLD, SampleRatio, chi_square_sf, sample_ratio

__all__ = [
    "ALPHA",
    "EFFECT",
    "METHODS",
    "POWER",
    "SRM_THRESHOLD",
    "TUNING",
    "Analysis",
    "Arm",
    "Design",
    "DifferenceTest",
    "Method",
    "MetricResult",
    "Plan",
    "Proportion",
    "SampleRatio",
    "analyze",
    "benjamini_hochberg",
    "chi_square_sf",
    "days_needed",
    "detectable_effect",
    "difference_test",
    "holm",
    "plan",
    "power",
    "running",
    "sample_ratio",
    "sample_size",
    "sequential_test",
    "z_test",
]
