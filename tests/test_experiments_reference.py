"""The experiment statistics against reference implementations and published examples.

statsmodels and scipy are in the ``test`` extra only; the module itself uses the
standard library.
"""

from __future__ import annotations

import gc
import math
import random

import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from onboarding.experiments import (
    Proportion,
    benjamini_hochberg,
    chi_square_sf,
    holm,
    sample_ratio,
    z_test,
)
from onboarding.experiments import sequential as seq


def p_value_sets():
    rng = random.Random(15)
    for size in (1, 2, 3, 5, 10, 25, 60):
        for _round in range(8):
            values = [rng.random() ** rng.choice((1, 3, 8)) for _index in range(size)]
            if size > 2 and rng.random() < 0.3:  # ties, as rounded p-values have
                values[1] = values[0]
            yield values


@pytest.fixture(autouse=True)
def _no_full_collections(monkeypatch):
    # multipletests runs gc.collect() on every call: 0.3 s each in a test process.
    monkeypatch.setattr(gc, "collect", lambda *args: 0)


def test_holm_equals_statsmodels_multipletests():
    for values in p_value_sets():
        rejected, expected, *_rest = multipletests(values, alpha=0.05, method="holm")
        assert holm(values) == pytest.approx(list(expected), abs=1e-12)
        assert [p <= 0.05 for p in holm(values)] == list(rejected)


def test_benjamini_hochberg_equals_statsmodels_multipletests():
    for values in p_value_sets():
        expected = multipletests(values, method="fdr_bh")[1]
        assert benjamini_hochberg(values) == pytest.approx(list(expected), abs=1e-12)


COUNTS = [
    (82, 100, 90, 100),
    (820, 1000, 900, 1000),
    (30, 120, 45, 110),
    (263, 321, 289, 321),
    (1, 7, 6, 9),
    (4870, 10000, 5130, 10000),
    (5, 5000, 17, 4900),
]


@pytest.mark.parametrize(("xa", "na", "xb", "nb"), COUNTS)
def test_fixed_horizon_equals_statsmodels(xa, na, xb, nb):
    test = z_test(Proportion(xa, na), Proportion(xb, nb))
    z, p = proportions_ztest([xb, xa], [nb, na])
    assert test.z == pytest.approx(z, rel=1e-9)
    assert test.p_value == pytest.approx(p, rel=1e-7)
    low, high = confint_proportions_2indep(xb, nb, xa, na, method="wald", compare="diff")
    assert (test.lower, test.upper) == (
        pytest.approx(low, abs=1e-12),
        pytest.approx(high, abs=1e-12),
    )


def test_chi_square_equals_scipy():
    for df in (1, 2, 3, 4, 7, 20):
        for x in (0.01, 0.5, 1, 2.5, 6, 10.83, 16, 30, 80, 300):
            assert chi_square_sf(x, df) == pytest.approx(stats.chi2.sf(x, df), rel=1e-9, abs=1e-300)


def test_sample_ratio_equals_scipy_chisquare():
    for observed, weights in (
        ({"a": 5200, "b": 4800}, {"a": 1, "b": 1}),
        ({"a": 310, "b": 290, "c": 640}, {"a": 1, "b": 1, "c": 2}),
        ({"shown": 101, "hidden": 99}, {"shown": 50, "hidden": 50}),
    ):
        split = sample_ratio(observed, weights)
        total = sum(observed.values())
        whole = sum(weights.values())
        expected = [total * weights[name] / whole for name in weights]
        chi, p = stats.chisquare([observed[name] for name in weights], expected)
        assert split.chi_square == pytest.approx(chi)
        assert split.p_value == pytest.approx(p, rel=1e-9)


# The sequential test -------------------------------------------------------------------
#
# GrowthBook's stats engine (gbstats, packages/stats/tests/frequentist/test_tests.py,
# TestSequentialTTest) publishes two worked examples of its SequentialTwoSidedTTest, the
# same normal-mixture confidence sequence (Waudby-Smith et al. 2023, eq. 9). They are of
# the relative lift, whose estimate and delta-method variance are computed here as there.


def relative_lift(mean_a, var_a, n_a, mean_b, var_b, n_b):
    estimate = (mean_b - mean_a) / mean_a
    variance = var_b / (mean_a**2 * n_b) + var_a * mean_b**2 / (mean_a**4 * n_a)
    return estimate, variance


def test_sequential_interval_equals_growthbooks_published_example_of_means():
    # stat_a = SampleMeanStatistic(sum=1396.87, sum_squares=52377.9767, n=3000), stat_b
    # (2422.7, 134698.29, 3461), tuning 1000: ci (-0.55844, 1.56516), p-value 1.
    mean_a, mean_b = 1396.87 / 3000, 2422.7 / 3461
    var_a = (52377.9767 - 1396.87**2 / 3000) / 2999
    var_b = (134698.29 - 2422.7**2 / 3461) / 3460
    estimate, variance = relative_lift(mean_a, var_a, 3000, mean_b, var_b, 3461)
    half = seq.half_width(variance, 6461, tuning=1000)
    assert round(estimate - half, 5) == -0.55844
    assert round(estimate + half, 5) == 1.56516
    assert seq.p_value(estimate, variance, 6461, tuning=1000) == 1


def test_sequential_interval_equals_growthbooks_published_example_of_proportions():
    # ProportionStatistic(sum=1396, n=3000) against (2422, 3461), default tuning 5000:
    # ci (0.40098, 0.60675), p-value 0.0 (rounded).
    rate_a, rate_b = 1396 / 3000, 2422 / 3461
    estimate, variance = relative_lift(
        rate_a, rate_a * (1 - rate_a), 3000, rate_b, rate_b * (1 - rate_b), 3461
    )
    half = seq.half_width(variance, 6461)
    assert (round(estimate - half, 5), round(estimate + half, 5)) == (0.40098, 0.60675)
    assert round(seq.p_value(estimate, variance, 6461), 5) == 0.0


def confseq_two_sided_normal_mixture_bound(v, alpha, v_opt, alpha_opt=0.05):
    """Howard's reference (confseq 0.0.11, uniform_boundaries.h, TwoSidedNormalMixture):
    the bound on |S_t| at intrinsic time v, tuned to be tightest at v_opt (eq. 14)."""
    rho = v_opt / (2 * math.log(1 / alpha_opt) + math.log(1 + 2 * math.log(1 / alpha_opt)))
    return math.sqrt((v + rho) * (math.log(1 + v / rho) + 2 * math.log(1 / alpha)))


@pytest.mark.parametrize("total", [2, 50, 1000, 5000, 6461, 100_000])
@pytest.mark.parametrize("tuning", [1000, 5000])
def test_sequential_boundary_equals_howards_normal_mixture(total, tuning):
    # On the standardized scale intrinsic time is the number of subjects: the bound on
    # the sum, divided by sqrt(total), is the critical |z|.
    expected = confseq_two_sided_normal_mixture_bound(total, 0.05, tuning) / math.sqrt(total)
    assert seq.boundary(total, tuning=tuning) == pytest.approx(expected, rel=1e-12)


def test_the_p_value_and_the_interval_agree():
    for xa, na, xb, nb in COUNTS:
        test = seq.sequential_test(Proportion(xa, na), Proportion(xb, nb))
        excludes_zero = test.lower > 0 or test.upper < 0
        assert test.significant == excludes_zero
