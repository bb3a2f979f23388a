"""The fixed-horizon two-proportion z-test and its sample size (kept for callers of 0.x).

Verdicts use :mod:`onboarding.experiments`, whose default is the always-valid
sequential test; this z-test is valid only at a sample size fixed in advance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

ALPHA = 0.05
POWER = 0.8


@dataclass(frozen=True)
class ZTest:
    """B's rate minus A's (a proportion, not points), its z score and two-sided p-value."""

    rate_a: float
    rate_b: float
    difference: float
    z: float
    p_value: float


def two_proportion_z_test(successes_a: int, total_a: int, successes_b: int, total_b: int) -> ZTest:
    """Pooled two-proportion z-test of ``successes_b / total_b`` against A's rate.

    With no variation at all (both rates 0 or both 1) there is no evidence of a
    difference: z is 0 and the p-value 1.
    """
    for name, successes, total in (("A", successes_a, total_a), ("B", successes_b, total_b)):
        if total < 1 or not 0 <= successes <= total:
            raise ValueError(
                f"Variant {name} needs 0 <= successes <= total and total >= 1, "
                f"not {successes} of {total}."
            )
    rate_a, rate_b = successes_a / total_a, successes_b / total_b
    pooled = (successes_a + successes_b) / (total_a + total_b)
    error = math.sqrt(pooled * (1 - pooled) * (1 / total_a + 1 / total_b))
    if error == 0:
        return ZTest(rate_a, rate_b, rate_b - rate_a, 0.0, 1.0)
    z = (rate_b - rate_a) / error
    # erfc keeps precision in the far tail, where 1 - cdf(z) would round to 0.
    return ZTest(rate_a, rate_b, rate_b - rate_a, z, math.erfc(abs(z) / math.sqrt(2)))


def sample_size_per_variant(
    rate_a: float, rate_b: float, *, alpha: float = ALPHA, power: float = POWER
) -> int | None:
    """Subjects per variant to detect ``rate_a`` vs ``rate_b`` (two-sided, equal groups).

    The usual normal-approximation formula (Fleiss, without continuity correction):
    ``n = (z(1-alpha/2) * sqrt(2 p (1-p)) + z(power) * sqrt(pa (1-pa) + pb (1-pb)))^2
    / (pa - pb)^2`` with ``p`` the mean rate. ``None`` when the rates are equal.
    """
    if rate_a == rate_b:
        return None
    normal = NormalDist()
    z_alpha, z_power = normal.inv_cdf(1 - alpha / 2), normal.inv_cdf(power)
    mean = (rate_a + rate_b) / 2
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(
        rate_a * (1 - rate_a) + rate_b * (1 - rate_b)
    )
    return math.ceil(spread**2 / (rate_a - rate_b) ** 2)
