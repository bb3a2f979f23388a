"""A/B statistics: the two-proportion z-test, sample sizes and the verdict."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from onboarding import track
from onboarding.experiments import sample_size
from onboarding.funnel import (
    FunnelQuery,
    FunnelResult,
    StepResult,
    compare_variants,
    sample_size_per_variant,
    two_proportion_z_test,
)
from tests.factories import UserFactory

NOW = datetime(2024, 3, 4, tzinfo=ZoneInfo("UTC"))


def test_z_test_known_values():
    # By hand: pooled p = 172/200 = 0.86, se = sqrt(0.86 * 0.14 * (1/100 + 1/100))
    # = 0.0490714, z = 0.08 / se = 1.63028, p = 2 * (1 - Phi(1.63028)) = 0.10304.
    test = two_proportion_z_test(82, 100, 90, 100)
    assert test.rate_a == 0.82
    assert test.rate_b == 0.90
    assert test.difference == pytest.approx(0.08)
    assert test.z == pytest.approx(1.63028, abs=1e-5)
    assert test.p_value == pytest.approx(0.10304, abs=1e-5)
    # Ten times the sample: z = 5.15539, p = 2.531e-7.
    big = two_proportion_z_test(820, 1000, 900, 1000)
    assert big.z == pytest.approx(5.15539, abs=1e-5)
    assert big.p_value == pytest.approx(2.531e-7, rel=1e-3)


def test_z_test_is_symmetric_and_two_sided():
    there = two_proportion_z_test(30, 120, 45, 110)
    back = two_proportion_z_test(45, 110, 30, 120)
    assert back.z == pytest.approx(-there.z)
    assert back.p_value == pytest.approx(there.p_value)
    # Two-sided: p = erfc(|z| / sqrt 2), the tails on both sides of the normal.
    assert there.p_value == pytest.approx(math.erfc(abs(there.z) / math.sqrt(2)))


def test_z_test_without_variation_has_no_evidence():
    assert two_proportion_z_test(0, 10, 0, 20).p_value == 1.0
    assert two_proportion_z_test(10, 10, 20, 20).z == 0.0


@pytest.mark.parametrize("args", [(1, 0, 1, 1), (5, 4, 1, 1), (-1, 4, 1, 1)])
def test_z_test_refuses_impossible_counts(args):
    with pytest.raises(ValueError, match="successes <= total"):
        two_proportion_z_test(*args)


def test_sample_size_known_values():
    # (1.95996 * sqrt(2 * 0.86 * 0.14) + 0.84162 * sqrt(0.82 * 0.18 + 0.9 * 0.1))^2 / 0.08^2
    # = (0.96177 + 0.41024)^2 / 0.0064 = 294.1 -> 295 per variant.
    assert sample_size_per_variant(0.82, 0.90) == 295
    assert sample_size_per_variant(0.90, 0.82) == 295
    assert sample_size_per_variant(0.5, 0.6) == 388  # tables give 385-388 by formula
    assert sample_size_per_variant(0.5, 0.6, power=0.9) > 388
    assert sample_size_per_variant(0.3, 0.3) is None


def funnel(entered: int, finished: int, reached: int | None = None) -> FunnelResult:
    step = StepResult(
        key="customize",
        title="Customize",
        optional=False,
        previous=None,
        reached=finished if reached is None else reached,
        previous_reached=entered,
        entered=entered,
        defaulted=0,
        median_time=None,
        p90_time=None,
    )
    return FunnelResult(
        flow="bingo",
        ordered=True,
        window_days=14,
        entered=entered,
        finished=finished,
        median_time_to_finish=None,
        p90_time_to_finish=None,
        steps=[step],
        computed_at=NOW,
    )


def by_variant(**groups: FunnelResult) -> FunnelResult:
    whole = funnel(
        sum(g.entered for g in groups.values()), sum(g.finished for g in groups.values())
    )
    return FunnelResult(**{**whole.__dict__, "breakdown": "variant", "groups": groups})


# Verdicts are the always-valid sequential test's by default (EXPERIMENT_TEST); the
# fixed-horizon z-test is an option, labelled valid only at a size fixed in advance.
# The planner sizes the test for the minimum detectable effect (2 points by default),
# not for the difference observed so far (that would be post-hoc power).


def test_verdict_significant_with_the_fixed_test():
    result = by_variant(hidden=funnel(321, 263), shown=funnel(321, 289))
    comparison = compare_variants(result, "hidden", "shown", method="fixed")
    assert comparison.significant
    assert comparison.test.p_value == pytest.approx(0.00312, abs=1e-5)
    assert comparison.verdict == (
        "shown finishes 8.1 points more often than hidden (95 % interval +2.8 to +13.4 "
        "points; fixed-horizon p = 0.003): significant, if the sample size was fixed in "
        "advance."
    )


def test_the_same_counts_are_not_yet_significant_for_the_sequential_test():
    result = by_variant(hidden=funnel(321, 263), shown=funnel(321, 289))
    comparison = compare_variants(result, "hidden", "shown")
    assert comparison.method == "sequential"
    assert not comparison.significant
    assert comparison.test.p_value == pytest.approx(0.152, abs=1e-3)
    assert comparison.verdict == (
        "shown finishes 8.1 points more often than hidden (95 % interval \u22121.8 to +18.0 "
        "points; always-valid p = 0.152): not significant yet; keep the test running."
    )


def test_the_plan_is_for_the_minimum_detectable_effect():
    result = by_variant(A=funnel(100, 82), B=funnel(100, 90))
    comparison = compare_variants(result)  # two undeclared variants: in name order
    assert (comparison.a, comparison.b) == ("A", "B")
    assert not comparison.significant
    # A change of 2 points either way: the larger size, 82 % -> 80 % (nearer one half).
    assert comparison.needed_per_variant == sample_size(0.82, -0.02, method="sequential")
    assert comparison.needed_per_variant > sample_size(0.82, 0.02, method="sequential")
    assert comparison.more_needed == comparison.needed_per_variant - 100
    fixed = compare_variants(result, method="fixed")
    assert fixed.needed_per_variant == sample_size_per_variant(0.82, 0.80)


def test_verdict_for_a_worse_variant_and_tiny_p():
    result = by_variant(A=funnel(1000, 900), B=funnel(1000, 820))
    assert compare_variants(result, "A", "B").verdict == (
        "B finishes 8.0 points less often than A (95 % interval \u221212.8 to \u22123.2 points; "
        "always-valid p < 0.001): significant."
    )


def test_verdict_without_difference_or_data():
    same = by_variant(A=funnel(50, 25), B=funnel(40, 20))
    assert compare_variants(same).verdict.startswith("B and A finish equally often (95 % ")
    assert compare_variants(same).verdict.endswith("not significant yet; keep the test running.")
    empty = by_variant(A=funnel(0, 0), B=funnel(10, 5))
    assert compare_variants(empty).test is None
    assert compare_variants(empty).verdict == (
        "Not enough data: both A and B need subjects to compare."
    )


def optional_step(result: FunnelResult) -> FunnelResult:
    """``result`` with its one step optional, so that step is not the finish count."""
    return replace(result, steps=[replace(step, optional=True) for step in result.steps])


def test_per_step_comparison_is_holm_corrected():
    result = optional_step(
        by_variant(
            A=optional_step(funnel(200, 100, reached=150)),
            B=optional_step(funnel(200, 120, reached=170)),
        )
    )
    comparison = compare_variants(result, method="fixed")
    step = comparison.steps[0]
    assert step.key == "customize"
    assert (step.test.rate_a, step.test.rate_b) == (0.75, 0.85)
    assert step.test.p_value == pytest.approx(two_proportion_z_test(150, 200, 170, 200).p_value)
    # The finish rate is the primary metric; the step is the only secondary one.
    assert step.result.family == 1 and step.adjusted_p_value == step.test.p_value
    assert comparison.primary == "finished" and comparison.finished_result.primary


def test_compare_needs_a_variant_breakdown_and_known_names():
    plain = funnel(10, 5)
    with pytest.raises(ValueError, match="breakdown='variant'"):
        compare_variants(plain)
    three = by_variant(A=funnel(1, 1), B=funnel(1, 1), C=funnel(1, 1))
    with pytest.raises(ValueError, match="there are 3 \\(A, B, C\\)"):
        compare_variants(three)
    with pytest.raises(ValueError, match="No variant 'D'"):
        compare_variants(three, "A", "D")


@pytest.mark.django_db
def test_compare_on_a_tracked_flow():
    users = UserFactory.create_batch(12)
    for index, user in enumerate(users):
        track(user, "checklist", "a", occurred_at=NOW)
        if index % 3:
            for step in ("b", "c"):
                track(user, "checklist", step, occurred_at=NOW)
    # The checklist declares no variants: everyone is in variant "".
    result = FunnelQuery(flow="checklist", breakdown="variant").run()
    assert list(result.groups) == [""]
    with pytest.raises(ValueError, match="there are 1"):
        compare_variants(result)
    wizard = FunnelQuery(flow="wizard", breakdown="variant").run()
    comparison = compare_variants(wizard, "hidden", "shown")
    assert comparison.test is None
